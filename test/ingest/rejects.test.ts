/**
 * Bad input is never fatal and never silently dropped: truncated, binary, 1 MB long, invalid
 * addresses, lines and files of unknown formats are counted, and each is written to the
 * rejects file with its reason and place; the run exits 0. What does stop a run (exit 2) is a
 * bad argument or a file that cannot be read.
 */
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { runCli, ingestJson } from './helpers/cli.ts';

let t: TestDb;
const dir = mkdtempSync(join(tmpdir(), 'ipms-rejects-'));

beforeAll(async () => {
  t = await freshDatabase('ingest_rejects');
});
afterAll(async () => t?.close());

const GOOD1 = '2008-12-17-01:11:47.6209 tcp(6) - 82.154.64.174 34507 192.168.1.50 445: 40 RA';
const GOOD2 = '2008-12-14-09:04:38.2678 icmp(1) - 80.236.5.27 192.168.1.50: 3(13): 56';

describe('bad lines', () => {
  it('are counted, kept with their reason in the rejects file, and the run goes on (exit 0)', async () => {
    const f = join(dir, 'mixed.log');
    const long = `2008-12-17-01:11:47.6209 tcp(6) - ${'9'.repeat(1024 * 1024)}`;
    const binary = Buffer.concat([Buffer.from('2008-12-17-01:11:47.6209 tcp(6) - 82.154.64.174 '), Buffer.from([0xff, 0xfe, 0x00, 0x81]), Buffer.from(' 1 2 3\n')]);
    writeFileSync(
      f,
      Buffer.concat([
        Buffer.from(`${GOOD1}\n`),
        Buffer.from(`${GOOD1.slice(0, 50)}\n`), // truncated
        binary,
        Buffer.from(`${long}\n`),
        Buffer.from('2008-12-17-01:11:47.6209 tcp(6) - 82.154.64.300 34507 192.168.1.50 445: 40 RA\n'), // invalid address
        Buffer.from('2008-12-17-01:11:47.6209 tcp(6) X what is this\n'), // unknown line shape
        Buffer.from(`${GOOD2}\n`),
      ]),
    );
    const rejects = join(dir, 'mixed.rejects');
    const s = await ingestJson(t.url, ['--sensor', 'bad', '--tz', 'UTC', '--state-dir', dir, '--rejects', rejects, f]);
    expect(s.counts).toMatchObject({ lines: 7, rejected: 5, inserted: 2 });
    const entries = readFileSync(rejects, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string | number>);
    expect(entries.map((e) => [e.line, e.code])).toEqual([
      [2, 'malformed'],
      [3, 'binary'],
      [4, 'too-long'],
      [5, 'bad-address'],
      [6, 'malformed'],
    ]);
    expect(entries[0]!.reason).toMatch(/truncated/);
    expect(entries[2]!.reason).toMatch(/line of 1048\d{3} bytes exceeds/);
    expect(String(entries[2]!.text).length).toBeLessThanOrEqual(4096);
    expect(entries[3]!.reason).toMatch(/82\.154\.64\.300/);
    for (const e of entries) expect(e).toMatchObject({ file: f, sensor: 'bad' });
    expect(entries.every((e) => typeof e.offset === 'number' && /^[0-9a-f]{32}$/.test(String(e.event)))).toBe(true);
    const rows = await t.db.rows<{ raw: string }>("SELECT raw FROM SensorLogView WHERE sensor = 'bad' ORDER BY id");
    expect(rows.map((r) => r.raw)).toEqual([GOOD1, GOOD2]);
  });

  it('keeps payload bytes that are not UTF-8 as \\xNN instead of refusing the line', async () => {
    const f = join(dir, 'telnet.log');
    const head = '2006-10-08-04:53:40.1234 tcp(6) 10.99.0.2 4999 10.99.1.10 23: ';
    writeFileSync(f, Buffer.concat([
      Buffer.from(`${head}|Attempted login: `), Buffer.from([0xff, 0xfb, 0x1f]), Buffer.from('a/secret1|\n'),
      Buffer.from(`${head}|caf`), Buffer.from([0xe9]), Buffer.from('|\n'),
    ]));
    const s = await ingestJson(t.url, ['--sensor', 'telnet', '--format', 'service-log', '--tz', 'UTC', '--state-dir', dir, f]);
    expect(s.counts).toMatchObject({ lines: 2, payloads: 2, rejected: 0 });
    const rows = await t.db.rows<{ payload: string }>(
      "SELECT d.payload FROM Data d JOIN Sensor s ON s.id = d.sensor_id WHERE s.name = 'telnet' ORDER BY d.id");
    expect(rows.map((r) => r.payload)).toEqual(['Attempted login: \\xFF\\xFB\x1fa/secret1', 'caf\\xE9']);
  });

  it('refuses a time that DATETIME cannot hold once in UTC, rather than storing a zero date', async () => {
    const f = join(dir, 'y9999.log');
    writeFileSync(f, '9999-12-31-23:00:00.0000 tcp(6) S 82.154.64.174 34507 192.168.1.50 445\n' +
      '2008-12-17-01:11:47.6209 tcp(6) S 82.154.64.174 34508 192.168.1.50 445\n');
    const rejects = join(dir, 'y9999.rejects');
    const s = await ingestJson(t.url, ['--sensor', 'y9999', '--tz', 'America/New_York', '--state-dir', dir, '--rejects', rejects, f]);
    expect(s.counts).toMatchObject({ lines: 2, rejected: 1, inserted: 1 });
    expect(JSON.parse(readFileSync(rejects, 'utf8').trim()) as { code: string; reason: string }).toMatchObject({ code: 'bad-time', reason: expect.stringMatching(/outside the years 1000-9999/) });
  });

  it('a file of no known format is refused line by line with the reason, not fatal', async () => {
    const f = join(dir, 'unknown.txt');
    writeFileSync(f, 'hello\nthis is not a honeyd log\n\u0001\u0002\n');
    const rejects = join(dir, 'unknown.rejects');
    const r = await runCli(['--database-url', t.url, 'ingest', '--sensor', 'unk', '--tz', 'UTC', '--state-dir', dir, '--rejects', rejects, f]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/3 rejected/);
    const entries = readFileSync(rejects, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string });
    expect(entries).toHaveLength(3);
    for (const e of entries) expect(e.reason).toMatch(/unknown format: .*honeyd/);
  });
});

describe('what stops a run', () => {
  const base = () => ['--database-url', t.url, 'ingest', '--tz', 'UTC', '--state-dir', dir];
  it('bad arguments and unreadable files: exit 2 and one line', async () => {
    const cases: [string[], RegExp][] = [
      [[...base(), join(dir, 'nope.log')], /--sensor/],
      [[...base(), '--sensor', 'x'], /at least one log file/],
      [[...base(), '--sensor', 'x', join(dir, 'does-not-exist.log')], /cannot read .*does-not-exist\.log: ENOENT/],
      [[...base(), '--sensor', 'x', '--tz', 'Mars/Olympus', join(dir, 'unknown.txt')], /unknown time zone/],
      [[...base(), '--sensor', 'x', '--honeypot-net', '10.0.0.1/8', join(dir, 'unknown.txt')], /host bits set/],
      [[...base(), '--sensor', 'x', '--honeyd-config', join(dir, 'none.conf'), join(dir, 'unknown.txt')], /cannot read --honeyd-config/],
      [[...base(), '--sensor', 'x', '--flush-ms', '900', join(dir, 'unknown.txt')], /--flush-ms/],
      // the names every other command takes (sensors show, rules list --sensor)
      [[...base(), '--sensor', 'bad!name', join(dir, 'unknown.txt')], /--sensor: 'bad!name' must be 1-64 letters, digits/],
    ];
    mkdirSync(join(dir, 'adir'), { recursive: true });
    cases.push([[...base(), '--sensor', 'x', join(dir, 'adir')], /not a regular file|EISDIR/]);
    for (const [args, msg] of cases) {
      const r = await runCli(args);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(2);
      expect(r.err, args.join(' ')).toMatch(msg);
    }
    // nothing was changed: not even the sensor's registration
    const r = await runCli([...base(), '--sensor', 'never-read', join(dir, 'does-not-exist.log')]);
    expect(r.code).toBe(2);
    expect(await t.db.rows("SELECT id FROM Sensor WHERE name = 'never-read'")).toEqual([]);
  });
});
