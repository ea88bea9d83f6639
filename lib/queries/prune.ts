/**
 * `ipms db prune`: retention. A honeypot network logs every contact, and nothing else ever
 * removes a SensorLog row: at 100 hits a second that is 8.6M rows a day. Old hits and their
 * payload lines, rules closed long ago (and off every device), and old audit entries go in
 * short statements, a chunk of primary keys each: every one is driven by an index, locks only
 * the rows it deletes (the ingest goes on writing new rows meanwhile), and is safe for any
 * binary log format (a DELETE ... LIMIT is not). Each kind is asked for by name: nothing is
 * deleted by default. Threshold counters purge themselves (see ipms_count_hit).
 */
import { withRetry, type Db } from '../db.ts';

export interface PruneOptions {
  /** SensorLog and Data rows whose event time is older than this many seconds */
  logsS?: number;
  /** dropped or expired rules closed longer ago than this, once off every device */
  rulesS?: number;
  /** AuditLog entries older than this */
  auditS?: number;
  dryRun?: boolean;
  /** primary keys per DELETE */
  chunk?: number;
}

export interface PruneReport {
  dryRun: boolean;
  /** the cut-off times used (UTC, ISO 8601), per kind asked for */
  before: { logs?: string; rules?: string; audit?: string };
  /** rows deleted (or, with dryRun, that would be) */
  sensorlog: number;
  data: number;
  rules: number;
  audit: number;
}

/**
 * Closed rules that are off every device (a rule's RuleDevice rows go with it: ON DELETE
 * CASCADE). A dropped rule of a blacklist entry that is still there stays: it is the record
 * that an admin dropped it, which keeps a feed that lists the address again from blocking it
 * (see Blacklist_after_update).
 */
const OLD_RULES = `FROM Rule
  WHERE status IN ('dropped', 'expired') AND COALESCE(updated_at, created_at) < ?
    AND NOT EXISTS (SELECT 1 FROM RuleDevice rd WHERE rd.rule_id = Rule.id AND rd.state <> 'removed')
    AND NOT (status = 'dropped' AND EXISTS (SELECT 1 FROM Blacklist b WHERE b.id = Rule.blacklist_id))`;

export async function prune(db: Db, o: PruneOptions): Promise<PruneReport> {
  const chunk = Math.max(1, Math.floor(o.chunk ?? 5000));
  const dryRun = o.dryRun === true;
  const cut = async (s: number | undefined) => {
    if (s === undefined) return undefined;
    const [r] = await db.rows<{ c: Date }>('SELECT UTC_TIMESTAMP(3) - INTERVAL ? SECOND AS c', [s]);
    return r!.c;
  };
  const logs = await cut(o.logsS);
  const rules = await cut(o.rulesS);
  const audit = await cut(o.auditS);
  const out: PruneReport = { dryRun, before: {}, sensorlog: 0, data: 0, rules: 0, audit: 0 };

  /**
   * Delete (or count) the rows `pick` selects, `chunk` ids at a time. Bounded: at most as many
   * rounds as the rows there were to begin with allow, so rows that keep arriving with old
   * times (a replayed log) cannot keep it going.
   */
  const sweep = async (from: string, order: string, params: unknown[]): Promise<number> => {
    const [{ n } = { n: 0 }] = await db.rows<{ n: number }>(`SELECT COUNT(*) AS n ${from}`, params);
    if (dryRun || Number(n) === 0) return Number(n);
    let done = 0;
    for (let round = 0; round <= Math.ceil(Number(n) / chunk); round++) {
      const ids = (await db.rows<{ id: number }>(`SELECT id ${from} ORDER BY ${order} LIMIT ${chunk}`, params)).map((r) => r.id);
      if (!ids.length) break;
      // (the DELETE asks again: a rule re-opened meanwhile stays)
      const r = await withRetry(() => db.exec(`DELETE ${from} AND id IN (${ids.map(() => '?').join(',')})`, [...params, ...ids]));
      done += r.affectedRows;
      if (ids.length < chunk) break;
    }
    return done;
  };

  if (logs) {
    out.before.logs = logs.toISOString();
    // per sensor, on the (sensor_id, ts) indexes of both tables
    const sensors = await db.rows<{ id: number }>('SELECT id FROM Sensor ORDER BY id');
    for (const { id } of sensors) {
      for (const table of ['SensorLog', 'Data'] as const) {
        const n = await sweep(`FROM ${table} WHERE sensor_id = ? AND ts < ?`, 'ts', [id, logs]);
        if (table === 'SensorLog') out.sensorlog += n;
        else out.data += n;
      }
    }
  }
  if (rules) {
    out.before.rules = rules.toISOString();
    out.rules = await sweep(OLD_RULES, 'id', [rules]);
  }
  if (audit) {
    out.before.audit = audit.toISOString();
    out.audit = await sweep('FROM AuditLog WHERE at < ?', 'at', [audit]);
  }
  return out;
}
