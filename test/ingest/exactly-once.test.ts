/**
 * Exactly once: reading a file again adds nothing (by checkpoint, and by event id when the
 * checkpoints are ignored); byte-identical lines are distinct events; a copy of a file is the
 * same file; a last line without its \n is taken again once complete, never twice; and
 * `kill -9` of a real `ipms ingest` process at several moments, each followed by a restart,
 * loses nothing and duplicates nothing.
 */
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { SHARED } from '../fixtures/honeyd/lines.ts';
import { ingestJson, reap, spawnCli, until } from './helpers/cli.ts';

let t: TestDb;
const dir = mkdtempSync(join(tmpdir(), 'ipms-once-'));
const EVSE = `${SHARED}public/honeyevse-honeyd.log`;
const evseEvents = readFileSync(EVSE, 'utf8').split('\n').filter((l) => l !== '' && !l.includes('honeyd log'));

beforeAll(async () => {
  t = await freshDatabase('ingest_once');
});
afterAll(async () => t?.close());

async function count(sensor: string): Promise<number> {
  const [r] = await t.db.rows<{ n: number }>(
    'SELECT (SELECT COUNT(*) FROM SensorLog l JOIN Sensor s ON s.id = l.sensor_id WHERE s.name = ?) AS n',
    [sensor],
  );
  return Number(r?.n ?? 0);
}

async function rawCounts(sensor: string): Promise<Map<string, number>> {
  const rows = await t.db.rows<{ raw: string; n: number }>(
    'SELECT l.raw, COUNT(*) AS n FROM SensorLog l JOIN Sensor s ON s.id = l.sensor_id WHERE s.name = ? GROUP BY l.raw',
    [sensor],
  );
  return new Map(rows.map((r) => [r.raw, Number(r.n)]));
}

describe('the same lines twice', () => {
  it('ingesting the same file twice adds nothing, with or without checkpoints', async () => {
    const st = mkdtempSync(join(dir, 'st-'));
    const a = await ingestJson(t.url, ['--sensor', 'twice', '--tz', 'UTC', '--state-dir', st, EVSE]);
    expect(a.counts).toMatchObject({ lines: 431, inserted: 394, already_present: 0 });
    const b = await ingestJson(t.url, ['--sensor', 'twice', '--tz', 'UTC', '--state-dir', st, EVSE]);
    expect(b.counts).toMatchObject({ lines: 0, inserted: 0 });
    // a fresh state directory: the database's own checkpoint still knows the file
    const c = await ingestJson(t.url, ['--sensor', 'twice', '--tz', 'UTC', '--state-dir', mkdtempSync(join(dir, 'st-')), EVSE]);
    expect(c.counts).toMatchObject({ lines: 0, inserted: 0 });
    // no checkpoints at all: every line is read again, and its event id says it is there
    const d = await ingestJson(t.url, ['--sensor', 'twice', '--tz', 'UTC', '--state-dir', st, '--from-start', EVSE]);
    expect(d.counts).toMatchObject({ lines: 431, inserted: 0, already_present: 394 });
    // a copy elsewhere (a rotated file, a backup) is the same file: same first bytes, same ids
    const copy = join(dir, 'copy-of-evse.log');
    copyFileSync(EVSE, copy);
    const e = await ingestJson(t.url, ['--sensor', 'twice', '--tz', 'UTC', '--state-dir', st, copy]);
    expect(e.counts).toMatchObject({ inserted: 0 });
    expect(await count('twice')).toBe(394);
  });

  it('byte-identical lines are distinct events', async () => {
    const line = '2008-12-07-16:06:29.2781 tcp(6) - 124.207.41.198 48804 192.168.1.50 23: 40 S';
    const f = join(dir, 'identical.log');
    writeFileSync(f, `${line}\n`.repeat(60));
    const s = await ingestJson(t.url, ['--sensor', 'same', '--tz', 'UTC', '--state-dir', mkdtempSync(join(dir, 'st-')), f]);
    expect(s.counts).toMatchObject({ lines: 60, hits: 60, inserted: 60 });
    expect(await count('same')).toBe(60);
    // 60 hits from one source in the same second: the default threshold (50/s) fired once
    const rules = await t.db.rows<{ src: string; threshold: string }>("SELECT src, threshold FROM RuleView WHERE src = '124.207.41.198'");
    expect(rules).toEqual([{ src: '124.207.41.198', threshold: 'default' }]);
  });

  it('a last line without its newline is left for the next run, and taken once when it is complete', async () => {
    const st = mkdtempSync(join(dir, 'st-'));
    const f = join(dir, 'partial.log');
    const [l1, l2, l3] = evseEvents.slice(30, 33) as [string, string, string];
    // cut one character short: what is there would parse (a shorter port or byte count), and a
    // row made of it would stand for good in place of the finished line, under the same event id
    writeFileSync(f, `${l1}\n${l2.slice(0, -1)}`);
    const a = await ingestJson(t.url, ['--sensor', 'partial', '--tz', 'UTC', '--state-dir', st, f]);
    expect(a.counts).toMatchObject({ lines: 1, inserted: 1, rejected: 0, unfinished: 1 });
    appendFileSync(f, `${l2.slice(-1)}\n${l3}\n`);
    const b = await ingestJson(t.url, ['--sensor', 'partial', '--tz', 'UTC', '--state-dir', st, f]);
    expect(b.counts).toMatchObject({ lines: 2, inserted: 2, rejected: 0, unfinished: 0 });
    const raws = await rawCounts('partial');
    expect([...raws.entries()].sort()).toEqual([[l1, 1], [l2, 1], [l3, 1]].sort());
  });
});

describe('a database restored from a backup', () => {
  it('gets the lines it lost read again: its own checkpoints rule over the local copy when it answers', async () => {
    const st = mkdtempSync(join(dir, 'st-'));
    const f = join(dir, 'restored.log');
    writeFileSync(f, `${evseEvents.slice(0, 30).join('\n')}\n`);
    expect((await ingestJson(t.url, ['--sensor', 'restored', '--tz', 'UTC', '--state-dir', st, f])).counts).toMatchObject({ inserted: 30 });
    // the restored database never saw the last 10 lines (nor their checkpoint)
    const [sensor] = await t.db.rows<{ id: number }>("SELECT id FROM Sensor WHERE name = 'restored'");
    const ids = await t.db.rows<{ id: number }>('SELECT id FROM SensorLog WHERE sensor_id = ? ORDER BY id', [sensor!.id]);
    await t.db.exec('DELETE FROM SensorLog WHERE sensor_id = ? AND id >= ?', [sensor!.id, ids[20]!.id]);
    await t.db.exec('DELETE FROM IngestCheckpoint WHERE sensor_id = ?', [sensor!.id]);
    const again = await ingestJson(t.url, ['--sensor', 'restored', '--tz', 'UTC', '--state-dir', st, f]);
    expect(again.counts).toMatchObject({ inserted: 10, already_present: 20 });
    expect(await count('restored')).toBe(30);
  });
});

describe('standard input', () => {
  it('reads lines piped in; the same input piped again adds nothing', async () => {
    const input = `${evseEvents.slice(0, 40).join('\n')}\n`;
    const st = mkdtempSync(join(dir, 'st-'));
    for (const want of [40, 0]) {
      const c = spawnCli(['--database-url', t.url, 'ingest', '--sensor', 'piped', '--tz', 'UTC', '--state-dir', st, '--json', '-']);
      c.proc.stdin!.end(input);
      const code = await Promise.race([c.exited, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
      await reap(c);
      expect(code, c.err()).toBe(0);
      expect((JSON.parse(c.out()) as { counts: { inserted: number } }).counts.inserted).toBe(want);
    }
    expect(await count('piped')).toBe(40);
  });

  it('a new stream that starts with the same bytes as an earlier one (honeyd -d restarted in a container) is read whole, not skipped', async () => {
    const st = mkdtempSync(join(dir, 'st-'));
    // the same first 30 lines (over 1 KiB: the same identity), then each run's own
    const shared = evseEvents.slice(0, 30);
    expect(`${shared.join('\n')}\n`.length).toBeGreaterThan(1024);
    const run = async (lines: string[], pauseAfter?: number) => {
      const c = spawnCli(['--database-url', t.url, 'ingest', '--sensor', 'restarted', '--tz', 'UTC', '--state-dir', st, '--json', '-']);
      if (pauseAfter === undefined) c.proc.stdin!.end(`${lines.join('\n')}\n`);
      else {
        // a live pipe: the start-up lines, a quiet while, then the rest
        c.proc.stdin!.write(`${lines.slice(0, pauseAfter).join('\n')}\n`);
        await new Promise((r) => setTimeout(r, 3500));
        c.proc.stdin!.end(`${lines.slice(pauseAfter).join('\n')}\n`);
      }
      const code = await Promise.race([c.exited, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
      await reap(c);
      expect(code, c.err()).toBe(0);
      return (JSON.parse(c.out()) as { counts: { inserted: number; already_present: number } }).counts;
    };
    const a = [...shared, ...evseEvents.slice(30, 40)];
    const b = [...shared, ...evseEvents.slice(40, 55)];
    const c = [...shared, ...evseEvents.slice(55, 75)];
    expect(await run(a)).toMatchObject({ inserted: 40 });
    // before, b was taken for a: its first 40 lines skipped as a's
    expect(await run(b)).toMatchObject({ inserted: 45 });
    // each piped again adds nothing: they keep their identities
    expect(await run(b)).toMatchObject({ inserted: 0 });
    expect(await run(a)).toMatchObject({ inserted: 0 });
    // a live pipe quiet after its start-up lines is a new run too
    expect(await run(c, 30)).toMatchObject({ inserted: 50 });
    expect(await count('restarted')).toBe(40 + 45 + 50);
  }, 60_000);
});

describe('kill -9 at any moment', () => {
  it('restarting after SIGKILL, again and again, loses nothing and duplicates nothing', async () => {
    // 120 copies of HoneyEVSE's events: 47,280 lines, every line repeated byte for byte
    const f = join(dir, 'big.log');
    const copies = 120;
    writeFileSync(f, `${evseEvents.join('\n')}\n`.repeat(copies));
    const expected = evseEvents.length * copies;
    const st = mkdtempSync(join(dir, 'st-'));
    const args = ['--database-url', t.url, 'ingest', '--sensor', 'killed', '--tz', 'UTC', '--state-dir', st, '--batch-size', '300', f];
    // kill moments: while starting, at the first rows, and twice in the middle
    const moments: (() => Promise<void>)[] = [
      () => new Promise((r) => setTimeout(r, 150)),
      () => until('first rows', async () => (await count('killed')) > 0),
      () => until('a third', async () => (await count('killed')) > expected / 3),
      () => until('two thirds', async () => (await count('killed')) > (expected * 2) / 3),
    ];
    const kills: number[] = [];
    for (const moment of moments) {
      const c = spawnCli(args);
      try {
        await Promise.race([moment(), c.exited]);
      } finally {
        await reap(c, 'SIGKILL');
      }
      kills.push(await count('killed'));
    }
    const last = spawnCli(args);
    const code = await Promise.race([last.exited, new Promise((r) => setTimeout(() => r('timeout'), 120_000))]);
    await reap(last);
    expect(code, last.err()).toBe(0);
    expect(kills.some((n) => n > 0 && n < expected), `killed at ${kills.join(', ')} of ${expected} rows`).toBe(true);
    expect(await count('killed')).toBe(expected);
    const raws = await rawCounts('killed');
    for (const line of evseEvents) expect(raws.get(line), line).toBe(copies * evseEvents.filter((l) => l === line).length);
    const [ck] = await t.db.rows<{ byte_offset: number }>(
      "SELECT c.byte_offset FROM IngestCheckpoint c JOIN Sensor s ON s.id = c.sensor_id WHERE s.name = 'killed'",
    );
    expect(Number(ck!.byte_offset)).toBe(readFileSync(f).length);
  }, 170_000);
});
