/**
 * One log file being read: from its checkpoint to its end, and with --follow on as it grows,
 * through rotation. Rotation by rename: the path now names another inode; the old file is
 * kept open and read to its end (honeyd writes to it until SIGUSR1 makes it reopen the path),
 * and the new file is read from its start. Copytruncate: the file got shorter, or its first
 * bytes changed; the lines not read yet are in the copy, which is found by its first bytes
 * (rotation.ts) and read from where we were, with the same identity (so the same event ids),
 * and the emptied file starts over as a new file.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Batch, Mark } from './batch.ts';
import { FP_LEN, EventIds, sha256, type FileIdentity } from './event-id.ts';
import { chooseReader, FORMATS, type FormatChoice, type Reader } from './format.ts';
import { resolveIdentity } from './identity.ts';
import type { FileState, Interpreter } from './interpret.ts';
import { LineSplitter, type Line } from './lines.ts';
import { findRotated } from './rotation.ts';
import { InputError } from '../lib/errors.ts';
import { furthest } from './checkpoint.ts';
import type { Counts } from './summary.ts';

const CHUNK = 64 * 1024;
/** bytes of a connection log re-read before its checkpoint after a restart, to relink ends and payloads */
const REBUILD_BYTES = 8 * 1024 * 1024;
/** bytes of a new file looked at to tell its format */
const DETECT_BYTES = 64 * 1024;

export interface SourceEnv {
  sensor: string;
  format: FormatChoice;
  follow: boolean;
  fromStart: boolean;
  interpreter: Interpreter;
  counts: Counts;
  /** every mark known (database, spool, local file) */
  known(): Iterable<Mark>;
}

/** What the ingest loop needs of a source (a file, or standard input). */
export interface Source {
  readonly path: string;
  readonly format: string;
  readonly offset: number;
  retired: boolean;
  lastGrowth: number;
  linesRead: number;
  state: FileState | null;
  /** nothing more will come (read to the end without --follow, or input closed) */
  readonly done: boolean;
  readonly hasNewMark: boolean;
  init(): Promise<void>;
  rebuild(): Promise<void>;
  pump(batch: Batch): Promise<number>;
  takeMark(): Mark | null;
  drained(): Promise<boolean>;
  checkRotation(): Promise<Source[]>;
  /**
   * A retired source that its writer may still append to (renamed away, honeyd not yet told
   * to reopen): true until the file now at its path has been written to, which honeyd does
   * first thing after it reopens ('honeyd log started').
   */
  mayGrow(): Promise<boolean>;
  close(): Promise<void>;
}

export class FileSource implements Source {
  linesRead = 0;
  identity: FileIdentity | null = null;
  reader: Reader | null = null;
  state: FileState | null = null;
  /** not the file at `path` any more (renamed away, or a rotated copy): read to its end, then closed */
  retired = false;
  lastGrowth = Date.now();
  /**
   * the path the user named, for a rotated copy read on from a checkpoint: its checkpoints
   * are kept under that path, so a restart looks for the copy next to it again
   */
  private watchedPath: string | null = null;
  /** the file that took our path when we were renamed away */
  private successor: FileSource | null = null;
  private readPos = 0;
  private splitter = new LineSplitter(0);
  private handled = 0;
  private handledLine = 0;
  private marked = -1;
  private finished = false;
  private checkedSize = -1;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly dev: string,
    readonly ino: string,
    private readonly env: SourceEnv,
  ) {}

  static async open(path: string, env: SourceEnv): Promise<FileSource> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
      const st = await fh.stat({ bigint: true });
      if (!st.isFile()) {
        await fh.close();
        throw new InputError(`${path} is not a regular file`, 'E_INGEST_FILE');
      }
      return new FileSource(path, fh, String(st.dev), String(st.ino), env);
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, 'E_INGEST_FILE');
    }
  }

  /** A rotated copy of `from`'s file, read on from where `from` was, with its identity and state. */
  static async continuation(path: string, from: FileSource): Promise<FileSource> {
    const src = await FileSource.open(path, from.env);
    src.identity = from.identity;
    src.reader = from.reader;
    src.state = from.state;
    src.retired = true;
    src.watchedPath = from.watchedPath ?? from.path;
    src.seek(from.handled, from.handledLine);
    return src;
  }

  /** A rotated file found at start, known by `mark`: read on from the mark. */
  static async resume(path: string, mark: Mark, identity: FileIdentity, env: SourceEnv): Promise<FileSource> {
    const src = await FileSource.open(path, env);
    src.retired = true;
    src.watchedPath = mark.path;
    await src.setup(identity, [mark]);
    return src;
  }

  get format(): string {
    return this.reader?.format ?? 'pending';
  }

  get done(): boolean {
    return this.finished;
  }

  get hasNewMark(): boolean {
    return this.identity !== null && this.handled !== this.marked;
  }

  async init(): Promise<void> {
    if (this.identity === null) await this.prepare();
  }

  get offset(): number {
    return this.handled;
  }

  private seek(offset: number, lineNo: number): void {
    this.readPos = offset;
    this.handled = offset;
    this.handledLine = lineNo;
    this.splitter = new LineSplitter(offset);
    if (this.state) this.state.lineNo = lineNo;
  }

  private async readAt(pos: number, n: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(n);
    const { bytesRead } = await this.fh.read(buf, 0, n, pos);
    return buf.subarray(0, bytesRead);
  }

  /** Identity, format and resume point, once the file has a first byte. */
  private async prepare(): Promise<boolean> {
    const head = await this.readAt(0, FP_LEN);
    const found = resolveIdentity(head, this.dev, this.ino, this.env.known());
    if (found === null) return false;
    await this.setup(found.identity, found.marks);
    return true;
  }

  private async setup(identity: FileIdentity, marks: Mark[]): Promise<void> {
    this.identity = identity;
    const lines = (await this.readAt(0, DETECT_BYTES)).toString('utf8').split('\n').slice(0, -1);
    const at = this.env.fromStart ? undefined : furthest(...marks);
    // a file whose first lines were only markers was read on until its format showed: the mark knows it
    const known = FORMATS.find((f) => f === at?.format);
    this.reader = chooseReader(this.env.format === 'auto' && known !== undefined ? known : this.env.format, lines);
    this.state = {
      path: this.path, parse: this.reader.parse, ids: new EventIds(this.env.sensor, identity.key), lineNo: 0, rejected: 0,
      chunkLink: null, inChunk: false, deferredAt: -1, canWait: this.env.follow,
    };
    this.seek(at?.offset ?? 0, at?.lineNo ?? 0);
  }

  /** After a restart: feed the lines just before the checkpoint to the connection index. */
  async rebuild(): Promise<void> {
    if (this.state === null || this.handled === 0 || !['honeyd-log', 'script-log'].includes(this.format)) return;
    let pos = Math.max(0, this.handled - REBUILD_BYTES);
    const state = this.state;
    const splitter = new LineSplitter(pos);
    let skipFirst = pos > 0; // start at a line boundary
    while (pos < this.handled) {
      const chunk = await this.readAt(pos, Math.min(CHUNK, this.handled - pos));
      if (chunk.length === 0) break;
      splitter.push(chunk, (line) => {
        if (skipFirst) {
          skipFirst = false;
          return;
        }
        if (line.end <= this.handled) this.env.interpreter.rebuild(state, line);
      });
      pos += chunk.length;
    }
  }

  /**
   * Read what there is (at most one chunk) into the batch. Returns the bytes consumed; 0 when
   * there is nothing new (or a line has to wait for the next round).
   */
  async pump(batch: Batch): Promise<number> {
    if (this.identity === null && !(await this.prepare())) {
      if (!this.env.follow) this.finished = true; // an empty file: nothing to do
      return 0;
    }
    const size = (await this.fh.stat()).size;
    if (this.readPos >= size) {
      if (!this.env.follow && !this.finished) {
        this.finished = true;
        this.splitter.finish((l) => this.onLine(l, batch));
      }
      return 0;
    }
    this.finished = false;
    const chunk = await this.readAt(this.readPos, Math.min(CHUNK, size - this.readPos));
    if (chunk.length === 0) return 0;
    this.lastGrowth = Date.now();
    this.stopAt = -1;
    this.splitter.push(chunk, (l) => this.onLine(l, batch));
    if (this.stopAt >= 0) {
      const n = this.stopAt - this.readPos;
      this.readPos = this.stopAt;
      this.splitter = new LineSplitter(this.stopAt);
      return n;
    }
    this.readPos += chunk.length;
    return chunk.length;
  }

  private stopAt = -1;

  private onLine(line: Line, batch: Batch): void {
    if (this.stopAt >= 0) return;
    // A last line without its \n may be one honeyd is still writing: it is left, whole, for the
    // next run (its event id comes from its position, so a row made of its first half now
    // would stand for good in place of the finished line). honeyd ends every line it writes.
    if (line.partial) {
      this.env.counts.unfinished++;
      return;
    }
    const state = this.state!;
    if (!this.env.interpreter.line(state, line, batch)) {
      this.stopAt = line.offset;
      return;
    }
    this.env.counts.lines++;
    this.linesRead++;
    state.lineNo++;
    this.handled = line.end;
    this.handledLine = state.lineNo;
  }

  /** The checkpoint of this file if it moved since the last call. */
  takeMark(): Mark | null {
    if (this.identity === null || this.handled === this.marked) return null;
    this.marked = this.handled;
    const id = this.identity;
    return {
      key: id.key.toString('hex'), fp: id.fp.toString('hex'), fpLen: id.fpLen, dev: id.dev, ino: id.ino,
      path: this.watchedPath ?? this.path, format: this.format, offset: this.handled, lineNo: this.handledLine,
    };
  }

  /** Is everything there is read (and handled)? */
  async drained(): Promise<boolean> {
    return this.identity !== null && this.readPos >= (await this.fh.stat()).size && this.splitter.pending === 0;
  }

  /**
   * --follow: has the file been rotated? Returns the sources to read from now on besides this
   * one (the new file at the path, or the copy holding our unread lines).
   */
  async checkRotation(): Promise<Source[]> {
    if (this.retired) return [];
    let st;
    try {
      st = await stat(this.path, { bigint: true });
    } catch {
      return []; // renamed and not yet recreated: keep reading the open file
    }
    if (String(st.dev) !== this.dev || String(st.ino) !== this.ino) {
      this.retired = true;
      this.successor = await FileSource.open(this.path, this.env);
      return [this.successor];
    }
    const size = (await this.fh.stat()).size;
    if (this.identity === null || size === this.checkedSize) return [];
    this.checkedSize = size;
    const head = size >= this.identity.fpLen ? await this.readAt(0, this.identity.fpLen) : null;
    if (size >= this.readPos && head !== null && sha256(head).equals(this.identity.fp)) return [];
    // copytruncate: the unread lines, if any, are in the copy
    const out: FileSource[] = [];
    const copy = await findRotated(this.path, this.identity, this.handled);
    if (copy !== null) out.push(await FileSource.continuation(copy, this));
    this.identity = null;
    this.reader = null;
    this.state = null;
    this.marked = -1;
    this.checkedSize = -1;
    this.seek(0, 0);
    return out;
  }

  async mayGrow(): Promise<boolean> {
    if (this.successor === null) return false; // a rotated copy: nobody writes to it
    return (await this.successor.fh.stat()).size === 0;
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
