/**
 * Claiming due RuleDevice rows: a short transaction with SELECT ... FOR UPDATE SKIP LOCKED,
 * then the claim is written and committed; the slow part (SSH) runs outside it. Rows of one
 * device come together (the Device row is locked with them, so two workers never work on the
 * same device at once); a claim not released by its worker lapses at claimed_until.
 */
import type { Db } from '../lib/db.ts';
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

export async function claimDue(db: Db, o: ClaimOptions): Promise<Claimed[]> {
  return db.transaction(async (tx) => {
    const rows = await tx.rows<Claimed>(
      `SELECT rd.id, rd.rule_id, rd.device_id, rd.desired, rd.version, rd.attempts, rd.applied_at
       FROM RuleDevice rd JOIN Device d ON d.id = rd.device_id
       WHERE rd.state IN ('pending', 'failed') AND rd.next_attempt_at <= UTC_TIMESTAMP(3)
         AND (rd.claimed_until IS NULL OR rd.claimed_until < UTC_TIMESTAMP(3))
         AND d.enabled = 1 ${o.deviceId !== undefined ? 'AND d.id = ?' : ''}
       ORDER BY rd.device_id, rd.id
       LIMIT ${Math.max(1, Math.floor(o.limit))}
       FOR UPDATE SKIP LOCKED`,
      o.deviceId !== undefined ? [o.deviceId] : [],
    );
    for (let i = 0; i < rows.length; i += 5000) {
      const ids = rows.slice(i, i + 5000).map((r) => r.id);
      await tx.exec(
        `UPDATE RuleDevice SET claimed_by = ?, claimed_until = UTC_TIMESTAMP(3) + INTERVAL ? SECOND, attempts = attempts + 1
         WHERE id IN (${ids.map(() => '?').join(',')})`,
        [o.workerId, o.leaseS, ...ids],
      );
    }
    return rows.map((r) => ({ ...r, attempts: r.attempts + 1 }));
  });
}

/** Rules whose time is up become 'expired'; the Rule trigger then takes them off the devices. */
export async function expireDue(db: Db): Promise<number> {
  const r = await db.exec(
    `UPDATE Rule SET status = 'expired'
     WHERE status IN ('pending', 'active', 'disabled') AND expires_at IS NOT NULL AND expires_at <= UTC_TIMESTAMP(3)`,
  );
  return r.affectedRows;
}
