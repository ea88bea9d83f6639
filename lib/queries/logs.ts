/** Records as in the paper's figure 7: events newest first, each with its payload lines. */
import type { Queryable } from '../db.ts';
import { bytesToIp, type Cidr } from '../ip.ts';

export interface LogOut {
  id: number;
  sensor: string;
  ts: string;
  kind: string;
  proto: string;
  src: string;
  src_port: number | null;
  dst: string;
  dst_port: number | null;
  icmp: string | null;
  tcp_flags: string | null;
  os: string | null;
  bytes_in: number | null;
  bytes_out: number | null;
  payload: { ts: string; source: string; script: string | null; text: string; file_path: string | null }[];
}

export interface LogFilter {
  sensor?: string;
  src?: Cidr;
  dstPort?: number;
  since?: Date;
  /** keyset paging: rows with id below this */
  before?: number;
  limit?: number;
}

export async function listLogs(q: Queryable, f: LogFilter = {}): Promise<LogOut[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.sensor !== undefined) {
    where.push('l.sensor_id = (SELECT id FROM Sensor WHERE name = ?)');
    params.push(f.sensor);
  }
  if (f.src) {
    where.push('l.src_ip BETWEEN ? AND ? AND LENGTH(l.src_ip) = ?');
    params.push(f.src.first, f.src.last, f.src.first.length);
  }
  if (f.dstPort !== undefined) {
    where.push('l.dst_port = ?');
    params.push(f.dstPort);
  }
  if (f.since) {
    where.push('l.ts >= ?');
    params.push(f.since);
  }
  if (f.before !== undefined) {
    where.push('l.id < ?');
    params.push(f.before);
  }
  const limit = Math.min(Math.max(f.limit ?? 50, 1), 100_000);
  const rows = await q.rows<{
    id: number; sensor: string; ts: Date; kind: string; proto: string; src_ip: Buffer; src_port: number | null; dst_ip: Buffer;
    dst_port: number | null; icmp_type: number | null; icmp_code: number | null; tcp_flags: string | null; os: string | null;
    bytes_in: number | null; bytes_out: number | null; event_id: Buffer | null;
  }>(
    `SELECT l.id, l.event_id, s.name AS sensor, l.ts, l.kind, l.proto, l.src_ip, l.src_port, l.dst_ip, l.dst_port, l.icmp_type,
            l.icmp_code, l.tcp_flags, l.os, l.bytes_in, l.bytes_out
     FROM SensorLog l JOIN Sensor s ON s.id = l.sensor_id
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY l.id DESC LIMIT ${limit}`,
    params,
  );
  const payload = new Map<number, LogOut['payload']>();
  if (rows.length) {
    // rows written by hand link payloads by id; the ingest links them by event id (schema 0003)
    const ids = rows.map((r) => r.id);
    const byEvent = new Map(rows.filter((r) => r.event_id).map((r) => [r.event_id!.toString('hex'), r.id]));
    type D = { id: number; sensorlog_id: number | null; sensorlog_event_id: Buffer | null; ts: Date; source: string; script: string | null; payload: string; file_path: string | null };
    const cols = 'id, sensorlog_id, sensorlog_event_id, ts, source, script, payload, file_path';
    const ds = await q.rows<D>(`SELECT ${cols} FROM Data WHERE sensorlog_id IN (${ids.map(() => '?').join(',')})`, ids);
    if (byEvent.size) {
      const evs = rows.filter((r) => r.event_id).map((r) => r.event_id!);
      ds.push(...(await q.rows<D>(`SELECT ${cols} FROM Data WHERE sensorlog_event_id IN (${evs.map(() => '?').join(',')})`, evs)));
    }
    const seen = new Set<number>();
    for (const d of ds.sort((a, b) => a.id - b.id)) {
      if (seen.has(d.id)) continue;
      seen.add(d.id);
      const owner = d.sensorlog_id ?? (d.sensorlog_event_id ? byEvent.get(d.sensorlog_event_id.toString('hex')) : undefined);
      if (owner === undefined) continue;
      const list = payload.get(owner) ?? [];
      list.push({ ts: d.ts.toISOString(), source: d.source, script: d.script, text: d.payload, file_path: d.file_path });
      payload.set(owner, list);
    }
  }
  return rows.map((r) => ({
    id: r.id,
    sensor: r.sensor,
    ts: r.ts.toISOString(),
    kind: r.kind,
    proto: r.proto,
    src: bytesToIp(r.src_ip),
    src_port: r.src_port,
    dst: bytesToIp(r.dst_ip),
    dst_port: r.dst_port,
    icmp: r.icmp_type !== null ? `${r.icmp_type}(${r.icmp_code ?? 0})` : null,
    tcp_flags: r.tcp_flags,
    os: r.os,
    bytes_in: r.bytes_in,
    bytes_out: r.bytes_out,
    payload: payload.get(r.id) ?? [],
  }));
}
