/** Devices with their health, for the console: the Device row and its RuleDevice counts. */
import type { Queryable } from '../lib/db.ts';

export interface DeviceHealth {
  name: string;
  adapter: string;
  transport: string;
  host: string;
  port: number;
  enabled: boolean;
  applies_to: string;
  /** the last time the worker reached it without error */
  last_ok_at: Date | null;
  /** the device's own last error (connection, host key, tool missing) */
  last_error: string | null;
  applied: number;
  pending: number;
  failed: number;
  /** the newest error of a rule on this device */
  last_rule_error: string | null;
}

export async function listDeviceHealth(q: Queryable): Promise<DeviceHealth[]> {
  const rows = await q.rows<Omit<DeviceHealth, 'enabled'> & { enabled: number }>(
    `SELECT d.name, d.adapter, d.transport, d.host, d.port, d.enabled, d.applies_to, d.last_ok_at, d.last_error,
            COALESCE(SUM(rd.state = 'applied' AND rd.desired = 'present'), 0) AS applied,
            COALESCE(SUM(rd.state = 'pending'), 0) AS pending, COALESCE(SUM(rd.state = 'failed'), 0) AS failed,
            (SELECT x.last_error FROM RuleDevice x WHERE x.device_id = d.id AND x.state = 'failed'
             ORDER BY x.updated_at DESC LIMIT 1) AS last_rule_error
     FROM Device d LEFT JOIN RuleDevice rd ON rd.device_id = d.id
     GROUP BY d.id, d.name, d.adapter, d.transport, d.host, d.port, d.enabled, d.applies_to, d.last_ok_at, d.last_error
     ORDER BY d.name`,
  );
  return rows.map((r) => ({
    ...r, enabled: Boolean(r.enabled), applied: Number(r.applied), pending: Number(r.pending), failed: Number(r.failed),
  }));
}
