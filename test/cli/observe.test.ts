import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { ipms } from '../helpers/cli.ts';
import { burst, insertHits } from '../helpers/hits.ts';

let t: TestDb;
const recent = (minAgo: number) => new Date(Date.now() - minAgo * 60_000).toISOString().replace('T', ' ').replace('Z', '');

beforeAll(async () => {
  t = await freshDatabase('cli_observe');
});
afterAll(async () => t.close());

describe('sensors and thresholds', () => {
  it('adds, lists (silent ones stand out), shows and removes sensors', async () => {
    expect((await ipms(t.url, 'sensors', 'add', 'dmz-1', '--address', '192.0.2.50')).code).toBe(0);
    expect((await ipms(t.url, 'sensors', 'add', 'lab')).code).toBe(0);
    expect((await ipms(t.url, 'sensors', 'add', 'lab')).code).toBe(5);
    expect((await ipms(t.url, 'sensors', 'add', 'bad name!')).code).toBe(2);
    const long = await ipms(t.url, 'sensors', 'add', 'wordy', '--description', 'x'.repeat(300));
    expect([long.code, long.err]).toEqual([2, 'ipms: the description is too long for the database column']);
    // a management address given later than a rule over it: the rule is dropped, and said so
    await t.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('198.18.7.0'), 24, 'manual')");
    const mgmt = await ipms(t.url, 'sensors', 'add', 'edge-1', '--address', '198.18.7.7');
    expect(mgmt.out.split('\n')[1]).toMatch(/^rule \d+ \(198\.18\.7\.0\/24\): dropped, 198\.18\.7\.7 is sensor edge-1's address$/);
    // a sensor the ingest registered has no address: it is given one later, the same way
    await t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.18.7.8'), 'manual')");
    const later = await ipms(t.url, 'sensors', 'set', 'edge-1', '--address', '198.18.7.8', '--description', 'rack 4');
    expect(later.out).toMatch(/^sensor edge-1: changed\nrule \d+ \(198\.18\.7\.8\): dropped, 198\.18\.7\.8 is sensor edge-1's address$/);
    expect((await ipms(t.url, 'sensors', 'show', 'edge-1', '--json')).json<Record<string, unknown>>())
      .toMatchObject({ address: '198.18.7.8', description: 'rack 4' });
    expect((await ipms(t.url, 'sensors', 'set', 'edge-1')).code).toBe(2);
    expect((await ipms(t.url, 'sensors', 'set', 'nobody', '--address', 'none')).code).toBe(4);
    expect((await ipms(t.url, 'sensors', 'set', 'edge-1', '--address', 'none')).code).toBe(0);
    expect((await ipms(t.url, 'sensors', 'remove', 'edge-1')).code).toBe(0);
    await t.db.exec("DELETE FROM Rule WHERE src_ip = INET6_ATON('198.18.7.8')");
    await t.db.exec("DELETE FROM Rule WHERE src_ip = INET6_ATON('198.18.7.0')");
    await insertHits(t.db, burst(3, { sensor: 1, ts: recent(5), src: '203.0.113.9' }));
    const list = (await ipms(t.url, 'sensors', 'list', '--json')).json<{ name: string; events_24h: number; silent: boolean; address: string | null }[]>();
    expect(list.map((s) => [s.name, s.address, s.events_24h, s.silent])).toEqual([['dmz-1', '192.0.2.50', 3, false], ['lab', null, 0, true]]);
    const table = await ipms(t.url, 'sensors', 'list');
    expect(table.out.split('\n')[2]).toMatch(/^lab\s+-\s+never\s+0\s+0\s+SILENT$/);
    expect((await ipms(t.url, 'sensors', 'remove', 'dmz-1')).code).toBe(5);
    expect((await ipms(t.url, 'sensors', 'remove', 'lab')).out).toBe('sensor lab: removed');
    expect((await ipms(t.url, 'sensors', 'show', 'lab')).code).toBe(4);
  });

  it("approves and revokes ranges for a sensor's honeypots, audited", async () => {
    expect((await ipms(t.url, 'sensors', 'add', 'hp-1', '--honeypot-net', '198.18.40.0/29')).out)
      .toBe('sensor hp-1: added (id ' + (await t.db.rows<{ id: number }>("SELECT id FROM Sensor WHERE name = 'hp-1'"))[0]!.id +
        ')\nsensor hp-1: honeypot ranges approved: 198.18.40.0/29');
    const id = (await t.db.rows<{ id: number }>("SELECT id FROM Sensor WHERE name = 'hp-1'"))[0]!.id;
    // what the sensor registers itself: one honeypot inside the range, one outside
    await t.db.exec("INSERT INTO VirtHost (sensor_id, address) VALUES (?, INET6_ATON('198.18.40.5')), (?, INET6_ATON('198.18.41.5'))", [id, id]);
    await t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.18.41.5'), 'manual')");
    let shown = (await ipms(t.url, 'sensors', 'show', 'hp-1', '--json')).json<Record<string, unknown>>();
    expect(shown).toMatchObject({ honeypots: 2, honeypots_unapproved: 1, honeypot_nets: ['198.18.40.0/29'] });
    expect((await ipms(t.url, 'sensors', 'list')).out).toMatch(/\nhp-1\s+-\s+never\s+0\s+2\s+1\s+SILENT/);
    const ok = await ipms(t.url, 'sensors', 'approve', 'hp-1', '198.18.41.0/24', '198.18.40.0/29', '--comment', 'lab net');
    expect([ok.code, ok.out]).toEqual([0, [
      'sensor hp-1: honeypot range 198.18.41.0/24 approved',
      'sensor hp-1: honeypot range 198.18.40.0/29 was approved already',
      'sensor hp-1: 1 honeypot address(es) protected from now on',
    ].join('\n')]);
    // the rule over the honeypot that is protected now was dropped
    expect((await t.db.rows<{ status: string }>("SELECT status FROM Rule WHERE src_ip = INET6_ATON('198.18.41.5')"))[0]!.status).toBe('dropped');
    for (const [args, code, err] of [
      [['sensors', 'approve', 'hp-1', '198.18.41.1/24'], 2, /host bits|not a network|198\.18\.41\.1\/24/],
      [['sensors', 'approve', 'hp-1', '10.0.0.0/7'], 2, /^ipms: range 10\.0\.0\.0\/7: wider than \/8 is not a honeypot range$/],
      [['sensors', 'approve', 'nobody', '10.0.0.0/24'], 4, /^ipms: sensor nobody does not exist$/],
      [['sensors', 'revoke', 'hp-1', '10.0.0.0/24'], 4, /^ipms: sensor hp-1 has no approved range 10\.0\.0\.0\/24 \(approved: 198\.18\.40\.0\/29, 198\.18\.41\.0\/24\)$/],
    ] as const) {
      const r = await ipms(t.url, ...args);
      expect([r.code, r.err], args.join(' ')).toEqual([code, expect.stringMatching(err)]);
    }
    // a range the database writes in other words than the CLI is revoked by its range
    expect((await ipms(t.url, 'sensors', 'approve', 'hp-1', '::102:300/120')).code).toBe(0);
    expect((await ipms(t.url, 'sensors', 'revoke', 'hp-1', '::102:300/120')).code).toBe(0);
    const rv = await ipms(t.url, 'sensors', 'revoke', 'hp-1', '198.18.41.0/24', '--json');
    expect(rv.json()).toEqual({ revoked: ['198.18.41.0/24'], honeypots: 1 });
    shown = (await ipms(t.url, 'sensors', 'show', 'hp-1', '--json')).json<Record<string, unknown>>();
    expect(shown).toMatchObject({ honeypots_unapproved: 1, honeypot_nets: ['198.18.40.0/29'], honeypots_waiting: ['198.18.41.5'] });
    expect((await ipms(t.url, 'status')).out).toContain('honeypots waiting for approval: hp-1: 1 (not protected from blocking; ipms sensors show hp-1)');
    const w = (await ipms(t.url, 'why', '198.18.41.5', '--json')).json<{ verdict: string; honeypot_of: unknown[] }>();
    expect(w.honeypot_of).toEqual([{ sensor: 'hp-1', approved: false }]);
    expect(w.verdict).toMatch(/; it is a honeypot of hp-1 outside the approved ranges \(ipms sensors approve hp-1 CIDR\)$/);
    // an approved range is whitelisted with it, and goes with its approval only
    const wl = await ipms(t.url, 'whitelist', 'remove', '198.18.40.0/29');
    expect([wl.code, wl.err]).toEqual([5, "ipms: whitelist entry 198.18.40.0/29 is sensor hp-1's approved honeypot range: ipms sensors revoke hp-1 198.18.40.0/29"]);
    const audit = await t.db.rows<{ action: string; via: string }>("SELECT action, via FROM AuditLog WHERE target = 'sensor hp-1' ORDER BY id");
    expect(audit.map((a) => a.action)).toEqual(['sensor.add', 'sensor.approve', 'sensor.approve', 'sensor.approve', 'sensor.revoke', 'sensor.revoke']);
    expect(new Set(audit.map((a) => a.via))).toEqual(new Set(['cli']));
    await t.db.exec("DELETE FROM Rule WHERE src_ip = INET6_ATON('198.18.41.5')");
    // removed, the sensor takes its approved ranges' whitelist entries with it
    expect((await ipms(t.url, 'sensors', 'remove', 'hp-1')).code).toBe(0);
    expect(await t.db.rows("SELECT cidr FROM Whitelist WHERE created_by = 'ipms-honeypots'")).toEqual([]);
  });

  it('edits the same Threshold rows a DBA edits, with validation', async () => {
    const add = await ipms(t.url, 'thresholds', 'add', 'ssh', 'proto=tcp', 'dst_port=22', 'group_by=src_dport', 'window=1m', 'max_hits=5', 'duration=1h');
    expect([add.code, add.out]).toEqual([0, 'threshold ssh: added: 5 hits / 1m of tcp to port 22 per src_dport, DROP for 1h']);
    const [row] = await t.db.rows<Record<string, unknown>>("SELECT proto, dst_port, group_by, window_s, max_hits, duration_s, enabled FROM Threshold WHERE name = 'ssh'");
    expect(row).toEqual({ proto: 'tcp', dst_port: 22, group_by: 'src_dport', window_s: 60, max_hits: 5, duration_s: 3600, enabled: 1 });
    expect((await ipms(t.url, 'thresholds', 'set', 'ssh', 'max_hits=7', 'duration=never')).code).toBe(0);
    expect((await ipms(t.url, 'thresholds', 'disable', 'ssh')).out).toBe('threshold ssh: disabled');
    const list = (await ipms(t.url, 'thresholds', 'list', '--json')).json<{ name: string; max_hits: number; duration_s: number | null; enabled: boolean }[]>();
    expect(list.find((x) => x.name === 'ssh')).toMatchObject({ max_hits: 7, duration_s: null, enabled: false });
    for (const bad of [['max_hits=0'], ['window=fortnight'], ['proto=smtp'], ['colour=red'], ['max_hits']]) {
      const r = await ipms(t.url, 'thresholds', 'set', 'ssh', ...bad);
      expect(r.code, bad.join()).toBe(2);
      expect(r.err.split('\n')).toHaveLength(1);
    }
    expect((await ipms(t.url, 'thresholds', 'set', 'nope', 'max_hits=3')).code).toBe(4);
    // a port with a protocol without ports would count nothing: refused, in the CLI and in SQL
    const icmp = await ipms(t.url, 'thresholds', 'set', 'ssh', 'proto=icmp');
    expect([icmp.code, icmp.err]).toEqual([2, 'ipms: a threshold with dst_port counts tcp, udp, sctp, udplite or dccp (or any protocol): set proto to one of them, or dst_port=any']);
    await expect(t.db.exec("UPDATE Threshold SET proto = 'icmp' WHERE name = 'ssh'")).rejects.toThrow(/a threshold with dst_port counts tcp/);
    expect((await ipms(t.url, 'thresholds', 'set', 'ssh', 'window=5w')).err).toBe('ipms: threshold window: at most 31d');
    expect((await ipms(t.url, 'thresholds', 'set', 'ssh', 'proto=icmp', 'dst_port=any')).code).toBe(0);
    expect((await ipms(t.url, 'thresholds', 'set', 'ssh', 'proto=tcp', 'dst_port=22')).code).toBe(0);
    // one given no values is the table's defaults, and says so; removed, its rules stay
    expect((await ipms(t.url, 'thresholds', 'add', 'plain')).out).toBe('threshold plain: added: 50 hits / 1s of any per src, DROP until dropped');
    await t.db.exec("INSERT INTO Rule (src_ip, origin, threshold_id, reason) SELECT INET6_ATON('198.51.100.230'), 'threshold', id, 'threshold plain' FROM Threshold WHERE name = 'plain'");
    expect((await ipms(t.url, 'thresholds', 'remove', 'plain')).out).toBe('threshold plain: removed');
    expect(await t.db.rows("SELECT threshold_id, reason, status FROM Rule WHERE src_ip = INET6_ATON('198.51.100.230')"))
      .toEqual([{ threshold_id: null, reason: 'threshold plain', status: 'pending' }]);
    expect((await ipms(t.url, 'thresholds', 'remove', 'plain')).code).toBe(4);
    await t.db.exec("UPDATE Rule SET status = 'dropped' WHERE src_ip = INET6_ATON('198.51.100.230')");
  });
});

describe('logs, why, status, check', () => {
  it('shows records with their payload lines, escaped', async () => {
    const [l] = await t.db.rows<{ id: number }>("SELECT id FROM SensorLog ORDER BY id DESC LIMIT 1");
    await t.db.exec("INSERT INTO Data (sensorlog_id, sensor_id, ts, source, payload) VALUES (?, 1, UTC_TIMESTAMP(3), 'service', ?)", [l!.id, 'USER root\r\n<script>alert(1)</script>\x1b[2J']);
    const r = await ipms(t.url, 'logs', '--sensor', 'dmz-1', '--limit', '1');
    expect(r.out).toMatch(/^\S+Z {2}dmz-1 {2}start tcp {2}203\.0\.113\.9:40000 -> 192\.168\.2\.1:1080\n {4}\| USER root\\r\\n<script>alert\(1\)<\/script>\\x1b\[2J$/);
    const j = (await ipms(t.url, 'logs', '--src', '203.0.113.0/24', '--json')).json<{ src: string; payload: unknown[] }[]>();
    expect(j).toHaveLength(3);
    expect(j[0]!.payload).toHaveLength(1);
    expect((await ipms(t.url, 'logs', '--src', '198.51.100.0/24', '--json')).json()).toEqual([]);
  });

  it('shows payloads the ingest linked by event id', async () => {
    await t.db.exec("INSERT INTO SensorLog (sensor_id, ts, src_ip, dst_ip, event_id) VALUES (1, UTC_TIMESTAMP(3), INET6_ATON('203.0.113.77'), INET6_ATON('192.168.2.1'), ?)", [Buffer.from('ev-77')]);
    await t.db.exec("INSERT INTO Data (sensor_id, ts, source, script, payload, file_path, sensorlog_event_id) VALUES (1, UTC_TIMESTAMP(3), 'script', 'mydoom.pl', 'file uploaded', '/var/mydoom/upload.1', ?)", [Buffer.from('ev-77')]);
    const [rec] = (await ipms(t.url, 'logs', '--src', '203.0.113.77', '--json')).json<{ payload: { text: string; file_path: string }[] }[]>();
    expect(rec!.payload).toEqual([expect.objectContaining({ text: 'file uploaded', file_path: '/var/mydoom/upload.1', script: 'mydoom.pl' })]);
  });

  it('explains a block and its absence', async () => {
    const under = await ipms(t.url, 'why', '203.0.113.9');
    expect(under.out.split('\n')[0]).toBe('203.0.113.9: not blocked: under threshold (3/50 for default)');
    await insertHits(t.db, burst(50, { ts: recent(1), src: '203.0.113.10' }));
    const blocked = (await ipms(t.url, 'why', '203.0.113.10', '--json')).json<{ verdict: string; rules: unknown[] }>();
    expect(blocked.verdict).toMatch(/^not blocked: rule \d+ \(threshold default\) is open but no device takes it$/);
    await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('fw9', 'fw9.example.net', 'nftables', 'dry-run')");
    expect((await ipms(t.url, 'why', '203.0.113.10')).out.split('\n')[0]).toMatch(/^203\.0\.113\.10: to be blocked by rule \d+ \(threshold default\): fw9 pending$/);
    await t.db.exec("UPDATE RuleDevice SET state = 'applied'");
    expect((await ipms(t.url, 'why', '203.0.113.10')).out.split('\n')[0]).toMatch(/^203\.0\.113\.10: blocked by rule \d+ \(threshold default\): fw9 applied$/);
    // a narrower manual rule on another address says what it blocks; a closed one says why not
    const ssh = (await ipms(t.url, 'rules', 'add', '203.0.113.11', '--dst-port', '22', '--json')).json<{ id: number }>();
    await t.db.exec("UPDATE RuleDevice SET state = 'applied'");
    expect((await ipms(t.url, 'why', '203.0.113.11')).out.split('\n')[0]).toBe(`203.0.113.11: blocked (only tcp port 22) by rule ${ssh.id} (manual): fw9 applied`);
    expect((await ipms(t.url, 'rules', 'drop', String(ssh.id))).code).toBe(0);
    expect((await ipms(t.url, 'why', '203.0.113.11')).out.split('\n')[0]).toBe(`203.0.113.11: not blocked: rule ${ssh.id} (manual) is dropped`);
    await t.db.exec("DELETE FROM Device WHERE name = 'fw9'");
    await t.db.exec('DELETE FROM Rule WHERE id = ?', [ssh.id]);
    await t.db.exec("UPDATE Rule SET status = 'pending' WHERE status = 'active'");
    expect((await ipms(t.url, 'why', '192.0.2.50')).out.split('\n')[0]).toBe('192.0.2.50: never blocked: protected by sensor dmz-1');
    expect((await ipms(t.url, 'why', '198.51.100.1')).out.split('\n')[0]).toBe('198.51.100.1: not blocked: no sensor has seen it');
  });

  it('reports status and works as a Nagios plugin', async () => {
    await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('fw1', 'fw1.example.net', 'nftables', 'dry-run')");
    const st = (await ipms(t.url, 'status', '--json')).json<{ rules: Record<string, number>; devices: { name: string; pending: number }[]; silent_sensors: string[] }>();
    expect(st.rules.pending).toBe(1);
    expect(st.devices).toMatchObject([{ name: 'fw1', pending: 1 }]);
    const ok = await ipms(t.url, 'check');
    expect([ok.code, ok.out]).toEqual([0, 'IPMS OK - 0 active, 1 pending rules | active=0 pending=1 failed=0;1;10 oldest_pending=0s;300;1800 silent_sensors=0']);
    await t.db.exec("UPDATE RuleDevice SET state = 'failed', last_error = 'connection refused', updated_at = UTC_TIMESTAMP(3) - INTERVAL 10 MINUTE");
    const warn = await ipms(t.url, 'check');
    expect(warn.code).toBe(1);
    expect(warn.out).toMatch(/^IPMS WARNING - a rule has waited 10m for a device; 1 failed on fw1 \| /);
    const crit = await ipms(t.url, 'check', '--crit-pending', '5m');
    expect(crit.code).toBe(2);
    // the same limits in one flag each
    const crit2 = await ipms(t.url, 'check', '--warn', 'pending=1m,failed=5', '--crit', 'pending=5m');
    expect([crit2.code, crit2.out]).toEqual([2, expect.stringMatching(/^IPMS CRITICAL - a rule has waited 10m for a device \| .* failed=1;5;10 oldest_pending=600s;60;300 /)]);
    // bad usage is UNKNOWN on stdout with exit 3, as monitoring expects of a plugin
    // repeated --warn flags add up
    const two = await ipms(t.url, 'check', '--warn', 'pending=1m', '--warn', 'failed=5', '--crit', 'pending=1h');
    expect([two.code, two.out]).toEqual([1, expect.stringMatching(/failed=1;5;10 oldest_pending=600s;60;3600 /)]);
    for (const args of [['--bogus'], ['--warn', 'pending=soon'], ['--crit', 'silent=1h'], ['--warn-failed', '0'], ['--warn', 'failed=1', '--warn', 'failed=2'], ['--config'],
      // limits the wrong way round: critical before warning
      ['--warn-pending', '5m', '--crit-pending', '1m'], ['--warn', 'failed=20']]) {
      const u = await ipms(t.url, 'check', ...args);
      expect([u.code, u.out.split('\n').length, u.err], args.join(' ')).toEqual([3, 1, '']);
      expect(u.out).toMatch(/^IPMS UNKNOWN - /);
    }
    const unknown = await ipms('mysql://x:y@127.0.0.1:1/ipms', 'check');
    expect([unknown.code, unknown.out]).toEqual([3, 'IPMS UNKNOWN - cannot reach the database at 127.0.0.1:1 (ECONNREFUSED)']);
    // an admin who wants an IPS without its database paged as such
    const critical = await ipms('mysql://x:y@127.0.0.1:1/ipms', 'check', '--unreachable', 'critical');
    expect([critical.code, critical.out]).toEqual([2, 'IPMS CRITICAL - cannot reach the database at 127.0.0.1:1 (ECONNREFUSED)']);
    const bad = await ipms(t.url, 'check', '--unreachable', 'warning');
    expect([bad.code, bad.out]).toEqual([3, expect.stringMatching(/^IPMS UNKNOWN - --unreachable/)]);
  });
});

describe('text from sensors and feeds', () => {
  it("lets no control character from a sensor's or a feed's text reach the terminal raw, whatever the output", async () => {
    // (a sensor's account writes these columns as it likes)
    await t.db.exec("INSERT INTO SensorLog (sensor_id, ts, proto, src_ip, dst_ip, tcp_flags, os) VALUES (1, UTC_TIMESTAMP(3), ?, INET6_ATON('203.0.113.67'), INET6_ATON('192.168.2.1'), ?, ?)",
      ['tcp\x1b[2K', 'S\x1b[1A', 'Linux\x1b]52;c;cm0gLXJmIH4=\x07']);
    const [l] = await t.db.rows<{ id: number }>("SELECT id FROM SensorLog WHERE src_ip = INET6_ATON('203.0.113.67')");
    await t.db.exec("INSERT INTO Data (sensorlog_id, sensor_id, ts, source, script, payload) VALUES (?, 1, UTC_TIMESTAMP(3), 'script', ?, 'x')", [l!.id, 'evil\x1b]0;pwn\x07.sh']);
    await t.db.exec("INSERT INTO Rule (src_ip, origin, reason) VALUES (INET6_ATON('203.0.113.68'), 'blacklist', ?)", ['feed SBL1\x1b]52;c;cm0=\x07\x1b[2K']);
    const [rule] = await t.db.rows<{ id: number }>("SELECT id FROM Rule WHERE src_ip = INET6_ATON('203.0.113.68')");
    for (const args of [['logs', '--src', '203.0.113.67'], ['rules', 'show', String(rule!.id)], ['rules', 'list', '--src', '203.0.113.68']]) {
      const r = await ipms(t.url, ...args);
      expect(r.code, r.err).toBe(0);
      expect(r.out + r.err, args.join(' ')).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
      if (args[0] !== 'rules' || args[1] === 'show') expect(r.out, args.join(' ')).toMatch(/\\x1b/);
    }
    // --json stays JSON, with every control character escaped as JSON does (DEL and C1 too)
    await t.db.exec("UPDATE Rule SET reason = ? WHERE id = ?", ['feed\u009b2J\x7f\x1b]0;x\x07', rule!.id]);
    const j = await ipms(t.url, 'rules', 'show', String(rule!.id), '--json');
    expect(j.out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(j.json<{ reason: string }>().reason).toBe('feed\u009b2J\x7f\x1b]0;x\x07');
  });
});
