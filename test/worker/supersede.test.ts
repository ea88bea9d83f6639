/**
 * A source blocked on one port (an `ssh` threshold) that then floods everything gets the
 * `default` rule for all its traffic; once that one is on every device, the narrow rule is
 * dropped (saying why), and the device keeps one entry for the source. Through the worker's own
 * database account (its grants from `ipms db grants`) and a dry-run device.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../lib/config.ts';
import { openDb, type Db } from '../../lib/db.ts';
import type { DeviceRow } from '../../lib/types.ts';
import { adapterFor } from '../../worker/adapters.ts';
import { transportFor } from '../../worker/target.ts';
import { Worker } from '../../worker/worker.ts';
import { ipms } from '../helpers/cli.ts';
import { freshDatabase, roleAccount, type TestDb } from '../helpers/db.ts';
import { burst, insertHits, rules } from '../helpers/hits.ts';

let t: TestDb;
let workerDb: Db;
let workerUrl: string;
const sent: string[] = [];
const deps = { adapterFor, transportFor: (d: DeviceRow) => transportFor(d, { print: (s) => sent.push(s), timeoutMs: 5000 }) };

beforeAll(async () => {
  t = await freshDatabase('supersede');
  workerUrl = await roleAccount(t, 'ipms_worker', 'ipms_t_supersede', 'supersede-pw');
  workerDb = openDb(parseDatabaseUrl(workerUrl), { poolSize: 2 });
  await t.db.exec("INSERT INTO Sensor (name) VALUES ('s1')");
  await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('fw', '192.0.2.250', 'nftables', 'dry-run')");
  await t.db.exec("INSERT INTO Threshold (name, proto, dst_port, group_by, window_s, max_hits) VALUES ('ssh', 'tcp', 22, 'src_dport', 60, 5)");
});

afterAll(async () => {
  await workerDb?.end();
  await t?.close();
});

describe("the worker's account", () => {
  it('records outcomes, but cannot say which rule or device a row is for, nor what it should be', async () => {
    await expect(workerDb.exec("UPDATE RuleDevice SET desired = 'absent' WHERE id = 0")).rejects.toThrow(/command denied/);
    await expect(workerDb.exec('UPDATE RuleDevice SET rule_id = 1 WHERE id = 0')).rejects.toThrow(/command denied/);
    await expect(workerDb.exec('UPDATE Rule SET src_ip = src_ip WHERE id = 0')).rejects.toThrow(/command denied/);
    await workerDb.exec("UPDATE RuleDevice SET state = 'pending', last_error = NULL WHERE id = 0");
  });

  it('db status says what it cannot see, rather than that nothing is migrated', async () => {
    const r = await ipms(workerUrl, 'db', 'status');
    expect([r.code, r.err]).toEqual([0, '']);
    expect(r.out).toMatch(/this account may not see the schema's history or its triggers .*; the last migration finished at \d{4}-/);
  });
});

describe('a worker account granted by an earlier version', () => {
  it('still records its batches where it may not write what this version adds (a reason, old_action)', async () => {
    // ipms_worker's grants before `reason` (supersede) and `old_action` (schema 0019)
    const oldUrl = await roleAccount(t, 'ipms_worker', 'ipms_t_oldgrants', 'oldgrants-pw', (grants) => grants.map(([privs, table]) =>
      [privs.replace('UPDATE (status, reason)', 'UPDATE (status)').replace(', old_action)', ')'), table]));
    const oldDb = openDb(parseDatabaseUrl(oldUrl), { poolSize: 2 });
    try {
      await expect(oldDb.exec('UPDATE RuleDevice SET old_action = NULL WHERE id = 0')).rejects.toThrow(/denied/);
      const w = new Worker(oldDb, deps);
      await insertHits(t.db, burst(5, { ts: '2026-01-01 16:00:30', src: '198.51.100.79', dstPort: 22 }));
      await insertHits(t.db, burst(50, { ts: '2026-01-01 16:00:31', src: '198.51.100.79', dstPort: 80 }));
      // the wide rule active: the narrow one would be dropped with a reason, which this account
      // cannot write; both stay, and the batch is recorded
      expect((await w.tick()).outcomes).toMatchObject([{ device: 'fw', applied: 2, failed: 0 }]);
      const both = await rules(t.db, "src = '198.51.100.79'");
      expect(both.map((r) => r.status)).toEqual(['active', 'active']);
      // an action changed: the old entry comes off with the new one's batch; the note of it
      // (old_action) stays, which only sends that removal again next time
      await t.db.exec("UPDATE Rule SET action = 'REJECT' WHERE id = ?", [both[1]!.id]);
      const before = sent.length;
      expect((await w.tick()).outcomes).toMatchObject([{ device: 'fw', applied: 1, failed: 0 }]);
      expect(sent.slice(before).join('\n')).toMatch(/delete element inet ipms drop4 \{\n\s*\|\s*198\.51\.100\.79\n/);
      expect(await t.db.rows('SELECT state, old_action FROM RuleDevice WHERE rule_id = ?', [both[1]!.id])).toEqual([{ state: 'applied', old_action: 'DROP' }]);
    } finally {
      await oldDb.end();
      await t.db.exec("UPDATE Rule SET status = 'dropped' WHERE src_ip = INET6_ATON('198.51.100.79')");
      await new Worker(workerDb, deps).tick();
    }
  });
});

describe('a narrow rule under a wider one', () => {
  it('is dropped once the rule for all the source\'s traffic is on every device, and not before', async () => {
    const w = new Worker(workerDb, deps);
    await insertHits(t.db, burst(5, { ts: '2026-01-01 14:00:30', src: '198.51.100.71', dstPort: 22 }));
    expect((await w.tick()).outcomes).toMatchObject([{ device: 'fw', applied: 1 }]);
    await insertHits(t.db, burst(50, { ts: '2026-01-01 14:00:31', src: '198.51.100.71', dstPort: 80 }));
    // both open while the wide one is not on the device yet: port 22 stays shut meanwhile
    expect((await rules(t.db, "src = '198.51.100.71'")).map((r) => [r.threshold, r.status])).toEqual([['ssh', 'active'], ['default', 'pending']]);
    expect((await w.tick()).outcomes).toMatchObject([{ device: 'fw', applied: 1 }]);
    const [narrow, wide] = await rules(t.db, "src = '198.51.100.71'");
    expect([narrow!.status, wide!.status]).toEqual(['dropped', 'active']);
    const [why] = await t.db.rows<{ reason: string }>('SELECT reason FROM Rule WHERE id = ?', [narrow!.id]);
    expect(why!.reason).toContain(`[dropped: rule ${wide!.id} blocks all its traffic]`);
    // the next round takes the narrow entry off the device; the wide one stays
    const before = sent.length;
    expect((await w.tick()).outcomes).toMatchObject([{ device: 'fw', applied: 0, removed: 1 }]);
    const text = sent.slice(before).join('\n');
    expect(text).toMatch(/delete element inet ipms drop4_port \{\n\s*\|\s*198\.51\.100\.71 \. 6 \. 22\n/);
    expect(text).not.toMatch(/delete element inet ipms drop4 \{/);
  });

  it('stays when it would outlive the wider rule, or when the wider rule came from a feed or by hand', async () => {
    await t.db.exec("UPDATE Threshold SET duration_s = 3600 WHERE name = 'default'");
    const w = new Worker(workerDb, deps);
    await insertHits(t.db, burst(5, { ts: '2026-01-01 15:00:30', src: '198.51.100.72', dstPort: 22 }));
    await insertHits(t.db, burst(50, { ts: '2026-01-01 15:00:31', src: '198.51.100.72', dstPort: 80 }));
    await w.tick();
    // the ssh rule is permanent, the default one an hour: both stay
    expect((await rules(t.db, "src = '198.51.100.72'")).map((r) => [r.threshold, r.status])).toEqual([['ssh', 'active'], ['default', 'active']]);
    await t.db.exec("UPDATE Threshold SET duration_s = NULL WHERE name = 'default'");
    // a manual rule for all traffic of a source with a threshold rule on port 22
    await insertHits(t.db, burst(5, { ts: '2026-01-01 16:00:30', src: '198.51.100.73', dstPort: 22 }));
    await t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.51.100.73'), 'manual')");
    await w.tick();
    expect((await rules(t.db, "src = '198.51.100.73'")).map((r) => [r.origin, r.status])).toEqual([['threshold', 'active'], ['manual', 'active']]);
    // an admin's port rule under a threshold's rule for all traffic
    await t.db.exec("INSERT INTO Rule (src_ip, proto, dst_port, origin) VALUES (INET6_ATON('198.51.100.74'), 'tcp', 22, 'manual')");
    await w.tick();
    await insertHits(t.db, burst(50, { ts: '2026-01-01 17:00:31', src: '198.51.100.74', dstPort: 80 }));
    await w.tick();
    expect((await rules(t.db, "src = '198.51.100.74'")).map((r) => [r.origin, r.status])).toEqual([['manual', 'active'], ['threshold', 'active']]);
  });

  it('stays while one of its devices does not hold the wider rule', async () => {
    // fw2 holds the narrow rule, then is disabled: it gets nothing new, the wide rule included
    await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('fw2', '192.0.2.251', 'nftables', 'dry-run')");
    const w = new Worker(workerDb, deps);
    await insertHits(t.db, burst(5, { ts: '2026-01-01 18:00:30', src: '198.51.100.75', dstPort: 22 }));
    await w.tick();
    expect((await rules(t.db, "src = '198.51.100.75'")).map((r) => [r.threshold, r.status])).toEqual([['ssh', 'active']]);
    await t.db.exec("UPDATE Device SET enabled = 0 WHERE name = 'fw2'");
    await insertHits(t.db, burst(50, { ts: '2026-01-01 18:00:31', src: '198.51.100.75', dstPort: 80 }));
    await w.tick();
    // the wide rule is active (on fw, its one device); fw2 still enforces port 22 only by the narrow rule
    expect((await rules(t.db, "src = '198.51.100.75'")).map((r) => [r.threshold, r.status])).toEqual([['ssh', 'active'], ['default', 'active']]);
    await t.db.exec("DELETE FROM Device WHERE name = 'fw2'");
  });
});
