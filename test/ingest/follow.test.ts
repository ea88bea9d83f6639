/**
 * --follow: lines reach the database at most about 250 ms after honeyd wrote them; rotation by
 * rename (honeyd keeps writing to the renamed file until SIGUSR1 makes it reopen its path) and
 * by copytruncate (the unread lines are in the copy) lose nothing and duplicate nothing; and
 * a file rotated away while no ingest ran is found again next to its path.
 */
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../lib/config.ts';
import { Honeypots } from '../../honeyd2db/honeypots.ts';
import { ingest, type IngestOptions } from '../../honeyd2db/ingest.ts';
import type { Summary } from '../../honeyd2db/summary.ts';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { SHARED } from '../fixtures/honeyd/lines.ts';
import { ingestJson, until } from './helpers/cli.ts';

let t: TestDb;
const dir = mkdtempSync(join(tmpdir(), 'ipms-follow-'));
const evse = readFileSync(`${SHARED}public/honeyevse-honeyd.log`, 'utf8').split('\n').filter((l) => l.includes(' tcp(6) '));

beforeAll(async () => {
  t = await freshDatabase('ingest_follow');
});
afterAll(async () => t?.close());

function follow(sensor: string, files: string[], extra: Partial<IngestOptions> = {}): { stop(): Promise<Summary> } {
  const ac = new AbortController();
  const run = ingest({
    sensor, files, format: 'auto', ctx: { tz: 'UTC' }, follow: true, honeypots: new Honeypots([], []), honeydConfig: null,
    dbConfig: parseDatabaseUrl(t.url), stateDir: mkdtempSync(join(dir, 'st-')), spoolMaxBytes: 1 << 24, batchSize: 500,
    pollMs: 100, flushMs: 200, fromStart: false, timeoutMs: 30_000, warn: () => undefined, signal: ac.signal, ...extra,
  });
  return {
    async stop() {
      ac.abort();
      return run;
    },
  };
}

async function raws(sensor: string): Promise<string[]> {
  const rows = await t.db.rows<{ raw: string }>('SELECT l.raw FROM SensorLog l JOIN Sensor s ON s.id = l.sensor_id WHERE s.name = ? ORDER BY l.id', [sensor]);
  return rows.map((r) => r.raw);
}

describe('ipms ingest --follow', () => {
  it('stores each new line within about 250 ms', async () => {
    const f = join(dir, 'latency.log');
    writeFileSync(f, '');
    const run = follow('latency', [f]);
    try {
      const delays: number[] = [];
      for (const line of evse.slice(0, 12)) {
        const before = (await raws('latency')).length;
        const t0 = Date.now();
        appendFileSync(f, `${line}\n`);
        await until('the line in the database', async () => (await raws('latency')).length > before, 5000);
        delays.push(Date.now() - t0);
      }
      delays.sort((a, b) => a - b);
      // the check itself polls every 50 ms and costs a query: the median says what the shim does
      expect(delays[Math.floor(delays.length / 2)], `delays ${delays.join(' ')} ms`).toBeLessThan(300);
      expect(delays.at(-1)!, `delays ${delays.join(' ')} ms`).toBeLessThan(1000);
    } finally {
      await run.stop();
    }
    expect(await raws('latency')).toEqual(evse.slice(0, 12));
  });

  it('rotation by rename: the renamed file is read to its end, the new one from its start', async () => {
    const f = join(dir, 'rename.log');
    writeFileSync(f, `${evse.slice(0, 20).join('\n')}\n`);
    const run = follow('rename', [f]);
    try {
      await until('the first lines', async () => (await raws('rename')).length === 20);
      renameSync(f, `${f}.1`);
      // honeyd still writes to the renamed file until SIGUSR1...
      appendFileSync(`${f}.1`, `${evse.slice(20, 30).join('\n')}\n`);
      await new Promise((r) => setTimeout(r, 300));
      // ...then reopens its path: a new file
      writeFileSync(f, `${evse.slice(30, 45).join('\n')}\n`);
      appendFileSync(`${f}.1`, `${evse[45]}\n`); // a straggler to the old file
      await until('every line', async () => (await raws('rename')).length === 46);
    } finally {
      await run.stop();
    }
    const got = await raws('rename');
    expect([...got].sort()).toEqual(evse.slice(0, 46).sort());
  });

  it('rotation by rename with a late SIGUSR1: the renamed file stays open until honeyd writes to the new one', { timeout: 30_000 }, async () => {
    const f = join(dir, 'late.log');
    writeFileSync(f, `${evse.slice(0, 5).join('\n')}\n`);
    const run = follow('late', [f]);
    try {
      await until('the first lines', async () => (await raws('late')).length === 5);
      renameSync(f, `${f}.1`);
      writeFileSync(f, ''); // logrotate's create: an empty file at the path
      appendFileSync(`${f}.1`, `${evse[5]}\n`);
      // the signal comes late: honeyd writes on to the renamed file after a quiet spell longer
      // than the one that lets a finished file go
      await new Promise((r) => setTimeout(r, 4500));
      appendFileSync(`${f}.1`, `${evse[6]}\n`);
      await until('the late line', async () => (await raws('late')).length === 7);
      appendFileSync(f, `${evse[7]}\n`); // reopened: honeyd writes to the path again
      await until('every line', async () => (await raws('late')).length === 8);
    } finally {
      await run.stop();
    }
    expect([...(await raws('late'))].sort()).toEqual(evse.slice(0, 8).sort());
  });

  it('copytruncate: the lines not read yet are taken from the copy, the emptied file starts over', async () => {
    const f = join(dir, 'copytrunc.log');
    writeFileSync(f, `${evse.slice(0, 20).join('\n')}\n`);
    // a slow poll, so that lines are written, copied away and truncated between two looks
    const run = follow('copytrunc', [f], { pollMs: 1500 });
    try {
      await until('the first lines', async () => (await raws('copytrunc')).length === 20);
      appendFileSync(f, `${evse.slice(20, 30).join('\n')}\n`);
      copyFileSync(f, `${f}.1`);
      truncateSync(f, 0);
      appendFileSync(f, `${evse.slice(30, 35).join('\n')}\n`);
      await until('every line', async () => (await raws('copytrunc')).length === 35, 10_000);
      appendFileSync(f, `${evse.slice(35, 40).join('\n')}\n`);
      await until('the lines after', async () => (await raws('copytrunc')).length === 40, 10_000);
    } finally {
      await run.stop();
    }
    expect([...(await raws('copytrunc'))].sort()).toEqual(evse.slice(0, 40).sort());
  });

  it('copytruncate: a copy left half read (the ingest killed) is found next to the path at the next start', async () => {
    const f = join(dir, 'copykill.log');
    writeFileSync(f, `${evse.slice(0, 20).join('\n')}\n`);
    const run = follow('copykill', [f], { pollMs: 1500 });
    try {
      await until('the first lines', async () => (await raws('copykill')).length === 20);
      appendFileSync(f, `${evse.slice(20, 30).join('\n')}\n`);
      copyFileSync(f, `${f}.1`);
      truncateSync(f, 0);
      appendFileSync(f, `${evse.slice(30, 35).join('\n')}\n`);
      await until('every line', async () => (await raws('copykill')).length === 35, 10_000);
    } finally {
      await run.stop();
    }
    // checkpoints are kept under the path the user named, the copy's too
    const marks = await t.db.rows<{ path: string; byte_offset: number }>(
      "SELECT c.path, c.byte_offset FROM IngestCheckpoint c JOIN Sensor s ON s.id = c.sensor_id WHERE s.name = 'copykill'");
    expect(marks.map((m) => m.path)).toEqual([f, f]);
    // as if the ingest had been killed after 25 lines of the copy
    const at25 = Buffer.byteLength(`${evse.slice(0, 25).join('\n')}\n`);
    const all30 = Buffer.byteLength(`${evse.slice(0, 30).join('\n')}\n`);
    await t.db.exec(
      `UPDATE IngestCheckpoint c JOIN Sensor s ON s.id = c.sensor_id SET c.byte_offset = ?, c.line_no = 25
       WHERE s.name = 'copykill' AND c.byte_offset = ?`, [at25, all30]);
    await t.db.exec(`DELETE l FROM SensorLog l JOIN Sensor s ON s.id = l.sensor_id WHERE s.name = 'copykill' AND l.raw IN (${evse.slice(25, 30).map(() => '?').join(',')})`, evse.slice(25, 30));
    const again = await ingestJson(t.url, ['--sensor', 'copykill', '--tz', 'UTC', '--state-dir', mkdtempSync(join(dir, 'st-')), f]);
    expect(again.counts).toMatchObject({ inserted: 5 });
    expect([...(await raws('copykill'))].sort()).toEqual(evse.slice(0, 35).sort());
  });

  it('a file rotated away between two runs is found next to its path and read to its end', async () => {
    const f = join(dir, 'between.log');
    const st = mkdtempSync(join(dir, 'st-'));
    writeFileSync(f, `${evse.slice(0, 25).join('\n')}\n`);
    await ingestJson(t.url, ['--sensor', 'between', '--tz', 'UTC', '--state-dir', st, f]);
    appendFileSync(f, `${evse.slice(25, 40).join('\n')}\n`);
    renameSync(f, `${f}-20260101`);
    writeFileSync(f, `${evse.slice(40, 50).join('\n')}\n`);
    const s = await ingestJson(t.url, ['--sensor', 'between', '--tz', 'UTC', '--state-dir', st, f]);
    expect(s.counts).toMatchObject({ lines: 25, inserted: 25 });
    expect([...(await raws('between'))].sort()).toEqual(evse.slice(0, 50).sort());
  });
});
