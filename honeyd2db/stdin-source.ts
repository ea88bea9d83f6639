/**
 * `ipms ingest -`: lines from standard input (e.g. `honeyd -d 2>&1 | ipms ingest --sensor s -`).
 * A stream cannot be re-read, so it is identified like a file, by its first bytes (up to
 * FP_LEN, or all of it if it ends sooner): the same input piped again gets the same event ids,
 * and the bytes before a checkpoint of that identity are skipped. Chunks are queued as they
 * come (the stream is paused while too much is queued), so a quiet pipe never blocks the loop.
 */
import type { Readable } from 'node:stream';
import type { Batch, Mark } from './batch.ts';
import { furthest } from './checkpoint.ts';
import { EventIds, FP_LEN, type FileIdentity } from './event-id.ts';
import { chooseReader, type Reader } from './format.ts';
import { resolveIdentity } from './identity.ts';
import type { FileState } from './interpret.ts';
import { LineSplitter, type Line } from './lines.ts';
import type { Source, SourceEnv } from './source.ts';

const HIGH_WATER = 4 * 1024 * 1024;
const DETECT_LINES = 50;

export class StdinSource implements Source {
  readonly path = '-';
  retired = false;
  lastGrowth = Date.now();
  linesRead = 0;
  state: FileState | null = null;
  private identity: FileIdentity | null = null;
  private reader: Reader | null = null;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private finished = false;
  private error: Error | null = null;
  /** stream offset of the first queued byte */
  private pos = 0;
  private skipTo = 0;
  private splitter = new LineSplitter(0);
  private handled = 0;
  private handledLine = 0;
  private marked = -1;

  constructor(
    private readonly stream: Readable,
    private readonly env: SourceEnv,
    private readonly wake: () => void,
  ) {
    stream.on('data', (chunk: Buffer) => {
      this.queue.push(chunk);
      this.queued += chunk.length;
      if (this.queued > HIGH_WATER) stream.pause();
      wake();
    });
    stream.on('end', () => {
      this.ended = true;
      wake();
    });
    stream.on('error', (err) => {
      this.error = err;
      this.ended = true;
      wake();
    });
  }

  get format(): string {
    return this.reader?.format ?? 'pending';
  }

  get offset(): number {
    return this.handled;
  }

  get done(): boolean {
    return this.finished;
  }

  get hasNewMark(): boolean {
    return this.identity !== null && this.handled !== this.marked;
  }

  async init(): Promise<void> {}

  async rebuild(): Promise<void> {}

  async checkRotation(): Promise<Source[]> {
    return [];
  }

  async drained(): Promise<boolean> {
    return this.finished;
  }

  /** Identity and format, from the first FP_LEN bytes (or everything, if the input ended first). */
  private setup(): boolean {
    if (this.queued < FP_LEN && !this.ended) return false;
    const all = Buffer.concat(this.queue);
    this.queue.length = 0;
    this.queue.push(all);
    const found = resolveIdentity(all.subarray(0, FP_LEN), 'stdin', '', this.env.known());
    if (found === null) return false;
    this.identity = found.identity;
    const head = all.subarray(0, 64 * 1024).toString('utf8').split('\n').slice(0, DETECT_LINES);
    this.reader = chooseReader(this.env.format, head);
    this.state = {
      path: '-', parse: this.reader.parse, ids: new EventIds(this.env.sensor, found.identity.key), lineNo: 0, rejected: 0,
      chunkLink: null, inChunk: false, deferredAt: -1, canWait: false,
    };
    const at = this.env.fromStart ? undefined : furthest(...found.marks);
    // lines before the checkpoint of this same input were handled by an earlier run: skip them
    this.skipTo = at?.offset ?? 0;
    this.handled = this.skipTo;
    this.handledLine = at?.lineNo ?? 0;
    this.state.lineNo = this.handledLine;
    this.splitter = new LineSplitter(this.skipTo);
    return true;
  }

  async pump(batch: Batch): Promise<number> {
    if (this.error) throw this.error;
    if (this.identity === null && !this.setup()) {
      if (this.ended) this.finished = true;
      return 0;
    }
    let chunk = this.queue.shift();
    if (chunk === undefined) {
      if (this.ended && !this.finished) {
        this.finished = true;
        this.splitter.finish((l) => this.onLine(l, batch));
      }
      return 0;
    }
    this.queued -= chunk.length;
    if (this.queued <= HIGH_WATER / 2 && this.stream.isPaused() && !this.ended) this.stream.resume();
    const start = this.pos;
    this.pos += chunk.length;
    if (this.pos <= this.skipTo) return chunk.length;
    if (start < this.skipTo) chunk = chunk.subarray(this.skipTo - start);
    this.lastGrowth = Date.now();
    this.splitter.push(chunk, (l) => this.onLine(l, batch));
    return chunk.length;
  }

  private onLine(line: Line, batch: Batch): void {
    const state = this.state!;
    // a stream cannot be read again later, so nothing waits: env.follow is false for stdin
    this.env.interpreter.line(state, line, batch);
    this.env.counts.lines++;
    this.linesRead++;
    if (line.partial) return;
    state.lineNo++;
    this.handled = line.end;
    this.handledLine = state.lineNo;
  }

  takeMark(): Mark | null {
    if (this.identity === null || this.handled === this.marked) return null;
    this.marked = this.handled;
    const id = this.identity;
    return {
      key: id.key.toString('hex'), fp: id.fp.toString('hex'), fpLen: id.fpLen, dev: id.dev, ino: id.ino,
      path: '-', format: this.format, offset: this.handled, lineNo: this.handledLine,
    };
  }

  async mayGrow(): Promise<boolean> {
    return false;
  }

  async close(): Promise<void> {
    this.stream.pause();
  }
}
