/**
 * Errors of the real server as ipms says them: a deadlock victim (two transactions that take
 * two rows in opposite orders) is named as such, with nothing of it kept, and withRetry, which
 * reads the driver's error behind those words, runs it again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetryable, withRetry, type Db } from '../../lib/db.ts';
import { freshDatabase, type TestDb } from '../helpers/db.ts';

let t: TestDb;
beforeAll(async () => {
  t = await freshDatabase('db_errors', { migrate: false });
  await t.db.exec('CREATE TABLE dl (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB');
  await t.db.exec('INSERT INTO dl VALUES (1, 0), (2, 0)');
});
afterAll(async () => t?.close());

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One transaction: its first row, a pause (the other takes its own first row), the other row. */
const crossing = (db: Db, first: number, second: number) => () => db.transaction(async (x) => {
  await x.exec('UPDATE dl SET v = v + 1 WHERE id = ?', [first]);
  await pause(300);
  await x.exec('UPDATE dl SET v = v + 1 WHERE id = ?', [second]);
});

describe('database errors', () => {
  it('says a deadlock victim was rolled back, and withRetry runs it again', async () => {
    const a = t.open(1);
    const b = t.open(1);
    const once = await Promise.allSettled([crossing(a, 1, 2)(), crossing(b, 2, 1)()]);
    const lost = once.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(lost).toHaveLength(1);
    expect((lost[0]!.reason as Error).message).toBe('the database gave this up for a concurrent change (a deadlock: its transaction was rolled back): run it again');
    expect(isRetryable(lost[0]!.reason)).toBe(true);
    // the winner's two updates are kept, the victim's none
    expect(await t.db.rows('SELECT id, v FROM dl ORDER BY id')).toEqual([{ id: 1, v: 1 }, { id: 2, v: 1 }]);
    const again = await Promise.allSettled([withRetry(crossing(a, 1, 2)), withRetry(crossing(b, 2, 1))]);
    expect(again.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(await t.db.rows('SELECT id, v FROM dl ORDER BY id')).toEqual([{ id: 1, v: 3 }, { id: 2, v: 3 }]);
  });
});
