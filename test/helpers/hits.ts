/** Write SensorLog rows the way the ingest does: multi-row INSERTs with INET6_ATON. */
import { withRetry, type Queryable } from '../../lib/db.ts';

export interface Hit {
  sensor?: number;
  ts: string;
  src: string;
  dst?: string;
  srcPort?: number | null;
  dstPort?: number | null;
  proto?: string;
  kind?: 'start' | 'probe' | 'end' | 'stray';
}

export async function insertHits(q: Queryable, hits: Hit[]): Promise<void> {
  for (let i = 0; i < hits.length; i += 500) {
    const chunk = hits.slice(i, i + 500);
    const values = chunk.map(() => '(?, ?, ?, ?, INET6_ATON(?), ?, INET6_ATON(?), ?)').join(', ');
    const params = chunk.flatMap((h) => [
      h.sensor ?? 1,
      h.ts,
      h.kind ?? 'start',
      h.proto ?? 'tcp',
      h.src,
      h.srcPort === undefined ? 40000 : h.srcPort,
      h.dst ?? '192.168.2.1',
      h.dstPort === undefined ? 1080 : h.dstPort,
    ]);
    // retried on deadlock as the ingest does: concurrent writers of one source can deadlock
    await withRetry(() =>
      q.exec(`INSERT INTO SensorLog (sensor_id, ts, kind, proto, src_ip, src_port, dst_ip, dst_port) VALUES ${values}`, params),
    );
  }
}

/** The current UTC time as SensorLog.ts takes it ('YYYY-MM-DD hh:mm:ss.mmm'). */
export function nowTs(): string {
  return new Date().toISOString().replace('T', ' ').replace('Z', '');
}

/** n identical hits from one source at one time. */
export function burst(n: number, h: Hit): Hit[] {
  return Array.from({ length: n }, () => ({ ...h }));
}

export interface RuleText {
  id: number;
  src: string;
  dst: string | null;
  dst_port: number | null;
  proto: string | null;
  action: string;
  origin: string;
  status: string;
  hits: number;
  threshold: string | null;
  expires_at: Date | null;
  created_at: Date;
}

export async function rules(q: Queryable, where = '1=1', params: unknown[] = []): Promise<RuleText[]> {
  return q.rows<RuleText>(
    `SELECT id, src, dst, dst_port, proto, action, origin, status, hits, threshold, expires_at, created_at
     FROM RuleView WHERE ${where} ORDER BY id`,
    params,
  );
}
