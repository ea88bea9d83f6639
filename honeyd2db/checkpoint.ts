/**
 * Where to resume each file. Three records of progress, each durable for what it covers:
 *
 * - IngestCheckpoint in the database: written in the same transaction as the rows, so it is
 *   exactly the database's progress (authoritative whenever the database is reachable);
 * - the marks inside the spool's records: exactly what is spooled (fsync'd with the rows);
 * - a local copy of the database's checkpoints (this module's file), rewritten after commits:
 *   a hint for when the database is unreachable at start, so a restart during an outage does
 *   not spool again what the database already has. It may lag (never lead): a lagging hint
 *   only means lines read again, which their event ids make harmless.
 *
 * A file resumes at the furthest of the three.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Queryable } from '../lib/db.ts';
import type { Mark } from './batch.ts';

export class LocalCheckpoints {
  private readonly marks = new Map<string, Mark>();
  private dirty = false;
  private savedAt = 0;

  constructor(readonly path: string) {
    try {
      const data = JSON.parse(readFileSync(path, 'utf8')) as { marks?: Mark[] };
      for (const m of data.marks ?? []) this.marks.set(m.key, m);
    } catch {
      // no file yet, or unreadable: it is only a hint
    }
  }

  all(): Mark[] {
    return [...this.marks.values()];
  }

  note(m: Mark): void {
    const have = this.marks.get(m.key);
    if (have === undefined || m.offset >= have.offset) {
      this.marks.set(m.key, m);
      this.dirty = true;
    }
  }

  /** save(), at most once a second (called after every batch). */
  maybeSave(): void {
    if (Date.now() - this.savedAt >= 1000) this.save();
  }

  /** Write the file if anything changed: to a temporary name, then renamed over the old one. */
  save(): void {
    if (!this.dirty) return;
    this.savedAt = Date.now();
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify({ marks: this.all() }));
    renameSync(tmp, this.path);
    this.dirty = false;
  }
}

interface CheckpointRow {
  file_key: Buffer;
  fp: Buffer;
  fp_len: number;
  dev: string;
  ino: string;
  path: string | null;
  format: string | null;
  byte_offset: number | string;
  line_no: number | string;
  verify_len: number | null;
  verify_hash: Buffer | null;
}

export async function dbCheckpoints(q: Queryable, sensorId: number): Promise<Mark[]> {
  const rows = await q.rows<CheckpointRow>(
    'SELECT file_key, fp, fp_len, dev, ino, path, format, byte_offset, line_no, verify_len, verify_hash FROM IngestCheckpoint WHERE sensor_id = ?',
    [sensorId],
  );
  return rows.map((r) => ({
    key: r.file_key.toString('hex'),
    fp: r.fp.toString('hex'),
    fpLen: Number(r.fp_len),
    dev: r.dev,
    ino: r.ino,
    path: r.path ?? '',
    format: r.format ?? '',
    offset: Number(r.byte_offset),
    lineNo: Number(r.line_no),
    ...(r.verify_len !== null && r.verify_hash !== null ? { verifyLen: Number(r.verify_len), verifyHash: r.verify_hash.toString('hex') } : {}),
  }));
}

/** The SQL that records marks, for the batch's transaction (GREATEST: a replayed old batch never moves one back). */
export function checkpointUpsert(sensorId: number, marks: readonly Mark[]): { sql: string; params: unknown[] } {
  const values = marks.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3))').join(', ');
  const params = marks.flatMap((m) => [
    sensorId, Buffer.from(m.key, 'hex'), Buffer.from(m.fp, 'hex'), m.fpLen, m.dev, m.ino, m.path.slice(0, 1024), m.format, m.offset, m.lineNo,
    m.verifyLen ?? null, m.verifyHash !== undefined ? Buffer.from(m.verifyHash, 'hex') : null,
  ]);
  // line_no (and the rest) are assigned before byte_offset, so they compare with the old
  // offset under both left-to-right (MySQL) and simultaneous (MariaDB option) assignment.
  return {
    sql:
      'INSERT INTO IngestCheckpoint (sensor_id, file_key, fp, fp_len, dev, ino, path, format, byte_offset, line_no, verify_len, verify_hash, updated_at) ' +
      `VALUES ${values} ON DUPLICATE KEY UPDATE ` +
      'line_no = IF(VALUES(byte_offset) >= byte_offset, VALUES(line_no), line_no), ' +
      'path = IF(VALUES(byte_offset) >= byte_offset, VALUES(path), path), ' +
      // (a file first seen with only start/stop markers gets its format once its lines show it)
      'format = IF(VALUES(byte_offset) >= byte_offset, VALUES(format), format), ' +
      'verify_len = IF(VALUES(byte_offset) >= byte_offset, VALUES(verify_len), verify_len), ' +
      'verify_hash = IF(VALUES(byte_offset) >= byte_offset, VALUES(verify_hash), verify_hash), ' +
      'byte_offset = GREATEST(byte_offset, VALUES(byte_offset)), updated_at = VALUES(updated_at)',
    params,
  };
}

/** The furthest of several marks of the same file. */
export function furthest(...marks: (Mark | undefined)[]): Mark | undefined {
  let best: Mark | undefined;
  for (const m of marks) if (m !== undefined && (best === undefined || m.offset > best.offset)) best = m;
  return best;
}
