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
