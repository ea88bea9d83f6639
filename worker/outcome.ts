/**
 * Recording what a device did. A result only counts for the version of the row that was
 * claimed: if the rule's wish changed meanwhile (dropped while being applied), the row is just
 * released and stays pending for the next round.
 */
import { dbErrno, withRetry, type Db, type Queryable } from '../lib/db.ts';
import type { Claimed } from './claim.ts';

const CHUNK = 1000;

/** Exponential backoff: 5 s, 10 s, 20 s ... capped at one hour. */
export function backoffS(attempts: number): number {
  return Math.min(3600, 5 * 2 ** Math.min(Math.max(attempts - 1, 0), 12));
}

/** Let claimed rows go unrecorded: they are due again at once (for the next round). */
export async function release(db: Db, rows: Claimed[], workerId: string): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    const ids = rows.slice(i, i + CHUNK).map((r) => r.id);
    await withRetry(() => db.exec(
      `UPDATE RuleDevice SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ? AND id IN (${ids.map(() => '?').join(',')})`,
      [workerId, ...ids],
    ));
  }
}

/**
 * Two connections record a large batch side by side (chunks taken in turn): the server spends
 * its time in per-row work (each row's trigger, the rule's activation), which a second core
 * shares. The chunks touch disjoint rows and rules.
 */
const RECORD_LANES = 2;

/**
 * Records rows as done; returns how many were recorded of each wish (a row whose wish changed
 * meanwhile is released, not counted).
 */
export async function markDone(db: Db, rows: Claimed[], workerId: string): Promise<{ applied: number; removed: number }> {
  let recorded = 0;
  const done = { applied: 0, removed: 0 };
  const chunks: Claimed[][] = [];
  for (let i = 0; i < rows.length; i += CHUNK) chunks.push(rows.slice(i, i + CHUNK));
  let next = 0;
  const lane = () => db.pinned(async (q) => {
    // one session per lane: @ipms_batch_record tells RuleDevice_after_update to leave the rules
    // to the set-based activation below, and Rule_before_update that this activation is only
    // that (see the triggers)
    await q.exec('SET @ipms_batch_record = 1');
    const rc = await readCommittedAllowed(q);
    try {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        // every statement stands alone (autocommit): a deadlock victim is run again whole
        for (const { version, desired, ids } of byClaim(chunk, true)) {
          // READ COMMITTED, like the activation below (see activateRules): no gap locks
          const r = await execReadCommitted(q, rc,
              `UPDATE RuleDevice
               SET state = IF(desired = 'present', 'applied', 'removed'),
                   applied_at = IF(desired = 'present', UTC_TIMESTAMP(3), applied_at),
                   removed_at = IF(desired = 'absent', UTC_TIMESTAMP(3), removed_at),
                   last_error = NULL, claimed_by = NULL, claimed_until = NULL, updated_at = UTC_TIMESTAMP(3)
               WHERE id IN (${ids.map(() => '?').join(',')}) AND claimed_by = ? AND version = ? AND desired = ?`,
              [...ids, workerId, version, desired]);
          recorded += r.affectedRows;
          done[desired === 'present' ? 'applied' : 'removed'] += r.affectedRows;
        }
        const ruleIds = [...new Set(chunk.filter((r) => r.desired === 'present').map((r) => r.rule_id))];
        if (ruleIds.length) await activateRules(q, ruleIds, rc);
      }
    } catch (err) {
      next = chunks.length; // the other lane stops after its chunk in flight
      throw err;
    } finally {
      await q.exec('SET @ipms_batch_record = NULL');
    }
  });
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(RECORD_LANES, chunks.length) }, lane));
  const failed = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  // (rows left claimed are let go when the lease lapses, and applied again: adds are idempotent)
  if (failed) throw failed.reason;
  // rows whose wish changed meanwhile (another version) were not recorded: let them go
  if (recorded < rows.length) await release(db, rows, workerId);
  return done;
}

/**
 * Rules of the given ids that every device has now applied become active (what
 * RuleDevice_after_update does row by row for an UPDATE made by hand). `q` is one connection.
 * Each statement runs under READ COMMITTED: the look-up of a rule's other devices then reads
 * the latest committed rows without locking them. Under REPEATABLE READ it share-locks the index
 * records next to its own rules' too, and a DBA's UPDATE of such a rule (its Rule row, then its
 * RuleDevice rows) deadlocks with it. Nothing is missed: each device's rows are committed before
 * its activation reads, so whichever device records last sees the others' and activates.
 */
export async function activateRules(q: Queryable, ruleIds: number[], readCommitted = true): Promise<void> {
  for (let i = 0; i < ruleIds.length; i += CHUNK) {
    const ids = ruleIds.slice(i, i + CHUNK);
    const r = await execReadCommitted(q, readCommitted,
        `UPDATE Rule r SET r.status = 'active'
         WHERE r.id IN (${ids.map(() => '?').join(',')}) AND r.status = 'pending'
           AND NOT EXISTS (SELECT 1 FROM RuleDevice x WHERE x.rule_id = r.id AND x.desired = 'present' AND x.state <> 'applied')`,
        ids);
    if (r.affectedRows) await supersedeNarrower(q, ids, readCommitted);
  }
}

/**
 * A threshold rule for all of a source's traffic, now active on every device, makes the
 * source's narrower open threshold rules (a port, a protocol, a destination: a `ssh`
 * threshold's rule from before the flood) redundant: they are dropped, saying why, so that the
 * source ends with one rule, and the devices with one entry. Not before: dropping them when the
 * wide rule is created would open their ports until it is on every device. A narrower rule
 * stays when it would outlive the wide one (a longer or no expiry), when one of its devices
 * does not hold the wide one (another scope, devices chosen by hand), and when it or the wide
 * one came from a feed or by hand (an admin's port rule outlives a threshold's decision).
 * Best effort: a worker account granted before this (UPDATE of Rule.status only) cannot write
 * the reason, and the rules then stay side by side, as they did.
 */
async function supersedeNarrower(q: Queryable, ids: number[], readCommitted: boolean): Promise<void> {
  // Which, read first: the drop below fires Rule_before_update, which writes RuleDevice, so its
  // own statement may not read RuleDevice (error 1442). Then each drop by id, still open.
  const pairs = await q.rows<{ n: number; w: number }>(
    `SELECT n.id AS n, MIN(w.id) AS w
     FROM Rule w STRAIGHT_JOIN Rule n
       ON n.src_ip >= w.src_ip AND n.src_ip <= w.src_last AND LENGTH(n.src_ip) = LENGTH(w.src_ip)
     WHERE w.id IN (${ids.map(() => '?').join(',')}) AND w.status = 'active' AND w.origin = 'threshold'
       AND w.dst_ip IS NULL AND w.dst_port IS NULL AND w.proto IS NULL
       AND n.id <> w.id AND n.status IN ('pending', 'active') AND n.src_last <= w.src_last
       AND n.origin = 'threshold' AND n.targeted = 0
       AND (n.dst_ip IS NOT NULL OR n.dst_port IS NOT NULL OR n.proto IS NOT NULL)
       AND (w.expires_at IS NULL OR n.expires_at <= w.expires_at)
       AND NOT EXISTS (SELECT 1 FROM RuleDevice nd
                       WHERE nd.rule_id = n.id AND nd.desired = 'present'
                         AND NOT EXISTS (SELECT 1 FROM RuleDevice wd
                                         WHERE wd.rule_id = w.id AND wd.device_id = nd.device_id
                                           AND wd.desired = 'present' AND wd.state = 'applied'))
     GROUP BY n.id`,
    ids,
  );
  for (const p of pairs) {
    try {
      // (the wide rule checked again in the drop itself: disabled, dropped or put back to
      // pending since the read, it supersedes nothing)
      await execReadCommitted(q, readCommitted,
          `UPDATE Rule n JOIN Rule w ON w.id = ?
           SET n.status = 'dropped', n.reason = LEFT(CONCAT(IFNULL(n.reason, ''), ' [dropped: rule ', w.id, ' blocks all its traffic]'), 255)
           WHERE n.id = ? AND n.status IN ('pending', 'active') AND w.status = 'active'
             AND (w.expires_at IS NULL OR n.expires_at <= w.expires_at)`,
          [p.w, p.n]);
    } catch (err) {
      // ER_COLUMNACCESS_DENIED_ERROR: an account from `db grants` of an earlier version
      if (dbErrno(err) !== 1143) throw err;
      return;
    }
  }
}

/**
 * One autocommit statement under READ COMMITTED where the server allows it (see activateRules),
 * run again whole when picked as a deadlock victim. (SET TRANSACTION is for the next
 * transaction only: with autocommit, this statement.)
 */
function execReadCommitted(q: Queryable, readCommitted: boolean, sql: string, params: unknown[]) {
  return withRetry(async () => {
    if (readCommitted) await q.exec('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
    return q.exec(sql, params);
  });
}

/**
 * READ COMMITTED writes cannot be logged statement by statement: a server that keeps its binary
 * log with binlog_format=STATEMENT refuses them, and there the record stays REPEATABLE READ.
 */
export async function readCommittedAllowed(q: Queryable): Promise<boolean> {
  const [v] = await q.rows<{ lb: number | string; f: string }>('SELECT @@log_bin AS lb, @@binlog_format AS f');
  return !(Number(v?.lb) === 1 && String(v?.f).toUpperCase() === 'STATEMENT');
}

/**
 * The ids of RuleDevice rows by the version they were read or claimed at, and with `wish` by
 * their desired state too (nearly always one or two groups).
 */
export function byClaim<R extends { id: number; version: number; desired?: Claimed['desired'] }>(
  rows: readonly R[], wish = false,
): { version: number; desired: R['desired']; ids: number[] }[] {
  const m = new Map<string, { version: number; desired: R['desired']; ids: number[] }>();
  for (const r of rows) {
    const k = wish ? `${r.version} ${r.desired}` : `${r.version}`;
    const g = m.get(k);
    if (g) g.ids.push(r.id);
    else m.set(k, { version: r.version, desired: r.desired, ids: [r.id] });
  }
  return [...m.values()];
}

/** byClaim's groups in chunks of at most CHUNK ids: one `... WHERE id IN (...) AND version = ?` each. */
export function claimChunks<R extends { id: number; version: number }>(rows: readonly R[]): { version: number; ids: number[] }[] {
  const out: { version: number; ids: number[] }[] = [];
  for (let i = 0; i < rows.length; i += CHUNK) for (const { version, ids } of byClaim(rows.slice(i, i + CHUNK))) out.push({ version, ids });
  return out;
}

export async function markFailed(db: Db, rows: Claimed[], workerId: string, error: string): Promise<void> {
  const text = error.replace(/\s+/g, ' ').slice(0, 1000);
  let recorded = 0;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    // one backoff for the chunk, from its first row's attempts (rows of a batch fail together)
    for (const { version, ids } of byClaim(chunk)) {
      const r = await withRetry(() => db.exec(
        `UPDATE RuleDevice
         SET state = 'failed', last_error = ?, next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND,
             claimed_by = NULL, claimed_until = NULL, updated_at = UTC_TIMESTAMP(3)
         WHERE id IN (${ids.map(() => '?').join(',')}) AND claimed_by = ? AND version = ?`,
        [text, backoffS(chunk[0]!.attempts), ...ids, workerId, version],
      ));
      recorded += r.affectedRows;
    }
  }
  if (recorded < rows.length) await release(db, rows, workerId);
}

/**
 * Run again when picked as a deadlock victim, like every other write of a batch: a DBA's
 * `UPDATE Rule ...` share-locks this Device row (the foreign key check of each RuleDevice row it
 * changes). (Two full test runs saw a batch fail with a deadlock while a DBA edited rules; this
 * was the batch's one write without a retry. The statement was not caught in the act.)
 */
export async function deviceHealth(db: Db, deviceId: number, error: string | null): Promise<void> {
  await withRetry(() => db.exec(
    error === null
      ? 'UPDATE Device SET last_ok_at = UTC_TIMESTAMP(3), last_error = NULL WHERE id = ?'
      : 'UPDATE Device SET last_error = ? WHERE id = ?',
    error === null ? [deviceId] : [error.slice(0, 1000), deviceId],
  ));
}
