/**
 * `ipms ingest -`: lines from standard input (e.g. `honeyd -d 2>&1 | ipms ingest --sensor s -`).
 * A stream cannot be re-read, so it is identified like a file, by its first bytes (up to
 * FP_LEN, or all of it if it ends sooner): the same input piped again gets the same event ids,
 * and the bytes before a checkpoint of that identity are skipped. Chunks are queued as they
 * come (the stream is paused while too much is queued), so a quiet pipe never blocks the loop.
 *
 * But two streams may share their first KiB: `honeyd -d` in a container prints the same banner
 * and start-up lines, as pid 1, on every start. So a stream's checkpoint also keeps the hash of
 * its first VERIFY_MAX bytes (fewer if it had fewer): a new run resumes at that checkpoint only
 * when its own first bytes hash the same. Before deciding it waits for that many bytes, the end
 * of the input, or VERIFY_WAIT_MS (a live pipe that pauses is a new run: input piped again
 * comes all at once). Another stream gets an identity of its own, derived from the old one and
 * its own first bytes, so its lines get ids of their own and it is found again if piped again.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Batch, Mark } from './batch.ts';
import { furthest } from './checkpoint.ts';
import { EventIds, FP_LEN, sha256, type FileIdentity } from './event-id.ts';
import { chooseReader, type Reader } from './format.ts';
import { resolveIdentity } from './identity.ts';
import type { FileState } from './interpret.ts';
import { LineSplitter, type Line } from './lines.ts';
import type { Source, SourceEnv } from './source.ts';

const HIGH_WATER = 4 * 1024 * 1024;
const DETECT_LINES = 50;
/** bytes of a stream's head whose hash its checkpoints keep (below HIGH_WATER: all queued at once) */
export const VERIFY_MAX = 1024 * 1024;
/** how long a new run waits for the bytes that tell whether it is the stream of a checkpoint */
export const VERIFY_WAIT_MS = 3000;

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
  /** the stream's first VERIFY_MAX bytes, for the checkpoints' hash */
  private readonly head: Buffer[] = [];
  private headLen = 0;
  private headHash: { len: number; hash: string } | null = null;
  private firstDataAt = 0;
  private waitTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly stream: Readable,
    private readonly env: SourceEnv,
    private readonly wake: () => void,
  ) {
    stream.on('data', (chunk: Buffer) => {
      if (this.firstDataAt === 0) this.firstDataAt = Date.now();
      if (this.headLen < VERIFY_MAX) {
        const part = chunk.subarray(0, VERIFY_MAX - this.headLen);
        this.head.push(part);
        this.headLen += part.length;
      }
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
    // (--from-start too needs to know which stream this is: its ids are that stream's)
    const which = this.whichStream(all, found.identity, found.marks);
    if (which === null) return false;
    this.identity = which.identity;
    const head = all.subarray(0, 64 * 1024).toString('utf8').split('\n').slice(0, DETECT_LINES);
    this.reader = chooseReader(this.env.format, head);
    this.state = {
      path: '-', parse: this.reader.parse, ids: new EventIds(this.env.sensor, which.identity.key), lineNo: 0, rejected: 0,
      chunkLink: null, inChunk: false, deferredAt: -1, canWait: false,
    };
    const at = this.env.fromStart ? undefined : which.at;
    // lines before the checkpoint of this same input were handled by an earlier run: skip them
    this.skipTo = at?.offset ?? 0;
    this.handled = this.skipTo;
    this.handledLine = at?.lineNo ?? 0;
    this.state.lineNo = this.handledLine;
    this.splitter = new LineSplitter(this.skipTo);
    return true;
  }

  /**
   * Is this the stream of the furthest checkpoint of its identity (see the top of this file)?
   * Its identity and where to resume; null: wait for more bytes.
   */
  private whichStream(all: Buffer, identity: FileIdentity, marks: Mark[]): { identity: FileIdentity; at: Mark | undefined } | null {
    let id = identity;
    let candidates = marks;
    // (a few levels: a stream may share its head with several earlier ones)
    for (let level = 0; level < 4; level++) {
      const at = furthest(...candidates);
      // no checkpoint, or one made before checkpoints kept a hash: resume as before
      if (at === undefined || at.verifyLen === undefined || at.verifyHash === undefined) return { identity: id, at };
      if (all.length < at.verifyLen && !this.ended) {
        const left = VERIFY_WAIT_MS - (Date.now() - this.firstDataAt);
        if (left > 0) {
          if (this.waitTimer === null) {
            this.waitTimer = setTimeout(() => {
              this.waitTimer = null;
              this.wake();
            }, left);
            this.waitTimer.unref();
          }
          return null;
        }
      }
      const own = all.length >= at.verifyLen ? sha256(all.subarray(0, at.verifyLen)) : null;
      if (own !== null && own.toString('hex') === at.verifyHash) return { identity: id, at };
      // another stream with the same first bytes: its own identity, from its own bytes (the
      // same if piped again), or from chance when a live pipe paused before there were enough
      const salt = own ?? (this.ended ? sha256(all) : randomBytes(32));
      const key = sha256(Buffer.concat([Buffer.from('ipms-stream\0'), id.key, salt])).subarray(0, id.key.length);
      id = { ...id, key };
      const hex = key.toString('hex');
      candidates = [...this.env.known()].filter((m) => m.key === hex);
    }
    return { identity: id, at: undefined };
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
    // the hash of the stream's first min(offset, VERIFY_MAX) bytes (see the top of this file)
    const len = Math.min(this.handled, VERIFY_MAX, this.headLen);
    if (this.headHash?.len !== len) {
      this.headHash = { len, hash: sha256(Buffer.concat(this.head, this.headLen).subarray(0, len)).toString('hex') };
    }
    return {
      key: id.key.toString('hex'), fp: id.fp.toString('hex'), fpLen: id.fpLen, dev: id.dev, ino: id.ino,
      path: '-', format: this.format, offset: this.handled, lineNo: this.handledLine,
      verifyLen: len, verifyHash: this.headHash.hash,
    };
  }

  async mayGrow(): Promise<boolean> {
    return false;
  }

  async close(): Promise<void> {
    if (this.waitTimer !== null) clearTimeout(this.waitTimer);
    this.stream.pause();
  }
}
