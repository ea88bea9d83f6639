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
  /** the first `payloadLines` payload lines (attacker-written: any number of them) */
  payload: { ts: string; source: string; script: string | null; text: string; file_path: string | null; clipped?: true }[];
  /** how many payload lines the record has in all */
  payload_total: number;
}

export interface LogFilter {
  sensor?: string;
  src?: Cidr;
  dstPort?: number;
  since?: Date;
  /** keyset paging: rows with id below this */
  before?: number;
  /** rows with id at or above this (a bound on the rows a filter without an index reads) */
  after?: number;
  limit?: number;
  /** payload lines returned per record (default 200; 0: none, only the count) */
  payloadLines?: number;
  /** characters kept of each payload line (default 4096); a longer line is cut and marked `clipped` */
  payloadChars?: number;
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
  if (f.after !== undefined) {
    where.push('l.id >= ?');
    params.push(f.after);
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
  const totals = new Map<number, number>();
  const maxLines = Math.max(0, Math.floor(f.payloadLines ?? 200));
  const maxChars = Math.max(1, Math.floor(f.payloadChars ?? 4096));
  if (rows.length) {
    // Rows written by hand link payloads by id; the ingest links them by event id (schema 0003),
    // and an id wins over an event id, as in DataView. Payload lines are written by whoever talks
    // to the honeypot, so each record brings back its count and its first lines only, cut short.
    const ids = rows.map((r) => r.id);
    const byEvent = new Map(rows.filter((r) => r.event_id).map((r) => [r.event_id!.toString('hex'), r.id]));
    type D = { id: number; owner: number | Buffer; total: number; ts: Date; source: string; script: string | null; text: string; len: number; file_path: string | null };
    const pick = (col: string, extra: string, n: number) =>
      `SELECT id, owner, total, ts, source, script, text, len, file_path FROM (
         SELECT id, ${col} AS owner, COUNT(*) OVER (PARTITION BY ${col}) AS total,
                ROW_NUMBER() OVER (PARTITION BY ${col} ORDER BY id) AS rn,
                ts, source, script, SUBSTRING(payload, 1, ${maxChars}) AS text, CHAR_LENGTH(payload) AS len, file_path
         FROM Data WHERE ${col} IN (${Array.from({ length: n }, () => '?').join(',')}) ${extra}) x
       WHERE rn <= ${Math.max(maxLines, 1)} ORDER BY id`;
    const ds: D[] = await q.rows<D>(pick('sensorlog_id', '', ids.length), ids);
    if (byEvent.size) {
      const evs = rows.filter((r) => r.event_id).map((r) => r.event_id!);
      ds.push(...(await q.rows<D>(pick('sensorlog_event_id', 'AND sensorlog_id IS NULL', evs.length), evs)));
    }
    const counted = new Set<string>();
    for (const d of ds.sort((a, b) => a.id - b.id)) {
      const byEv = Buffer.isBuffer(d.owner);
      const owner = byEv ? byEvent.get((d.owner as Buffer).toString('hex')) : Number(d.owner);
      if (owner === undefined) continue;
      // each record's count comes once from each of its two kinds of link
      if (!counted.has(`${owner}/${byEv}`)) {
        counted.add(`${owner}/${byEv}`);
        totals.set(owner, (totals.get(owner) ?? 0) + Number(d.total));
      }
      if (maxLines === 0) continue;
      const list = payload.get(owner) ?? [];
      if (list.length >= maxLines) continue;
      list.push({
        ts: d.ts.toISOString(), source: d.source, script: d.script, text: d.text, file_path: d.file_path,
        ...(Number(d.len) > maxChars ? { clipped: true as const } : {}),
      });
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
    payload_total: totals.get(r.id) ?? 0,
  }));
}
