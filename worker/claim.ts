/**
 * Claiming work. One worker per device at a time: a worker first leases the devices that have
 * due work and nobody working on them (claimed_by / claimed_until on Device), then claims
 * their due RuleDevice rows in one short transaction (SELECT ... FOR UPDATE SKIP LOCKED); the
 * slow part (SSH) runs outside it, and the lease is released when the device's batch is
 * recorded. Whole-device leases matter because adapters that rewrite their objects whole
 * (iptables, or any adapter's fallback) would otherwise throw away a concurrent batch's rules.
 * A lease or claim its worker never released (it died) lapses at claimed_until.
 *
 * Lock order. A DBA's `UPDATE Rule ...` locks the Rule row, then (trigger) its RuleDevice
 * rows, then (foreign key check of the changed (device_id, state) index entry) a shared lock on
 * each Device row. So the worker never holds a Device lock while it waits for RuleDevice rows:
 * each lease is one single-row statement of its own, and the claim transaction does not touch
 * Device at all. (Both orders together deadlock within seconds under a busy DBA; see
 * test/worker/worker.test.ts.)
 */
import { withRetry, type Db, type Queryable } from '../lib/db.ts';
import { RefusedError } from '../lib/errors.ts';
import type { Action, Desired } from '../lib/types.ts';

export interface Claimed {
  id: number;
  rule_id: number;
  device_id: number;
  desired: Desired;
  version: number;
  attempts: number;
  applied_at: Date | null;
  /** the action of an entry the device may still hold from before the rule's action changed (schema 0019) */
  old_action?: Action | null;
}

export interface ClaimOptions {
  workerId: string;
  limit: number;
  leaseS: number;
  deviceId?: number;
}

/**
 * Due rows, and free leases: unclaimed, lapsed, or held by the asking worker itself. A worker
 * claims only between its batches (a tick waits for every device's batch), so what still
 * carries its own id is left over from a batch that could not be recorded (the database went
 * away mid-batch): it takes that back at once instead of waiting out its own lease.
 * (Each takes the worker id as its one parameter.)
 */
const DUE = `rd.state IN ('pending', 'failed') AND rd.next_attempt_at <= UTC_TIMESTAMP(3)
  AND (rd.claimed_until IS NULL OR rd.claimed_until < UTC_TIMESTAMP(3) OR rd.claimed_by = ?)`;

const LEASE_FREE = '(claimed_until IS NULL OR claimed_until < UTC_TIMESTAMP(3) OR claimed_by = ?)';

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(',');

/**
 * Take the device's lease if nobody holds it; one row, one statement, nothing else locked.
 * The worker leases enabled devices only; commands an admin runs may lease a disabled one.
 */
async function leaseDevice(db: Queryable, deviceId: number, holder: string, leaseS: number, enabledOnly = true): Promise<boolean> {
  const r = await withRetry(() => db.exec(
    `UPDATE Device SET claimed_by = ?, claimed_until = UTC_TIMESTAMP(3) + INTERVAL ? SECOND
     WHERE id = ? ${enabledOnly ? 'AND enabled = 1' : ''} AND ${LEASE_FREE}`,
    [holder, leaseS, deviceId, holder],
  ));
  return r.affectedRows === 1;
}

export async function claimDue(db: Db, o: ClaimOptions): Promise<Claimed[]> {
  const limit = Math.max(1, Math.floor(o.limit));
  // which devices have due work and are free: a plain read, only a hint
  const candidates = await db.rows<{ id: number }>(
    `SELECT d.id FROM Device d
     WHERE d.enabled = 1 AND ${LEASE_FREE} ${o.deviceId !== undefined ? 'AND d.id = ?' : ''}
       AND EXISTS (SELECT 1 FROM RuleDevice rd WHERE rd.device_id = d.id AND ${DUE})
     ORDER BY d.id`,
    [o.workerId, ...(o.deviceId !== undefined ? [o.deviceId] : []), o.workerId],
  );
  const leased: number[] = [];
  for (const d of candidates) if (await leaseDevice(db, d.id, o.workerId, o.leaseS)) leased.push(d.id);
  if (!leased.length) return [];
  let rows: Claimed[];
  try {
    rows = await withRetry(() => db.transaction(async (tx) => {
      const due = await tx.rows<Claimed>(
        `SELECT rd.id, rd.rule_id, rd.device_id, rd.desired, rd.version, rd.attempts, rd.applied_at, rd.old_action
         FROM RuleDevice rd
         WHERE rd.device_id IN (${placeholders(leased.length)}) AND ${DUE}
         ORDER BY rd.device_id, rd.id
         LIMIT ${limit}
         FOR UPDATE SKIP LOCKED`,
        [...leased, o.workerId],
      );
      for (let i = 0; i < due.length; i += 5000) {
        const ids = due.slice(i, i + 5000).map((r) => r.id);
        await tx.exec(
          `UPDATE RuleDevice SET claimed_by = ?, claimed_until = UTC_TIMESTAMP(3) + INTERVAL ? SECOND, attempts = attempts + 1
           WHERE id IN (${placeholders(ids.length)})`,
          [o.workerId, o.leaseS, ...ids],
        );
      }
      return due;
    }));
  } catch (err) {
    await releaseDevices(db, leased, o.workerId).catch(() => undefined);
    throw err;
  }
  // devices whose rows went past the limit (or were taken meanwhile) are let go at once
  const got = new Set(rows.map((r) => r.device_id));
  await releaseDevices(db, leased.filter((id) => !got.has(id)), o.workerId);
  return rows.map((r) => ({ ...r, attempts: r.attempts + 1 }));
}

/** Let go of devices this holder leased (a lease someone else took over is left alone). */
export async function releaseDevices(q: Queryable, deviceIds: number[], holder: string): Promise<void> {
  // one row per statement, for the lock order above
  for (const id of deviceIds) {
    await withRetry(() => q.exec('UPDATE Device SET claimed_by = NULL, claimed_until = NULL WHERE id = ? AND claimed_by = ?', [id, holder]));
  }
}

/**
 * Keep a lease alive while its holder works (a batch of 100k rules, a slow device): renewed
 * every third of its length, so a short lease still covers a long batch, and a dead worker's
 * device is free again within one lease. Returns the function that stops renewing.
 */
export function keepLease(db: Queryable, deviceId: number, holder: string, leaseS: number, onError: (err: unknown) => void): () => void {
  // (a renewal still on its way when the holder stops and lets the device go finds it let go:
  // not a lease lost, and not said)
  let stopped = false;
  const timer = setInterval(() => {
    db.exec('UPDATE Device SET claimed_until = UTC_TIMESTAMP(3) + INTERVAL ? SECOND WHERE id = ? AND claimed_by = ?', [leaseS, deviceId, holder])
      .then((r) => {
        if (r.affectedRows === 0 && !stopped) onError(new Error('the lease was lost (lapsed and taken over, or the device removed)'));
      })
      .catch((err: unknown) => {
        if (!stopped) onError(err);
      });
  }, Math.max(1000, (leaseS * 1000) / 3));
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/**
 * Run `fn` holding the device's lease, for commands that talk to a device outside the worker
 * (reconcile, remove --take-off). Waits up to waitMs for a worker's batch to finish.
 */
export async function withDeviceLease<T>(
  db: Db, device: { id: number; name: string }, holder: string, fn: () => Promise<T>,
  o: { leaseS?: number; waitMs?: number } = {},
): Promise<T> {
  const leaseS = o.leaseS ?? 60;
  const end = Date.now() + (o.waitMs ?? 30_000);
  for (let attempt = 0; ; attempt++) {
    if (await leaseDevice(db, device.id, holder, leaseS, false)) break;
    if (Date.now() >= end || attempt >= 1000) {
      const [cur] = await db.rows<{ claimed_by: string | null; claimed_until: Date | null }>(
        'SELECT claimed_by, claimed_until FROM Device WHERE id = ?', [device.id]);
      throw new RefusedError(
        `device ${device.name} is busy: ${cur?.claimed_by ?? 'a worker'} holds it until ${cur?.claimed_until?.toISOString() ?? 'soon'}; try again`,
        'E_BUSY',
      );
    }
    await new Promise((res) => setTimeout(res, 250));
  }
  const stop = keepLease(db, device.id, holder, leaseS, () => undefined);
  try {
    return await fn();
  } finally {
    stop();
    await releaseDevices(db, [device.id], holder);
  }
}

/**
 * Rules whose time is up become 'expired'; the Rule trigger then takes them off the devices.
 * Found by a plain (non-locking) read first and updated by primary key: a locking range scan
 * of the (status, expires_at) index on every poll would lock index records before rows, the
 * reverse of a DBA's `UPDATE Rule ... WHERE id = ...`, and deadlock with it.
 */
export async function expireDue(db: Db): Promise<number> {
  let expired = 0;
  for (let round = 0; round < 100; round++) {
    const due = await db.rows<{ id: number }>(
      `SELECT id FROM Rule
       WHERE status IN ('pending', 'active', 'disabled') AND expires_at IS NOT NULL AND expires_at <= UTC_TIMESTAMP(3)
       ORDER BY id LIMIT 5000`,
    );
    if (!due.length) break;
    const r = await db.exec(
      `UPDATE Rule SET status = 'expired'
       WHERE id IN (${placeholders(due.length)}) AND status IN ('pending', 'active', 'disabled') AND expires_at <= UTC_TIMESTAMP(3)`,
      due.map((d) => d.id),
    );
    expired += r.affectedRows;
    if (due.length < 5000) break;
  }
  return expired;
}
