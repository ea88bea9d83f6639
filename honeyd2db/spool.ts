/**
 * The local spool: where batches go while the database is unreachable, to be sent in the same
 * order when it is back. One append-only file per (database, sensor) under the state
 * directory; one record a line:
 *
 *   <first 8 hex digits of SHA-256 of JSON> <JSON>\n      JSON = {v, sensor, logs, data, marks}
 *
 * Every append is fdatasync'd before the ingest moves on, so a record that was appended
 * survives a crash or a power cut; the checkpoint of the lines it holds lives in the record
 * itself (its marks). A crash in the middle of an append leaves a torn last line: its check
 * fails on open and it is cut off (the lines it held were not marked anywhere, so they are read
 * again). Bounded by maxBytes, with a warning at 50, 80 and 95 %; a full spool refuses more
 * and the ingest stops reading (the log file itself keeps the lines).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { IpmsError } from '../lib/errors.ts';
import type { Mark, Row } from './batch.ts';

export interface SpoolRecord {
  sensor: string;
  logs: Row[];
  data: Row[];
  marks: Mark[];
}

const WARN_AT = [0.5, 0.8, 0.95];
const READ_CHUNK = 1 << 20;

function check(json: string): string {
  return createHash('sha256').update(json).digest('hex').slice(0, 8);
}

// Buffers (addresses, event ids) travel as {"$b": base64}.
function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const orig = this[key];
  return Buffer.isBuffer(orig) ? { $b: orig.toString('base64') } : value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && typeof (value as { $b?: unknown }).$b === 'string') {
    return Buffer.from((value as { $b: string }).$b, 'base64');
  }
  return value;
}

export function encodeRecord(rec: SpoolRecord): Buffer {
  const json = JSON.stringify({ v: 1, ...rec }, replacer);
  return Buffer.from(`${check(json)} ${json}\n`);
}

/** The record of one spool line, or null when the line is torn or damaged. */
export function decodeRecord(line: string): SpoolRecord | null {
  const json = line.slice(9);
  if (line.charCodeAt(8) !== 32 || check(json) !== line.slice(0, 8)) return null;
  try {
    const r = JSON.parse(json, reviver) as SpoolRecord & { v: number };
    return r.v === 1 && Array.isArray(r.logs) && Array.isArray(r.data) && Array.isArray(r.marks) ? r : null;
  } catch {
    return null;
  }
}

/** Complete lines of a file from `from`, with the offset after each. */
async function* fileLines(fh: FileHandle, from: number, to: number): AsyncGenerator<{ line: string; end: number }> {
  let pos = from;
  let carry = Buffer.alloc(0);
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  while (pos < to) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(READ_CHUNK, to - pos), pos);
    if (bytesRead === 0) break;
    let chunk = Buffer.concat([carry, buf.subarray(0, bytesRead)]);
    const base = pos - carry.length;
    pos += bytesRead;
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      yield { line: chunk.toString('utf8', start, nl), end: base + nl + 1 };
      start = nl + 1;
    }
    chunk = chunk.subarray(start);
    carry = Buffer.from(chunk);
  }
}

export class Spool {
  private warned = 0;
  /** the last mark of each file among the records, by file key */
  readonly marks = new Map<string, Mark>();

  private constructor(
    readonly path: string,
    readonly maxBytes: number,
    private readonly fh: FileHandle,
    private size: number,
    private readonly warn: (msg: string) => void,
  ) {}

  /** Open (or create) the spool, cut a torn tail, and learn the marks it holds. */
  static async open(path: string, maxBytes: number, warn: (msg: string) => void): Promise<Spool> {
    let fh: FileHandle;
    let st: Stats;
    try {
      mkdirSync(dirname(path), { recursive: true });
      fh = await open(path, 'a+');
      st = await fh.stat();
    } catch (err) {
      throw new IpmsError('E_SPOOL', `cannot open the spool ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    const spool = new Spool(path, maxBytes, fh, st.size, warn);
    let good = 0;
    let bad = false;
    for await (const { line, end } of fileLines(fh, 0, st.size)) {
      const rec = decodeRecord(line);
      if (rec === null) {
        bad = true;
        break;
      }
      for (const m of rec.marks) spool.noteMark(m);
      good = end;
    }
    if (good < st.size) {
      if (bad && st.size - good > 0) {
        // more than a torn last line: keep the damaged file for inspection, continue with the good part
        const aside = `${path}.damaged-${Date.now()}`;
        await fh.close();
        renameSync(path, aside);
        warn(`the spool ${path} was damaged after byte ${good}; the whole file is kept as ${aside} and its good records are replayed`);
        const fresh = await open(path, 'a+');
        const old = await open(aside, 'r');
        for await (const { line } of fileLines(old, 0, good)) await fresh.appendFile(`${line}\n`);
        await old.close();
        await fresh.datasync();
        return Spool.open(path, maxBytes, warn);
      }
      await fh.truncate(good);
      await fh.datasync();
      spool.size = good;
    }
    return spool;
  }

  get bytes(): number {
    return this.size;
  }

  get empty(): boolean {
    return this.size === 0;
  }

  private noteMark(m: Mark): void {
    const have = this.marks.get(m.key);
    if (have === undefined || m.offset >= have.offset) this.marks.set(m.key, m);
  }

  /** Append and fsync one record; false (nothing written) when it would exceed the bound. */
  async append(rec: SpoolRecord): Promise<boolean> {
    const buf = encodeRecord(rec);
    if (this.size + buf.length > this.maxBytes) return false;
    try {
      await this.fh.write(buf, 0, buf.length, null);
      await this.fh.datasync();
    } catch (err) {
      // a short write would leave a torn record: cut it off, so the next append starts clean
      await this.fh.truncate(this.size).catch(() => undefined);
      throw new IpmsError('E_SPOOL', `cannot write the spool ${this.path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    this.size += buf.length;
    for (const m of rec.marks) this.noteMark(m);
    while (this.warned < WARN_AT.length && this.size >= this.maxBytes * WARN_AT[this.warned]!) {
      this.warn(`the spool ${this.path} is ${Math.round(WARN_AT[this.warned]! * 100)}% full (${mib(this.size)} of ${mib(this.maxBytes)} MiB): the database is still unreachable`);
      this.warned++;
    }
    return true;
  }

  /** Records from byte `from` on, in order, each with the offset just after it. */
  async *records(from = 0): AsyncGenerator<{ rec: SpoolRecord; end: number }> {
    for await (const { line, end } of fileLines(this.fh, from, this.size)) {
      const rec = decodeRecord(line);
      if (rec === null) throw new IpmsError('E_SPOOL', `the spool ${this.path} has a damaged record before byte ${end}`);
      yield { rec, end };
    }
  }

  /** Everything was replayed: empty the file. */
  async clear(): Promise<void> {
    await this.fh.truncate(0);
    await this.fh.datasync();
    this.size = 0;
    this.warned = 0;
    this.marks.clear();
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

function mib(n: number): string {
  return (n / 1048576).toFixed(n < 10 * 1048576 ? 1 : 0);
}
