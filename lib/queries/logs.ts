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
  /** how many payload lines the record has in all (at most `payloadCountCap`, if given) */
  payload_total: number;
  /** set when the count stopped at `payloadCountCap`: the record has at least that many */
  payload_total_capped?: true;
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
  /** stop counting a record's payload lines here (pages: a count, not an exact figure) */
  payloadCountCap?: number;
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
  // SensorLog first (STRAIGHT_JOIN), read backwards by id and stopped after `limit` rows: the
  // optimizer otherwise starts from Sensor and sorts every row of the table (7 s at 2M rows)
  const rows = await q.rows<{
    id: number; sensor: string; ts: Date; kind: string; proto: string; src_ip: Buffer; src_port: number | null; dst_ip: Buffer;
    dst_port: number | null; icmp_type: number | null; icmp_code: number | null; tcp_flags: string | null; os: string | null;
    bytes_in: number | null; bytes_out: number | null; event_id: Buffer | null;
  }>(
    `SELECT l.id, l.event_id, s.name AS sensor, l.ts, l.kind, l.proto, l.src_ip, l.src_port, l.dst_ip, l.dst_port, l.icmp_type,
            l.icmp_code, l.tcp_flags, l.os, l.bytes_in, l.bytes_out
     FROM SensorLog l STRAIGHT_JOIN Sensor s ON s.id = l.sensor_id
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY l.id DESC LIMIT ${limit}`,
    params,
  );
  const payload = new Map<number, LogOut['payload']>();
  const totals = new Map<number, number>();
  const capped = new Set<number>();
  const maxLines = Math.max(0, Math.floor(f.payloadLines ?? 200));
  const maxChars = Math.max(1, Math.floor(f.payloadChars ?? 4096));
  if (rows.length) {
    // Rows written by hand link payloads by id; the ingest links them by event id (schema 0003),
    // and an id wins over an event id, as in DataView. Payload lines are written by whoever talks
    // to the honeypot, so each record brings back its count and its first lines only, cut short.
    const ids = rows.map((r) => r.id);
    const byEvent = new Map(rows.filter((r) => r.event_id).map((r) => [r.event_id!.toString('hex'), r.id]));
    type D = { id: number; owner: number | Buffer; ts: Date; source: string; script: string | null; text: string; len: number; file_path: string | null };
    type T = { owner: number | Buffer; total: number };
    type K = { k: number; total: number };
    const cap = f.payloadCountCap !== undefined ? Math.max(1, Math.floor(f.payloadCountCap)) : undefined;
    // Each record's lines and count are read per record from the index on its link, never more
    // than asked for: a record with 300k lines costs no more than one with 3 (a window over all
    // of a record's rows, with their text, took seconds). Records in groups of 100 a statement.
    const perOwner = async (col: string, extra: string, owners: (number | Buffer)[]) => {
      const lines: D[] = [];
      const counts: T[] = [];
      for (let i = 0; i < owners.length; i += 100) {
        const part = owners.slice(i, i + 100);
        if (maxLines > 0) {
          lines.push(...(await q.rows<D>(part.map(() =>
            `(SELECT id, ${col} AS owner, ts, source, script, SUBSTRING(payload, 1, ${maxChars}) AS text, CHAR_LENGTH(payload) AS len, file_path
              FROM Data WHERE ${col} = ? ${extra} ORDER BY id LIMIT ${maxLines})`).join(' UNION ALL '), part)));
        }
        if (cap === undefined) {
          counts.push(...(await q.rows<T>(
            `SELECT ${col} AS owner, COUNT(*) AS total FROM Data WHERE ${col} IN (${part.map(() => '?').join(',')}) ${extra} GROUP BY ${col}`, part)));
        } else {
          // (k: the record's place in `part`, a number of ours)
          const ks = await q.rows<K>(part.map((_, k) =>
            `SELECT ${k} AS k, COUNT(*) AS total FROM (SELECT 1 FROM Data WHERE ${col} = ? ${extra} LIMIT ${cap + 1}) c${k}`).join(' UNION ALL '), part);
          counts.push(...ks.map((r) => ({ owner: part[Number(r.k)]!, total: r.total })));
        }
      }
      return { lines, counts };
    };
    const byId = await perOwner('sensorlog_id', '', ids);
    const ds = byId.lines;
    const cs = byId.counts;
    if (byEvent.size) {
      const byEv = await perOwner('sensorlog_event_id', 'AND sensorlog_id IS NULL', rows.filter((r) => r.event_id).map((r) => r.event_id!));
      ds.push(...byEv.lines);
      cs.push(...byEv.counts);
    }
    const ownerOf = (o: number | Buffer) => (Buffer.isBuffer(o) ? byEvent.get(o.toString('hex')) : Number(o));
    // each record's count comes from each of its two kinds of link
    for (const c of cs) {
      const owner = ownerOf(c.owner);
      if (owner !== undefined && Number(c.total) > 0) totals.set(owner, (totals.get(owner) ?? 0) + Number(c.total));
    }
    if (cap !== undefined) {
      for (const [owner, n] of totals) {
        if (n > cap) {
          totals.set(owner, cap);
          capped.add(owner);
        }
      }
    }
    for (const d of ds.sort((a, b) => a.id - b.id)) {
      const owner = ownerOf(d.owner);
      if (owner === undefined) continue;
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
    ...(capped.has(r.id) ? { payload_total_capped: true as const } : {}),
  }));
}
