/**
 * Ingest benchmark (`npm run bench`, after the trigger benchmark):
 *  - parser alone: parseConnLog over real -l fixture lines, one core, lines/s (target 200k);
 *  - the shim's CPU path without a database (read, split, parse, classify, link, build rows);
 *  - file to database with the triggers on: the trigger benchmark's own rows written as a
 *    honeyd -l file and ingested by `ingest()` (batches, transactions, checkpoints, event ids),
 *    as a ratio to the trigger benchmark's insert rate with triggers (target 0.8x or better).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDatabaseUrl } from '../../lib/config.ts';
import { openDb } from '../../lib/db.ts';
import { migrate } from '../../lib/migrate.ts';
import { Batch } from '../../honeyd2db/batch.ts';
import { ConnIndex } from '../../honeyd2db/correlate.ts';
import { EventIds } from '../../honeyd2db/event-id.ts';
import { Honeypots } from '../../honeyd2db/honeypots.ts';
import { ingest } from '../../honeyd2db/ingest.ts';
import { Interpreter, type FileState } from '../../honeyd2db/interpret.ts';
import { LineSplitter } from '../../honeyd2db/lines.ts';
import { parseConnLog } from '../../honeyd2db/parse/index.ts';
import { RejectsFile } from '../../honeyd2db/rejects.ts';
import { zeroCounts } from '../../honeyd2db/summary.ts';
import { makeRows, type Row } from './triggers.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 60_000);
const fixtures = fileURLToPath(new URL('../../../shared/fixtures/honeyd/', import.meta.url));

function best<T extends { ms: number }>(runs: T[]): T {
  return runs.sort((a, b) => a.ms - b.ms)[0]!;
}

function parserRate(): number {
  const sample = ['public/honeyevse-honeyd.log', 'generated/flags-honeyd.log', 'public/haskell-parser-comments-2008.log']
    .flatMap((f) => readFileSync(fixtures + f, 'utf8').split('\n'))
    .filter((l) => l !== '');
  const lines: string[] = [];
  while (lines.length < 1_000_000) lines.push(...sample);
  const run = () => {
    const ctx = { tz: 'Europe/Paris' };
    const t0 = performance.now();
    let n = 0;
    for (const l of lines) if (parseConnLog(l, ctx).type === 'conn') n++;
    return { ms: performance.now() - t0, n };
  };
  run();
  return (lines.length / best([run(), run(), run()]).ms) * 1000;
}

/** The shim's whole per-line path, minus the database: bytes in, row tuples out. */
function pipelineRate(text: Buffer, lineCount: number): number {
  const run = () => {
    const counts = zeroCounts();
    const interp = new Interpreter({
      honeypots: new Honeypots([], ['192.168.2.0/24']), index: new ConnIndex(), ctx: { tz: 'UTC' }, counts,
      rejects: new RejectsFile('/dev/null', 'bench'), now: Date.now,
    });
    const state: FileState = {
      path: 'bench', parse: parseConnLog, ids: new EventIds('bench', Buffer.alloc(16)), lineNo: 0, rejected: 0,
      chunkLink: null, inChunk: false, deferredAt: -1, canWait: false,
    };
    let batch = new Batch();
    const split = new LineSplitter(0);
    const t0 = performance.now();
    for (let i = 0; i < text.length; i += 65536) {
      split.push(text.subarray(i, i + 65536), (l) => {
        interp.line(state, l, batch);
        state.lineNo++;
      });
      if (batch.rows >= 500) batch = new Batch();
    }
    return { ms: performance.now() - t0, n: counts.hits };
  };
  run();
  return (lineCount / best([run(), run(), run()]).ms) * 1000;
}

function honeydTime(sqlTs: string): string {
  // '2026-01-01 00:00:01.234' -> '2026-01-01-00:00:01.2340'
  return `${sqlTs.slice(0, 10)}-${sqlTs.slice(11, 23)}0`;
}

export async function run(url: string, triggerRate: number): Promise<void> {
  console.log(`ingest: parser alone ${Math.round(parserRate())} lines/s on one core (target >= 200000)`);

  const rows = makeRows(ROWS, 7);
  const line = (r: Row) => `${honeydTime(r.ts)} tcp(6) S ${r.src} ${r.sport} ${r.dst} ${r.dport}\n`;
  const text = Buffer.from(rows.map(line).join(''));
  console.log(`ingest: shim without database (split, parse, classify, link, rows) ${Math.round(pipelineRate(text, rows.length))} lines/s on one core`);

  const dir = mkdtempSync(join(tmpdir(), 'ipms-bench-'));
  const file = join(dir, 'honeyd.log');
  const warm = join(dir, 'warm.log');
  writeFileSync(file, text);
  // the warm-up has sources and times of its own, so that it adds nothing to the bench's counters
  writeFileSync(warm, makeRows(5000, 3, Date.UTC(2025, 0, 1)).map(line).join(''));
  const u = new URL(url);
  u.pathname = '/ipms_bench_ingest';
  const cfg = parseDatabaseUrl(u.toString());
  const run = (sensor: string, f: string) =>
    ingest({
      sensor, files: [f], format: 'honeyd-log', ctx: { tz: 'UTC' }, follow: false,
      honeypots: new Honeypots([], ['192.168.2.0/24']), honeydConfig: null, dbConfig: cfg, stateDir: mkdtempSync(join(dir, 'st-')),
      spoolMaxBytes: 1 << 30, batchSize: 500, pollMs: 100, flushMs: 200, fromStart: true, timeoutMs: 60_000,
      warn: (m) => console.error(m),
    });
  let bestRate = 0;
  let inserted = 0;
  try {
    for (let round = 0; round < 2; round++) {
      // each round on a new database, warmed up like the trigger benchmark's tables (a few
      // thousand rows first), so no purge of a previous round's rows runs under the timing
      const root = openDb(parseDatabaseUrl(url), { poolSize: 1 });
      await root.exec('DROP DATABASE IF EXISTS ipms_bench_ingest');
      await root.exec('CREATE DATABASE ipms_bench_ingest');
      await root.end();
      await migrate(cfg);
      await run('warm-up', warm);
      const t0 = performance.now();
      const s = await run('bench', file);
      const secs = (performance.now() - t0) / 1000;
      inserted = s.counts.inserted;
      bestRate = Math.max(bestRate, rows.length / secs);
    }
    const db = openDb(cfg, { poolSize: 1 });
    const [rules] = await db.rows<{ n: number }>("SELECT COUNT(*) AS n FROM Rule r JOIN Sensor s ON s.id = r.sensor_id WHERE s.name = 'bench'");
    await db.end();
    console.log(
      `ingest: file to database with triggers ${Math.round(bestRate)} lines/s (${inserted} rows, ${rules!.n} rules), ` +
        `ratio to the trigger benchmark's ${Math.round(triggerRate)} rows/s: ${(bestRate / triggerRate).toFixed(2)}x (target >= 0.80x)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
