import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { burst, insertHits, rules } from '../helpers/hits.ts';

let t: TestDb;

beforeAll(async () => {
  t = await freshDatabase('purge');
  await t.db.exec("INSERT INTO Sensor (name) VALUES ('s1')");
});
afterAll(async () => t.close());

async function counters(): Promise<number> {
  const [r] = await t.db.rows<{ n: number }>('SELECT COUNT(*) AS n FROM ThresholdCounter');
  return r!.n;
}

it('purges counters of windows past the horizon, and still counts late hits within it', async () => {
  await t.db.exec("UPDATE Setting SET value = '10' WHERE name = 'counter_purge_every'");
  await t.db.exec("UPDATE Setting SET value = '3600' WHERE name = 'counter_horizon_s'");
  await t.db.exec("UPDATE Threshold SET window_s = 60 WHERE name = 'default'");
  // 49 hits of one source in the 10:00 window, then traffic of others 30 minutes later:
  // the purge runs (every 10th row) but 10:00 is within the 1-hour horizon
  await insertHits(t.db, burst(49, { ts: '2026-04-01 10:00:10', src: '203.0.113.1' }));
  for (let i = 0; i < 30; i++) {
    await insertHits(t.db, [{ ts: `2026-04-01 10:30:${String(i).padStart(2, '0')}`, src: `198.51.100.${i + 1}` }]);
  }
  // a late 50th hit of the 10:00 window still crosses
  await insertHits(t.db, [{ ts: '2026-04-01 10:00:59', src: '203.0.113.1' }]);
  expect((await rules(t.db)).map((r) => r.src)).toEqual(['203.0.113.1']);
  const before = await counters();
  expect(before).toBeGreaterThan(1);
  // two hours later in event time, the old windows go
  for (let i = 0; i < 20; i++) {
    await insertHits(t.db, [{ ts: '2026-04-01 12:45:00', src: '192.0.2.1' }]);
  }
  const [old] = await t.db.rows<{ n: number }>(
    "SELECT COUNT(*) AS n FROM ThresholdCounter WHERE window_end < '2026-04-01 11:45:00'",
  );
  expect(old!.n).toBe(0);
  expect(await counters()).toBe(1);
});

it('never purges relative to a clock running ahead of real time', async () => {
  const recent = new Date(Date.now() - 10 * 60_000).toISOString().replace('T', ' ').replace('Z', '');
  await insertHits(t.db, burst(5, { ts: recent, src: '203.0.113.2' }));
  // an event dated far in the future must not purge the present
  for (let i = 0; i < 20; i++) {
    await insertHits(t.db, [{ ts: '2099-01-01 00:00:00', src: '192.0.2.2' }]);
  }
  const [r] = await t.db.rows<{ n: number }>("SELECT COUNT(*) AS n FROM ThresholdCounter WHERE src_ip = INET6_ATON('203.0.113.2')");
  expect(r!.n).toBe(1);
});
