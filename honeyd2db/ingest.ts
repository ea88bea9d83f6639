/**
 * `ipms ingest`: read a sensor's honeyd logs and store them, exactly once, through crashes and
 * database outages.
 *
 * The loop: each round reads every source to its current end, connection logs first (so a
 * payload line finds its connection), cutting a batch whenever it holds batchSize rows; a
 * batch is also cut when nothing more is there to read, so under --follow a line reaches the
 * database one poll interval (100 ms) plus one insert after honeyd wrote it. One batch may be
 * in flight while the next is read. Batches go through the Sink (database, else spool).
 *
 * Exactly once: every row carries an event id from its position (event-id.ts) and every batch
 * carries its files' checkpoints in the same transaction (store.ts), so the database never
 * has rows beyond its checkpoint... and rows before it are never inserted twice.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { DbConfig } from '../lib/config.ts';
import { DatabaseError } from '../lib/errors.ts';
import { Batch, type Mark } from './batch.ts';
import { LocalCheckpoints } from './checkpoint.ts';
import { ConnIndex } from './correlate.ts';
import type { FormatChoice } from './format.ts';
import type { HoneydConfig } from './honeyd-config.ts';
import type { Honeypots } from './honeypots.ts';
import { Interpreter } from './interpret.ts';
import { acquireLock } from './lock.ts';
import type { ParseContext } from './parse/index.ts';
import { RejectsFile } from './rejects.ts';
import { openSources, readingOrder } from './open-sources.ts';
import { Sink } from './sink.ts';
import type { Source, SourceEnv } from './source.ts';
import { Spool } from './spool.ts';
import { zeroCounts, type Summary } from './summary.ts';

export interface IngestOptions {
  sensor: string;
  /** paths; '-' is standard input */
  files: readonly string[];
  format: FormatChoice;
  ctx: ParseContext;
  follow: boolean;
  honeypots: Honeypots;
  honeydConfig: HoneydConfig | null;
  dbConfig: DbConfig;
  stateDir: string;
  spoolMaxBytes: number;
  /** default: <stateDir>/<sensor>.<db>.rejects.jsonl */
  rejectsPath?: string;
  batchSize: number;
  pollMs: number;
  /** a batch waits at most this long for more rows (under --follow) */
  flushMs: number;
  fromStart: boolean;
  timeoutMs: number;
  warn: (msg: string) => void;
  /** aborting stops a --follow run: what was read is written, then the summary */
  signal?: AbortSignal;
  /** what '-' reads (default: process.stdin) */
  stdin?: Readable;
}

/** Files of the state directory for one (database, sensor). */
export function statePaths(stateDir: string, sensor: string, db: DbConfig): { base: string; spool: string; checkpoints: string; lock: string; rejects: string } {
  const dbKey = createHash('sha256').update(`${db.host}:${db.port}/${db.database}`).digest('hex').slice(0, 12);
  const safe = sensor.replace(/[^A-Za-z0-9_.-]/g, '_');
  const base = join(stateDir, `${safe}.${dbKey}`);
  return { base, spool: `${base}.spool`, checkpoints: `${base}.checkpoints.json`, lock: `${base}.lock`, rejects: `${base}.rejects.jsonl` };
}

const RETIRED_IDLE_MS = 3000;
/** a renamed file whose writer was never told to reopen (no SIGUSR1) is let go after this */
const RETIRED_WRITER_MS = 10 * 60_000;
const MAX_BACKOFF_MS = 5000;

export async function ingest(o: IngestOptions): Promise<Summary> {
  const t0 = Date.now();
  const paths = statePaths(o.stateDir, o.sensor, o.dbConfig);
  const release = acquireLock(paths.lock, `sensor '${o.sensor}' and ${o.dbConfig.display}`);
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    o.warn(m);
  };
  const counts = zeroCounts();
  const spool = await Spool.open(paths.spool, o.spoolMaxBytes, warn);
  const local = new LocalCheckpoints(paths.checkpoints);
  const rejects = new RejectsFile(o.rejectsPath ?? paths.rejects, o.sensor);
  const sink = new Sink({ sensor: o.sensor, dbConfig: o.dbConfig, spool, local, counts, honeydConfig: o.honeydConfig, honeypotNets: o.honeypots.nets, warn, timeoutMs: o.timeoutMs });
  const sources: Source[] = [];
  let wakeUp: (() => void) | null = null;
  const wake = () => wakeUp?.();
  /** Sleep until the next poll, new standard input, or the abort signal. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        o.signal?.removeEventListener('abort', done);
        wakeUp = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      wakeUp = done;
      o.signal?.addEventListener('abort', done);
    });
  try {
    const fromDb = await sink.connect();
    let dbMarks: Mark[] = fromDb ?? [];
    if (!spool.empty && !sink.down) {
      if (await sink.replay()) dbMarks = (await sink.connect()) ?? dbMarks;
    }
    // The local copy is a hint for when the database cannot be asked; when it answers, its own
    // checkpoints rule (a database restored from a backup gets the lines it lost read again).
    const known = () => [...dbMarks, ...(fromDb === null ? local.all() : []), ...spool.marks.values()];
    const interpreter = new Interpreter({
      honeypots: o.honeypots, index: new ConnIndex(), ctx: o.ctx, counts, rejects, now: Date.now,
    });
    const env: SourceEnv = { sensor: o.sensor, format: o.format, follow: o.follow, fromStart: o.fromStart, interpreter, counts, known };

    sources.push(...(await openSources(o.files, env, o.stdin ?? process.stdin, wake)));
    interpreter.waitForConnLog = o.follow && sources.some((s) => ['honeyd-log', 'markers-only', 'pending'].includes(s.format));
    const everyone = [...sources];

    let batch = new Batch();
    let inflight: Promise<void> = Promise.resolve();
    let stuck: Batch | null = null;
    let nextAttempt = 0;
    let backoff = 250;

    const cut = (): Batch => {
      for (const s of sources) {
        const m = s.takeMark();
        if (m !== null) batch.mark(m, Date.now());
      }
      const b = batch;
      batch = new Batch();
      // the refused lines of this batch are on disk before its checkpoint can be
      rejects.flush();
      return b;
    };
    // The write in flight never rejects (an unhandled rejection would end the process before
    // anyone awaits it): its error is kept and raised by the next settle().
    let failure: unknown = null;
    const settle = async (): Promise<void> => {
      await inflight;
      if (failure !== null) throw failure;
    };
    const flush = async (): Promise<void> => {
      await settle();
      if (stuck !== null) return;
      const b = cut();
      if (b.empty) return;
      inflight = sink.write(b.logs, b.data, [...b.marks.values()]).then(
        (r) => {
          if (r === 'full') stuck = b;
        },
        (err: unknown) => {
          failure = err;
        },
      );
    };
    const recover = async (): Promise<void> => {
      if (Date.now() < nextAttempt) return;
      await settle();
      const ok = await sink.replay();
      if (ok && stuck !== null) {
        const b: Batch = stuck;
        if ((await sink.write(b.logs, b.data, [...b.marks.values()])) !== 'full') stuck = null;
      }
      if (ok && stuck === null && !sink.down) {
        backoff = 250;
      } else {
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      }
      nextAttempt = Date.now() + backoff;
    };

    let fullWarned = false;
    for (;;) {
      if (sink.down || stuck !== null || !spool.empty) await recover();
      if (stuck !== null && !fullWarned) {
        fullWarned = true;
        warn(`the spool ${spool.path} is full and the database is unreachable: reading paused until it answers`);
      }
      let progressed = 0;
      if (stuck === null) {
        sources.sort(readingOrder);
        for (let i = 0; i < sources.length && !o.signal?.aborted && stuck === null; i++) {
          const s = sources[i]!;
          if (o.follow) {
            const more = await s.checkRotation();
            sources.push(...more);
            everyone.push(...more);
          }
          for (let n = await s.pump(batch); n > 0; n = await s.pump(batch)) {
            progressed += n;
            // rejected lines count too: a file of garbage must not pile up in memory
            if (batch.rows >= o.batchSize || rejects.pendingCount >= o.batchSize) await flush();
            if (stuck !== null || o.signal?.aborted) break;
          }
        }
        for (const s of [...sources]) {
          const idle = Date.now() - s.lastGrowth;
          if (s.retired && (await s.drained()) && !s.hasNewMark
              && (!o.follow || (idle >= RETIRED_IDLE_MS && (idle >= RETIRED_WRITER_MS || !(await s.mayGrow()))))) {
            await s.close();
            sources.splice(sources.indexOf(s), 1);
          }
        }
      }
      const pendingMarks = sources.some((s) => s.hasNewMark);
      if (batch.rows > 0 || pendingMarks) {
        if (progressed === 0 || Date.now() - batch.startedAt >= o.flushMs) await flush();
      }
      if (o.signal?.aborted) break;
      if (!o.follow && sources.every((s) => s.done)) break;
      if (!o.follow && stuck !== null) {
        // without --follow there is no waiting for the database: one more try, then give up
        nextAttempt = 0;
        await recover();
        if (stuck !== null) break;
      }
      if (progressed === 0) await pause(o.pollMs);
    }
    await flush();
    await settle();
    if (!spool.empty && stuck === null) {
      nextAttempt = 0;
      await recover();
    }
    if (stuck !== null) {
      throw new DatabaseError(
        `the database is unreachable and the spool ${spool.path} is full (${o.spoolMaxBytes} bytes): ` +
          `${counts.lines} lines read, the rest waits in the log files for the next run`,
        'E_SPOOL_FULL',
      );
    }
    return {
      sensor: o.sensor,
      counts,
      files: everyone
        .filter((s) => s.state !== null)
        .map((s) => ({ path: s.path, format: s.format, lines: s.linesRead, rejected: s.state!.rejected, offset: s.offset })),
      honeypotsKnown: o.honeypots.known,
      honeypots: o.honeypots.described,
      rejectsFile: rejects.written > 0 ? rejects.path : null,
      spoolFile: spool.path,
      spoolPendingBytes: spool.bytes,
      seconds: (Date.now() - t0) / 1000,
      warnings,
    };
  } finally {
    rejects.flush();
    for (const s of sources) await s.close();
    await sink.close();
    await spool.close();
    release();
  }
}
