/** Devices with what they hold and their health: one query for `ipms devices list` and the console. */
import type { Queryable } from '../db.ts';
import type { DeviceRow } from '../types.ts';

export interface DeviceListRow extends DeviceRow {
  /** RuleDevice rows applied (and wanted), waiting, failed */
  applied: number;
  pending: number;
  failed: number;
  /** the newest error of a rule on this device */
  last_rule_error: string | null;
}

export interface DeviceCounts {
  applied: number;
  pending: number;
  failed: number;
}

/**
 * RuleDevice rows applied, waiting and failed, per device: read from the (device_id, state)
 * index alone, in the states counted only. Rows of closed rules (removed) pile up until
 * `db prune --rules`; a count over every row read them all (0.9-1.6 s at 600k rows). An applied
 * row is always wanted (desired present): every change of its wish resets its state.
 */
export async function deviceCounts(q: Queryable, deviceIds: number[]): Promise<Map<number, DeviceCounts>> {
  const out = new Map<number, DeviceCounts>(deviceIds.map((id) => [id, { applied: 0, pending: 0, failed: 0 }]));
  if (!deviceIds.length) return out;
  const rows = await q.rows<{ device_id: number; state: 'applied' | 'pending' | 'failed'; n: number }>(
    `SELECT device_id, state, COUNT(*) AS n FROM RuleDevice
     WHERE device_id IN (${deviceIds.map(() => '?').join(',')}) AND state IN ('applied', 'pending', 'failed')
     GROUP BY device_id, state`,
    deviceIds,
  );
  for (const r of rows) out.get(Number(r.device_id))![r.state] = Number(r.n);
  return out;
}

export async function listDevices(q: Queryable): Promise<DeviceListRow[]> {
  const rows = await q.rows<DeviceRow & { last_rule_error: string | null }>(
    `SELECT d.*,
            (SELECT x.last_error FROM RuleDevice x WHERE x.device_id = d.id AND x.state = 'failed'
             ORDER BY x.updated_at DESC LIMIT 1) AS last_rule_error
     FROM Device d ORDER BY d.name`,
  );
  const counts = await deviceCounts(q, rows.map((r) => r.id));
  return rows.map((r) => ({ ...r, ...counts.get(r.id)! }));
}

/**
 * The IPv6 rules ipms put on a device and has not taken off since (recorded as applied, or
 * applied and not removed after), counted per device: of one device, or of every device whose
 * option ipv6 is false, where ipms no longer touches IPv6 and those entries stay.
 */
export async function ipv6Held(q: Queryable, deviceId?: number): Promise<{ name: string; n: number }[]> {
  return q.rows<{ name: string; n: number }>(
    `SELECT d.name, COUNT(*) AS n FROM RuleDevice rd JOIN Device d ON d.id = rd.device_id JOIN Rule r ON r.id = rd.rule_id
     WHERE ${deviceId === undefined ? 'd.ipv6 = 0' : 'd.id = ?'} AND LENGTH(r.src_ip) = 16
       AND (rd.state = 'applied' OR (rd.applied_at IS NOT NULL AND (rd.removed_at IS NULL OR rd.removed_at < rd.applied_at)))
     GROUP BY d.name ORDER BY d.name`, deviceId === undefined ? [] : [deviceId]);
}

/** What becomes of those entries once IPv6 is off for the device (ipv6Held's count). */
export function ipv6StaysText(n: number): string {
  return `the ${n} IPv6 rule(s) ipms put there stay on the device (ipms no longer touches IPv6 on it); take them off by hand, or turn ipv6 on again`;
}
