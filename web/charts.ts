/**
 * The overview's numbers: hits per hour per sensor and the top sources, over the last day.
 * Both read SensorLog through ix_sensorlog_sensor_ts (an equality on sensor_id and a range on
 * ts), so they cost the rows of the last day, never the whole table. Hits are the counted
 * kinds (start, probe); end and stray rows are not.
 */
import type { Queryable } from '../lib/db.ts';
import { bytesToIp } from '../lib/ip.ts';

export const HOURS = 24;

export interface Window {
  /** start of the first hour shown */
  from: Date;
  /** end of the current (last) hour */
  to: Date;
}

export function lastDay(now = new Date()): Window {
  const to = new Date(Math.ceil((now.getTime() + 1) / 3_600_000) * 3_600_000);
  return { from: new Date(to.getTime() - HOURS * 3_600_000), to };
}

/** Hits per hour of one sensor: HOURS numbers, oldest first. */
export async function hitsPerHour(q: Queryable, sensorId: number, w: Window): Promise<number[]> {
  const rows = await q.rows<{ bucket: number; n: number }>(
    `SELECT FLOOR(TIMESTAMPDIFF(SECOND, ?, ts) / 3600) AS bucket, COUNT(*) AS n
     FROM SensorLog WHERE sensor_id = ? AND ts >= ? AND ts < ? AND kind IN ('start', 'probe')
     GROUP BY bucket`,
    [w.from, sensorId, w.from, w.to],
  );
  const out = new Array<number>(HOURS).fill(0);
  for (const r of rows) {
    const b = Number(r.bucket);
    if (b >= 0 && b < HOURS) out[b] = Number(r.n);
  }
  return out;
}

export interface TopSource {
  src: string;
  hits: number;
  sensors: number;
}

/** The sources with the most hits over all sensors in the window. */
export async function topSources(q: Queryable, sensorIds: number[], w: Window, limit = 10): Promise<TopSource[]> {
  if (!sensorIds.length) return [];
  // sensor_id IN (...) rather than no condition: each sensor is then a range of the index
  const rows = await q.rows<{ src_ip: Buffer; n: number; sensors: number }>(
    `SELECT src_ip, COUNT(*) AS n, COUNT(DISTINCT sensor_id) AS sensors
     FROM SensorLog WHERE sensor_id IN (${sensorIds.map(() => '?').join(',')}) AND ts >= ? AND ts < ? AND kind IN ('start', 'probe')
     GROUP BY src_ip ORDER BY n DESC, src_ip LIMIT ${Math.max(1, Math.min(limit, 100))}`,
    [...sensorIds, w.from, w.to],
  );
  return rows.map((r) => ({ src: bytesToIp(r.src_ip), hits: Number(r.n), sensors: Number(r.sensors) }));
}
