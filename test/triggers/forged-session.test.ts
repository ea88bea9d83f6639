/**
 * What a sensor's account can do to its own session does not bend the decision: the triggers
 * keep the thresholds of a statement in session variables, and any session may set its own
 * clock (SET timestamp). Run as the least-privilege `ipms_sensor` account of `ipms db grants`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../lib/config.ts';
import { openDb, type Db } from '../../lib/db.ts';
import { freshDatabase, roleAccount, type TestDb } from '../helpers/db.ts';
import { burst, insertHits, rules } from '../helpers/hits.ts';

let t: TestDb;
let sensor: Db;

beforeAll(async () => {
  t = await freshDatabase('forged_session');
  sensor = openDb(parseDatabaseUrl(await roleAccount(t, 'ipms_sensor', 'ipms_t_forger', 'forger-pw')), { poolSize: 1 });
  await t.db.exec("INSERT INTO Sensor (name) VALUES ('s1')");
  await t.db.exec("INSERT INTO Threshold (name, enabled, window_s, max_hits) VALUES ('off', 0, 1, 1)");
});

afterAll(async () => {
  await sensor?.end();
  await t?.close();
});

const HIT = "INSERT INTO SensorLog (sensor_id, ts, proto, src_ip, src_port, dst_ip, dst_port) VALUES (1, ?, 'tcp', INET6_ATON(?), 40000, INET6_ATON('192.168.2.1'), 22)";

describe('a session that forges', () => {
  it('its clock (SET timestamp) writes no rule: a rule created years ahead would shield its source meanwhile', async () => {
    await sensor.pinned(async (q) => {
      await q.exec("SET timestamp = UNIX_TIMESTAMP('2031-01-01 00:00:00')");
      const ts = '2026-03-01 10:00:00';
      await expect(insertHits(q, burst(50, { ts, src: '198.51.100.31' }))).rejects.toThrow(
        /this session runs on a clock of its own \(SET timestamp\): a rule is written on the server's clock only/);
      await q.exec('SET timestamp = DEFAULT');
    });
    expect(await rules(t.db, "src = '198.51.100.31'")).toEqual([]);
    // the same hits on the server's clock
    await insertHits(sensor, burst(50, { ts: '2026-03-01 10:00:00', src: '198.51.100.31' }));
    expect((await rules(t.db, "src = '198.51.100.31'")).map((r) => r.status)).toEqual(['pending']);
    // a clock behind the server's (a long statement, a replica, a restore replaying the binary
    // log) writes rules: they are due at once
    await sensor.pinned(async (q) => {
      await q.exec("SET timestamp = UNIX_TIMESTAMP() - 3600");
      await insertHits(q, burst(50, { ts: '2026-03-01 10:00:00', src: '198.51.100.34' }));
      await q.exec('SET timestamp = DEFAULT');
    });
    expect((await rules(t.db, "src = '198.51.100.34'")).map((r) => r.status)).toEqual(['pending']);
  });

  it('the thresholds of its statement (a disabled one, a lower max_hits) makes no rule, and does not spend the window', async () => {
    const [{ off, def } = { off: 0, def: 0 }] = await t.db.rows<{ off: number; def: number }>(
      "SELECT MAX(IF(name = 'off', id, NULL)) AS off, MAX(IF(name = 'default', id, NULL)) AS def FROM Threshold");
    const ts = '2026-03-01 11:00:00';
    await sensor.pinned(async (q) => {
      // a clock frozen at the server's time keeps NOW() still: the trigger's "loaded for this
      // statement" test then passes with the session's own values
      await q.exec('SET timestamp = UNIX_TIMESTAMP()');
      for (const [id, src] of [[off, '198.51.100.32'], [def, '198.51.100.33']] as const) {
        await q.exec('SET @ipms_thr_stmt = NOW(6) + 0, @ipms_fast = 1, @ipms_t1_id = ?, @ipms_t1_win = 1, @ipms_t1_max = 1', [id]);
        await q.exec(HIT, [ts, src]);
      }
      await q.exec('SET timestamp = DEFAULT');
    });
    expect(await rules(t.db, "src IN ('198.51.100.32', '198.51.100.33')")).toEqual([]);
    // the window is not marked as fired: its 50th hit (the forged one counted) makes the rule
    await insertHits(sensor, burst(48, { ts, src: '198.51.100.33' }));
    expect(await rules(t.db, "src = '198.51.100.33'")).toEqual([]);
    await insertHits(sensor, burst(1, { ts, src: '198.51.100.33' }));
    expect((await rules(t.db, "src = '198.51.100.33'")).map((r) => [r.threshold, r.hits])).toEqual([['default', 50]]);
  });
});
