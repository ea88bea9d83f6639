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

export async function listDevices(q: Queryable): Promise<DeviceListRow[]> {
  // counts from a derived table, so the outer query needs no GROUP BY over every Device column
  // (MariaDB's ONLY_FULL_GROUP_BY does not see that they depend on the key)
  const rows = await q.rows<DeviceListRow>(
    `SELECT d.*, COALESCE(c.applied, 0) AS applied, COALESCE(c.pending, 0) AS pending, COALESCE(c.failed, 0) AS failed,
            (SELECT x.last_error FROM RuleDevice x WHERE x.device_id = d.id AND x.state = 'failed'
             ORDER BY x.updated_at DESC LIMIT 1) AS last_rule_error
     FROM Device d
     LEFT JOIN (SELECT device_id, SUM(state = 'applied' AND desired = 'present') AS applied,
                       SUM(state = 'pending') AS pending, SUM(state = 'failed') AS failed
                FROM RuleDevice GROUP BY device_id) c ON c.device_id = d.id
     ORDER BY d.name`,
  );
  return rows.map((r) => ({ ...r, applied: Number(r.applied), pending: Number(r.pending), failed: Number(r.failed) }));
}
