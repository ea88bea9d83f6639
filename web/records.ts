/**
 * The upper bound of the first page of records. listLogs pages by `id < before`; without that
 * bound, MariaDB 10.11 drives the query from the small Sensor table and sorts every SensorLog
 * row (6-7 s at 2 million rows), while with it the plan is a backward range scan of the
 * primary key that stops after a page (a few ms). MAX(id) is one step down the primary key.
 */
import type { Queryable } from '../lib/db.ts';

export async function firstPageBound(q: Queryable): Promise<number | undefined> {
  const [r] = await q.rows<{ m: number | null }>('SELECT MAX(id) AS m FROM SensorLog');
  return r?.m == null ? undefined : Number(r.m) + 1;
}

/** Sensor names for the filter (listSensors also counts events, which this page does not need). */
export async function sensorNames(q: Queryable): Promise<string[]> {
  const rows = await q.rows<{ name: string }>('SELECT name FROM Sensor ORDER BY name');
  return rows.map((r) => r.name);
}
