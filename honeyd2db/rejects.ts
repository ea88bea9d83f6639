/**
 * The rejects file: one JSON object a line for every line the ingest refused, with where it
 * was (file, line number, byte offset, the event id it would have had) and why. A refused line
 * is never fatal and never silently dropped: it is counted in the summary and kept here (its
 * first 4 KiB; the original file has the rest). After a crash the lines after the checkpoint
 * are read again, so a refused line may appear twice: the event id tells them apart.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { IpmsError } from '../lib/errors.ts';

const KEEP_CHARS = 4096;

export interface RejectEntry {
  file: string;
  line: number;
  offset: number;
  event: string;
  code: string;
  reason: string;
  text: string;
}

export class RejectsFile {
  private pending: string[] = [];
  written = 0;

  constructor(
    readonly path: string,
    private readonly sensor: string,
  ) {}

  add(e: RejectEntry): void {
    const text = e.text.length > KEEP_CHARS ? e.text.slice(0, KEEP_CHARS) : e.text;
    this.pending.push(JSON.stringify({ time: new Date().toISOString(), sensor: this.sensor, ...e, text }));
  }

  /** Entries waiting for the next flush. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Append what was added since the last flush. */
  flush(): void {
    if (this.pending.length === 0) return;
    const text = `${this.pending.join('\n')}\n`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      // on disk before the checkpoint that passes these lines is committed
      const fd = openSync(this.path, 'a');
      try {
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw new IpmsError('E_REJECTS_FILE', `cannot write the rejects file ${this.path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    this.written += this.pending.length;
    this.pending = [];
  }
}
