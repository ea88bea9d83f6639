import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { burst, insertHits } from '../helpers/hits.ts';
import type { Db } from '../../lib/db.ts';

let t: TestDb;
let writers: Db[];

beforeAll(async () => {
  t = await freshDatabase('concurrency');
  await t.db.exec("INSERT INTO Sensor (name) VALUES ('s1')");
  writers = Array.from({ length: 4 }, () => t.open(1));
});
afterAll(async () => t.close());

it('creates exactly one rule per source when 4 connections insert its hits at once', async () => {
  const sources = Array.from({ length: 40 }, (_, i) => `203.0.113.${i + 1}`);
  // Each connection sends 13 hits per source (52 in all): the 50th hit lands on whichever
  // connection gets the counter row lock at that moment.
  await Promise.all(
    writers.map(async (w, k) => {
      for (const src of sources) {
        await insertHits(w, burst(13, { ts: '2026-03-01 10:00:00.500', src, srcPort: 1000 + k }));
      }
    }),
  );
  const per = await t.db.rows<{ src: string; n: number }>('SELECT src, COUNT(*) AS n FROM RuleView GROUP BY src');
  expect(per).toHaveLength(sources.length);
  expect(per.every((r) => r.n === 1)).toBe(true);
});

it('still makes one rule when the crossing hits are in transactions that commit together', async () => {
  const sources = Array.from({ length: 20 }, (_, i) => `198.51.100.${i + 1}`);
  for (const src of sources) {
    // 46 committed hits; then 4 transactions each add one and hold it until all have inserted
    await insertHits(t.db, burst(46, { ts: '2026-03-01 11:00:00', src }));
    await Promise.all(
      writers.map((w) =>
        w.transaction(async (tx) => {
          await insertHits(tx, burst(1, { ts: '2026-03-01 11:00:00.900', src }));
        }),
      ),
    );
  }
  const per = await t.db.rows<{ src: string; n: number }>(
    "SELECT src, COUNT(*) AS n FROM RuleView WHERE src LIKE '198.51.100.%' GROUP BY src",
  );
  expect(per).toHaveLength(sources.length);
  expect(per.every((r) => r.n === 1)).toBe(true);
  const [c] = await t.db.rows<{ hits: number }>(
    "SELECT MIN(hits) AS hits FROM ThresholdCounter WHERE src_ip = INET6_ATON('198.51.100.1')",
  );
  expect(c?.hits).toBe(50);
});
