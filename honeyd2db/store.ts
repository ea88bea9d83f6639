/**
 * One batch into the database: its SensorLog rows, its Data rows and its checkpoint marks in
 * ONE transaction, so the checkpoint never says more than the rows (and a crash at any moment
 * leaves either all of it or none). Multi-row INSERT IGNORE, CHUNK rows a statement: a row
 * whose event id is already there (a file read again, a spool replayed again) is skipped and
 * counted as already present. IGNORE would also turn real refusals (a bad value, a missing
 * sensor) into warnings, so when rows were skipped the warnings are read: anything other
 * than a duplicate key is an error. The whole transaction is retried when InnoDB picks it as
 * a deadlock victim (concurrent sensors hitting the same counters, see lib/db.ts).
 */
import { withRetry, type Db, type Queryable } from '../lib/db.ts';
import { IpmsError } from '../lib/errors.ts';
import { DATA_COLUMNS, LOG_COLUMNS, type Mark, type Row } from './batch.ts';
import { checkpointUpsert } from './checkpoint.ts';

/** Rows a statement. 500 rows of ~25 values keep a statement well under max_allowed_packet. */
export const CHUNK = 500;

export interface WriteOutcome {
  inserted: number;
  already: number;
}

/** Server warnings that mean a row was changed or refused rather than a duplicate skipped. */
const REFUSALS = new Set([1048, 1264, 1265, 1292, 1366, 1406, 1452]);

/**
 * One multi-row INSERT IGNORE of `rows` (values after sensor_id, in `columns` order). Columns
 * that are NULL in every row of the chunk are left out of the statement (they default to
 * NULL): a chunk of S lines then sends 10 values a row instead of 19, which the server parses
 * noticeably faster.
 */
async function insertRows(tx: Queryable, table: string, columns: readonly string[], sensorId: number, rows: Row[]): Promise<WriteOutcome> {
  const out: WriteOutcome = { inserted: 0, already: 0 };
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    const used: number[] = [];
    for (let c = 0; c < columns.length - 1; c++) if (chunk.some((r) => r[c] !== null && r[c] !== undefined)) used.push(c);
    const tuple = `(?${', ?'.repeat(used.length)})`;
    const params: unknown[] = [];
    for (const r of chunk) {
      params.push(sensorId);
      for (const c of used) params.push(r[c]);
    }
    const res = await tx.exec(
      `INSERT IGNORE INTO ${table} (sensor_id, ${used.map((c) => columns[c + 1]).join(', ')}) VALUES ${Array.from({ length: chunk.length }, () => tuple).join(', ')}`,
      params,
    );
    out.inserted += res.affectedRows;
    const skipped = chunk.length - res.affectedRows;
    out.already += skipped;
    if (skipped > 0) {
      const warnings = await tx.rows<{ Level: string; Code: number; Message: string }>('SHOW WARNINGS');
      const bad = warnings.find((w) => REFUSALS.has(Number(w.Code)));
      if (bad) throw new IpmsError('E_INGEST_ROW', `the database refused ${table} rows: ${bad.Message} (${bad.Code})`);
    }
  }
  return out;
}

export async function writeBatch(db: Db, sensorId: number, logs: Row[], data: Row[], marks: readonly Mark[]): Promise<WriteOutcome> {
  return withRetry(() =>
    db.transaction(async (tx) => {
      const a = await insertRows(tx, 'SensorLog', LOG_COLUMNS, sensorId, logs);
      const b = await insertRows(tx, 'Data', DATA_COLUMNS, sensorId, data);
      if (marks.length > 0) {
        const { sql, params } = checkpointUpsert(sensorId, marks);
        await tx.exec(sql, params);
      }
      return { inserted: a.inserted + b.inserted, already: a.already + b.already };
    }),
  );
}
