/**
 * Claiming work. One worker per device at a time: in one short transaction a worker leases the
 * Device rows that have due work and nobody working on them (SELECT ... FOR UPDATE SKIP LOCKED,
 * then claimed_by / claimed_until on Device), then claims those devices' due RuleDevice rows;
 * the slow part (SSH) runs outside it, and the lease is released when the device's batch is
 * recorded. Whole-device leases matter because adapters that rewrite their objects whole
 * (iptables, or any adapter's fallback) would otherwise throw away a concurrent batch's rules.
 * A lease or claim its worker never released (it died) lapses at claimed_until.
 */
import type { Db, Queryable } from '../lib/db.ts';
import { RefusedError } from '../lib/errors.ts';
import type { Desired } from '../lib/types.ts';

export interface Claimed {
  id: number;
  rule_id: number;
  device_id: number;
  desired: Desired;
  version: number;
  attempts: number;
  applied_at: Date | null;
}

export interface ClaimOptions {
  workerId: string;
  limit: number;
  leaseS: number;
  deviceId?: number;
}

const DUE = `rd.state IN ('pending', 'failed') AND rd.next_attempt_at <= UTC_TIMESTAMP(3)
  AND (rd.claimed_until IS NULL OR rd.claimed_until < UTC_TIMESTAMP(3))`;

const LEASE_FREE = '(d.claimed_until IS NULL OR d.claimed_until < UTC_TIMESTAMP(3))';

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(',');

export async function claimDue(db: Db, o: ClaimOptions): Promise<Claimed[]> {
  const limit = Math.max(1, Math.floor(o.limit));
  return db.transaction(async (tx) => {
    // the EXISTS is a plain (non-locking) read: only a hint of which devices have work
    const devices = await tx.rows<{ id: number }>(
      `SELECT d.id FROM Device d
       WHERE d.enabled = 1 AND ${LEASE_FREE} ${o.deviceId !== undefined ? 'AND d.id = ?' : ''}
         AND EXISTS (SELECT 1 FROM RuleDevice rd WHERE rd.device_id = d.id AND ${DUE})
       ORDER BY d.id
       FOR UPDATE SKIP LOCKED`,
      o.deviceId !== undefined ? [o.deviceId] : [],
    );
    if (!devices.length) return [];
    const deviceIds = devices.map((d) => d.id);
    await tx.exec(
      `UPDATE Device SET claimed_by = ?, claimed_until = UTC_TIMESTAMP(3) + INTERVAL ? SECOND WHERE id IN (${placeholders(deviceIds.length)})`,
      [o.workerId, o.leaseS, ...deviceIds],
    );
    const rows = await tx.rows<Claimed>(
      `SELECT rd.id, rd.rule_id, rd.device_id, rd.desired, rd.version, rd.attempts, rd.applied_at
       FROM RuleDevice rd
       WHERE rd.device_id IN (${placeholders(deviceIds.length)}) AND ${DUE}
       ORDER BY rd.device_id, rd.id
       LIMIT ${limit}
       FOR UPDATE SKIP LOCKED`,
      deviceIds,
    );
    for (let i = 0; i < rows.length; i += 5000) {
      const ids = rows.slice(i, i + 5000).map((r) => r.id);
      await tx.exec(
        `UPDATE RuleDevice SET claimed_by = ?, claimed_until = UTC_TIMESTAMP(3) + INTERVAL ? SECOND, attempts = attempts + 1
         WHERE id IN (${placeholders(ids.length)})`,
        [o.workerId, o.leaseS, ...ids],
      );
    }
    // devices whose rows went to the limit (or were taken meanwhile) are let go at once
    const got = new Set(rows.map((r) => r.device_id));
    const idle = deviceIds.filter((id) => !got.has(id));
    if (idle.length) await releaseDevices(tx, idle, o.workerId);
    return rows.map((r) => ({ ...r, attempts: r.attempts + 1 }));
  });
}

/** Let go of devices this holder leased (a lease someone else took over is left alone). */
export async function releaseDevices(q: Queryable, deviceIds: number[], holder: string): Promise<void> {
  if (!deviceIds.length) return;
  await q.exec(
    `UPDATE Device SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ? AND id IN (${placeholders(deviceIds.length)})`,
    [holder, ...deviceIds],
  );
}

/**
 * Run `fn` holding the device's lease, for commands that talk to a device outside the worker
 * (reconcile, remove --take-off). Waits up to waitMs for a worker's batch to finish.
 */
export async function withDeviceLease<T>(
  db: Db, device: { id: number; name: string }, holder: string, fn: () => Promise<T>,
  o: { leaseS?: number; waitMs?: number } = {},
): Promise<T> {
  const leaseS = o.leaseS ?? 600;
  const end = Date.now() + (o.waitMs ?? 30_000);
  for (let attempt = 0; ; attempt++) {
    const r = await db.exec(
      `UPDATE Device d SET d.claimed_by = ?, d.claimed_until = UTC_TIMESTAMP(3) + INTERVAL ? SECOND
       WHERE d.id = ? AND ${LEASE_FREE}`,
      [holder, leaseS, device.id],
    );
    if (r.affectedRows === 1) break;
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
  try {
    return await fn();
  } finally {
    await releaseDevices(db, [device.id], holder);
  }
}

/** Rules whose time is up become 'expired'; the Rule trigger then takes them off the devices. */
export async function expireDue(db: Db): Promise<number> {
  const r = await db.exec(
    `UPDATE Rule SET status = 'expired'
     WHERE status IN ('pending', 'active', 'disabled') AND expires_at IS NOT NULL AND expires_at <= UTC_TIMESTAMP(3)`,
  );
  return r.affectedRows;
}
