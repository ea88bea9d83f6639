/** The health of the whole: what `ipms status`, `ipms check` and the web console show. */
import type { Queryable } from '../db.ts';
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
  const [old] = await q.rows<{ s: number | null }>(
    `SELECT TIMESTAMPDIFF(SECOND, MIN(COALESCE(rd.updated_at, r.created_at)), UTC_TIMESTAMP(3)) AS s
     FROM RuleDevice rd JOIN Rule r ON r.id = rd.rule_id JOIN Device d ON d.id = rd.device_id
     WHERE rd.state IN ('pending', 'failed') AND d.enabled = 1`,
  );
  const devices = await q.rows<{ name: string; enabled: number; applied: number; pending: number; failed: number; last_error: string | null }>(
    `SELECT d.name, d.enabled,
            SUM(rd.state = 'applied') AS applied, SUM(rd.state = 'pending') AS pending, SUM(rd.state = 'failed') AS failed,
            (SELECT x.last_error FROM RuleDevice x WHERE x.device_id = d.id AND x.state = 'failed' ORDER BY x.updated_at DESC LIMIT 1) AS last_error
     FROM Device d LEFT JOIN RuleDevice rd ON rd.device_id = d.id
     GROUP BY d.id, d.name, d.enabled ORDER BY d.name`,
  );
  const sensors = known ?? (await listSensors(q, silentAfterS));
  return {
    rules,
    oldest_pending_s: Math.max(0, Number(old?.s ?? 0)),
    failed: devices.filter((d) => Number(d.failed) > 0).map((d) => ({ device: d.name, failed: Number(d.failed), last_error: d.last_error })),
    devices: devices.map((d) => ({ name: d.name, enabled: Boolean(d.enabled), applied: Number(d.applied ?? 0), pending: Number(d.pending ?? 0), failed: Number(d.failed ?? 0) })),
    silent_sensors: sensors.filter((s) => s.silent).map((s) => s.name),
    unapproved_honeypots: sensors.filter((s) => s.honeypots_unapproved > 0).map((s) => ({ sensor: s.name, honeypots: s.honeypots_unapproved })),
    sensors: sensors.length,
  };
}
