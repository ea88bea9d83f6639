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
import { makeRows } from './triggers.ts';

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
  const text = Buffer.from(rows.map((r) => `${honeydTime(r.ts)} tcp(6) S ${r.src} ${r.sport} ${r.dst} ${r.dport}\n`).join(''));
  console.log(`ingest: shim without database (split, parse, classify, link, rows) ${Math.round(pipelineRate(text, rows.length))} lines/s on one core`);

  const root = openDb(parseDatabaseUrl(url), { poolSize: 1 });
  await root.exec('DROP DATABASE IF EXISTS ipms_bench_ingest');
  await root.exec('CREATE DATABASE ipms_bench_ingest');
  await root.end();
  const u = new URL(url);
  u.pathname = '/ipms_bench_ingest';
  const cfg = parseDatabaseUrl(u.toString());
  await migrate(cfg);
  const dir = mkdtempSync(join(tmpdir(), 'ipms-bench-'));
  const file = join(dir, 'honeyd.log');
  writeFileSync(file, text);
  const db = openDb(cfg, { poolSize: 1 });
  let bestRate = 0;
  let inserted = 0;
  try {
    for (let round = 0; round < 2; round++) {
      for (const t of ['RuleDevice', 'Rule', 'ThresholdCounter', 'Data', 'SensorLog', 'IngestCheckpoint']) await db.exec(`DELETE FROM ${t}`);
      const t0 = performance.now();
      const s = await ingest({
        sensor: 'bench', files: [file], format: 'honeyd-log', ctx: { tz: 'UTC' }, follow: false,
        honeypots: new Honeypots([], ['192.168.2.0/24']), honeydConfig: null, dbConfig: cfg, stateDir: mkdtempSync(join(dir, 'st-')),
        spoolMaxBytes: 1 << 30, batchSize: Number(process.env.BENCH_BATCH ?? 500), pollMs: 100, flushMs: 200, fromStart: true, timeoutMs: 60_000, warn: (m) => console.error(m),
      });
      const secs = (performance.now() - t0) / 1000;
      inserted = s.counts.inserted;
      bestRate = Math.max(bestRate, rows.length / secs);
    }
    const [rules] = await db.rows<{ n: number }>('SELECT COUNT(*) AS n FROM Rule');
    console.log(
      `ingest: file to database with triggers ${Math.round(bestRate)} lines/s (${inserted} rows, ${rules!.n} rules), ` +
        `ratio to the trigger benchmark's ${Math.round(triggerRate)} rows/s: ${(bestRate / triggerRate).toFixed(2)}x (target >= 0.80x)`,
    );
  } finally {
    await db.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
