/** `ipms db prune`: retention of hits, payload lines, long-closed rules and audit entries. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prune } from '../../lib/queries/prune.ts';
import { ipms } from '../helpers/cli.ts';
import { freshDatabase, type TestDb } from '../helpers/db.ts';

let t: TestDb;
beforeAll(async () => {
  t = await freshDatabase('cli_prune');
  await t.db.exec("INSERT INTO Sensor (name) VALUES ('s1'), ('s2')");
  await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('fw', '10.9.9.9', 'nftables', 'dry-run')");
});
afterAll(async () => t.close());

const count = async (sql: string) => Number((await t.db.rows<{ n: number }>(sql))[0]!.n);

/** Hits and payload lines of both sensors, `days` ago in event time (kind 'end': nothing counted). */
async function logs(days: number, n: number) {
  for (const sensor of [1, 2]) {
    const vals = Array.from({ length: n }, () => `(${sensor}, UTC_TIMESTAMP(3) - INTERVAL ${days} DAY, 'end', 'tcp', INET6_ATON('203.0.113.9'), INET6_ATON('192.168.2.1'))`);
    await t.db.exec(`INSERT INTO SensorLog (sensor_id, ts, kind, proto, src_ip, dst_ip) VALUES ${vals.join(',')}`);
    await t.db.exec(
      `INSERT INTO Data (sensor_id, ts, payload) VALUES (${sensor}, UTC_TIMESTAMP(3) - INTERVAL ${days} DAY, 'GET /')`,
    );
  }
}

/**
 * A rule in the given state since `days` ago (written whole: Rule_before_update stamps
 * updated_at with the present), with the fw device's row in state `rd` (or none).
 */
async function rule(src: string, status: string, days: number, rd?: string) {
  const r = await t.db.exec(
    `INSERT INTO Rule (src_ip, origin, status, targeted, created_at) VALUES (INET6_ATON(?), 'manual', ?, 1, UTC_TIMESTAMP(3) - INTERVAL ? DAY)`,
    [src, status, days],
  );
  if (rd) {
    await t.db.exec('INSERT INTO RuleDevice (rule_id, device_id, desired, state) VALUES (?, 1, ?, ?)',
      [r.insertId, ['pending', 'active'].includes(status) ? 'present' : 'absent', rd]);
  }
  return r.insertId;
}

describe('ipms db prune', () => {
  it('deletes only what it is asked for, what is older than asked, and never a rule still on a device', async () => {
    await logs(120, 30);
    await logs(10, 7);
    const oldRemoved = await rule('198.51.100.1', 'dropped', 400, 'removed');
    const oldNoDevice = await rule('198.51.100.2', 'expired', 400);
    const stillLeaving = await rule('198.51.100.3', 'dropped', 400, 'pending');
    const recentDrop = await rule('198.51.100.4', 'dropped', 10, 'removed');
    const oldActive = await rule('198.51.100.5', 'active', 400, 'applied');
    const oldDisabled = await rule('198.51.100.6', 'disabled', 400, 'removed');
    await t.db.exec("INSERT INTO AuditLog (at, who, via, action) VALUES (UTC_TIMESTAMP(3) - INTERVAL 800 DAY, 'old', 'cli', 'rule.add'), (UTC_TIMESTAMP(3), 'new', 'cli', 'rule.add')");

    const none = await ipms(t.url, 'db', 'prune');
    expect([none.code, none.err]).toEqual([2, 'ipms: say what to prune: --logs AGE, --rules AGE and/or --audit AGE (nothing is deleted by default)']);
    expect((await ipms(t.url, 'db', 'prune', '--logs', 'ninety days')).code).toBe(2);

    const dry = await ipms(t.url, 'db', 'prune', '--logs', '90d', '--rules', '365d', '--audit', '730d', '--dry-run', '--json');
    expect(dry.code, dry.err).toBe(0);
    expect(dry.json()).toMatchObject({ dryRun: true, sensorlog: 60, data: 2, rules: 2, audit: 1 });
    expect(await count('SELECT COUNT(*) AS n FROM SensorLog')).toBe(74);

    const logsOnly = await ipms(t.url, 'db', 'prune', '--logs', '90d');
    expect(logsOnly.out).toMatch(/^prune: deleted 60 log rows \(hits, connection ends, markers\) and 2 payload lines before \d{4}-\d\d-\d\dT/);
    expect(await count('SELECT COUNT(*) AS n FROM SensorLog')).toBe(14);
    expect(await count('SELECT COUNT(*) AS n FROM Data')).toBe(2);
    expect(await count('SELECT COUNT(*) AS n FROM Rule')).toBe(6);

    const rest = await ipms(t.url, 'db', 'prune', '--rules', '365d', '--audit', '730d', '--json');
    expect(rest.json()).toMatchObject({ dryRun: false, sensorlog: 0, data: 0, rules: 2, audit: 1 });
    const left = (await t.db.rows<{ id: number }>('SELECT id FROM Rule ORDER BY id')).map((r) => r.id);
    expect(left).toEqual([stillLeaving, recentDrop, oldActive, oldDisabled]);
    expect(left).not.toContain(oldRemoved);
    expect(left).not.toContain(oldNoDevice);
    expect(await count(`SELECT COUNT(*) AS n FROM RuleDevice WHERE rule_id IN (${oldRemoved}, ${oldNoDevice})`)).toBe(0);
    // each run that deleted is in the audit log, with its report
    const audit = await t.db.rows<{ who: string; action: string; detail: string }>("SELECT who, action, detail FROM AuditLog WHERE action = 'db.prune' ORDER BY id");
    expect(audit).toHaveLength(2);
    expect(JSON.parse(audit[1]!.detail)).toMatchObject({ rules: 2, audit: 1 });
    expect(await count("SELECT COUNT(*) AS n FROM AuditLog WHERE who = 'old'")).toBe(0);
  });

  it('keeps the dropped rule of a blacklist entry still there: a feed listing it again does not block it again', async () => {
    await t.db.exec("INSERT INTO Blacklist (cidr) VALUES ('198.51.100.7'), ('198.51.100.8')");
    const id = async (ip: string) => (await t.db.rows<{ id: number }>('SELECT id FROM Rule WHERE src_ip = INET6_ATON(?)', [ip]))[0]!.id;
    await t.db.exec("UPDATE Rule SET status = 'dropped' WHERE id = ?", [await id('198.51.100.7')]);
    await t.db.exec("UPDATE Rule SET status = 'expired' WHERE id = ?", [await id('198.51.100.8')]);
    // (both taken off the devices by the worker)
    await t.db.exec("UPDATE RuleDevice SET state = 'removed' WHERE rule_id IN (?, ?)", [await id('198.51.100.7'), await id('198.51.100.8')]);
    await new Promise((r) => setTimeout(r, 20));
    const r = await prune(t.db, { rulesS: 0 });
    expect(r.rules).toBeGreaterThanOrEqual(1);
    expect(await count("SELECT COUNT(*) AS n FROM Rule WHERE src_ip = INET6_ATON('198.51.100.7') AND status = 'dropped'")).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM Rule WHERE src_ip = INET6_ATON('198.51.100.8')")).toBe(0);
    const again = await ipms(t.url, 'blacklist', 'add', '198.51.100.7', '--expire', '1d');
    expect(again.out).toBe('blacklist: renewed 198.51.100.7/32');
    expect(await count("SELECT COUNT(*) AS n FROM Rule WHERE src_ip = INET6_ATON('198.51.100.7')")).toBe(1);
  });

  it('goes a chunk of keys at a time and stops when nothing is left', async () => {
    await logs(200, 25);
    const r = await prune(t.db, { logsS: 150 * 86400, chunk: 7 });
    expect([r.sensorlog, r.data]).toEqual([50, 2]);
    expect(await count('SELECT COUNT(*) AS n FROM SensorLog WHERE ts < UTC_TIMESTAMP() - INTERVAL 150 DAY')).toBe(0);
    expect(await count('SELECT COUNT(*) AS n FROM SensorLog')).toBe(14);
  });
});
