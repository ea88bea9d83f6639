/** The health of the whole: what `ipms status`, `ipms check` and the web console show. */
import type { Queryable } from '../db.ts';
import { listDevices } from './devices.ts';
import { listSensors, type SensorOut } from './sensors.ts';

export interface StatusOut {
  rules: Record<string, number>;
  /** seconds the oldest due, unapplied device row has waited (0 when none) */
  oldest_pending_s: number;
  failed: { device: string; failed: number; last_error: string | null }[];
  devices: { name: string; enabled: boolean; applied: number; pending: number; failed: number }[];
  silent_sensors: string[];
  /** sensors with honeypots outside every approved range, and how many (they may be blocked) */
  unapproved_honeypots: { sensor: string; honeypots: number }[];
  sensors: number;
}

/** `known`: the sensors as listSensors gave them already (the console's overview has them). */
export async function getStatus(q: Queryable, silentAfterS = 86400, known?: SensorOut[]): Promise<StatusOut> {
  const counts = await q.rows<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM Rule GROUP BY status');
  const rules: Record<string, number> = { pending: 0, active: 0, disabled: 0, dropped: 0, expired: 0 };
  for (const c of counts) rules[c.status] = Number(c.n);
  // (the devices with their counts and newest rule error, as `devices list` has them)
  const devices = await listDevices(q);
  // The oldest device change waiting, on enabled devices: a pending row has waited since it
  // became due (next_attempt_at), a failed one since its last attempt. Read from the indexes in
  // order and stopped at the first row (a MIN over the backlog read every row of it, with its
  // rule: 0.7 s at 130k, when monitoring matters most).
  const enabled = devices.filter((d) => d.enabled).map((d) => d.id);
  let oldest = 0;
  if (enabled.length) {
    const inList = enabled.map(() => '?').join(',');
    const [w] = await q.rows<{ s: number | null }>(
      `SELECT TIMESTAMPDIFF(SECOND, LEAST(
                COALESCE((SELECT rd.next_attempt_at FROM RuleDevice rd WHERE rd.state = 'pending' AND rd.device_id IN (${inList})
                          ORDER BY rd.next_attempt_at LIMIT 1), UTC_TIMESTAMP(3)),
                COALESCE((SELECT rd.updated_at FROM RuleDevice rd WHERE rd.state = 'failed' AND rd.device_id IN (${inList})
                          ORDER BY rd.updated_at LIMIT 1), UTC_TIMESTAMP(3))), UTC_TIMESTAMP(3)) AS s`,
      [...enabled, ...enabled],
    );
    oldest = Number(w?.s ?? 0);
  }
  const sensors = known ?? (await listSensors(q, silentAfterS));
  return {
    rules,
    oldest_pending_s: Math.max(0, oldest),
    failed: devices.filter((d) => d.failed > 0).map((d) => ({ device: d.name, failed: d.failed, last_error: d.last_rule_error })),
    devices: devices.map((d) => ({ name: d.name, enabled: Boolean(d.enabled), applied: d.applied, pending: d.pending, failed: d.failed })),
    silent_sensors: sensors.filter((s) => s.silent).map((s) => s.name),
    unapproved_honeypots: sensors.filter((s) => s.honeypots_unapproved > 0).map((s) => ({ sensor: s.name, honeypots: s.honeypots_unapproved })),
    sensors: sensors.length,
  };
}
