/**
 * One unit of work for the database or the spool: SensorLog and Data rows, and how far each
 * file they came from has been handled (its checkpoint mark). A batch is written whole, in one
 * transaction, or not at all; the marks only ever cover lines whose rows are in the batch or
 * in an earlier one, so a checkpoint never runs ahead of the rows.
 */

/** SensorLog columns the ingest writes; rows hold the values after sensor_id, in this order. */
export const LOG_COLUMNS = [
  'sensor_id', 'ts', 'kind', 'proto', 'src_ip', 'src_port', 'dst_ip', 'dst_port', 'icmp_type', 'icmp_code',
  'length', 'tcp_flags', 'os', 'remark', 'bytes_in', 'bytes_out', 'start_event_id', 'event_id', 'raw',
] as const;

/** Data columns the ingest writes; rows hold the values after sensor_id, in this order. */
export const DATA_COLUMNS = [
  'sensor_id', 'ts', 'source', 'script', 'pid', 'payload', 'file_path', 'sensorlog_event_id', 'event_id', 'raw',
] as const;

export type Row = unknown[];

/** The checkpoint of one file: every line before `offset` is handled. */
export interface Mark {
  /** file identity key, hex */
  key: string;
  /** SHA-256 of the first fpLen bytes, hex */
  fp: string;
  fpLen: number;
  dev: string;
  ino: string;
  path: string;
  format: string;
  offset: number;
  lineNo: number;
  /** streams (stdin) only: the SHA-256 (hex) of their first verifyLen bytes (see StdinSource) */
  verifyLen?: number;
  verifyHash?: string;
}

export class Batch {
  logs: Row[] = [];
  data: Row[] = [];
  marks = new Map<string, Mark>();
  /** when the first row or mark went in (ms, monotonic clock of the caller) */
  startedAt = 0;

  get rows(): number {
    return this.logs.length + this.data.length;
  }

  get empty(): boolean {
    return this.logs.length === 0 && this.data.length === 0 && this.marks.size === 0;
  }

  private touch(now: number): void {
    if (this.startedAt === 0) this.startedAt = now;
  }

  addLog(row: Row, now: number): void {
    this.touch(now);
    this.logs.push(row);
  }

  addData(row: Row, now: number): void {
    this.touch(now);
    this.data.push(row);
  }

  mark(m: Mark, now: number): void {
    this.touch(now);
    this.marks.set(m.key, m);
  }
}
