/**
 * Which connection a line belongs to, from the lines read so far (of every file of the
 * sensor): an E line's S line, a payload line's connection (same 4-tuple, nearest start), a
 * script line's `connection from` line (same script and pid). Links are event ids (see
 * schema/0003_ingest.sql), so they survive a restart as long as the index can be rebuilt:
 * the ingest re-reads a window of each connection log before its checkpoint (ingest.ts).
 *
 * Bounded: connections older than MAX_AGE_MS of event time, ended ones after END_KEEP_MS, and
 * the oldest beyond MAX_CONNS are forgotten; an end or payload line that comes later stays
 * unlinked (it is stored all the same). A connection costs some 850 bytes here (measured: its
 * key, list, id and entry), so the index stays under about 170 MB on a sensor that logs
 * connections which never end (a soak run saw the ingest grow ~1.4 MB a minute at 25 lines/s,
 * as it should for two hours).
 */

/** Starts may be logged a little after the payload that follows them (script clocks have 1 s). */
const SLACK_MS = 2_000;
const MAX_AGE_MS = 2 * 3_600_000;
const END_KEEP_MS = 5 * 60_000;
const MAX_CONNS = 200_000;

interface Conn {
  id: Buffer;
  ts: number;
  endedAt: number;
}

export function tupleKey(proto: string, src: string, srcPort: number | null, dst: string, dstPort: number | null): string {
  return `${proto}|${src}|${srcPort ?? ''}|${dst}|${dstPort ?? ''}`;
}

export class ConnIndex {
  private readonly conns = new Map<string, Conn[]>();
  private readonly scripts = new Map<string, { id: Buffer; ts: number }>();
  private size = 0;
  private newest = 0;
  private sincePrune = 0;

  addStart(key: string, id: Buffer, ts: number): void {
    let list = this.conns.get(key);
    if (list === undefined) {
      list = [];
      this.conns.set(key, list);
    }
    list.push({ id, ts, endedAt: 0 });
    this.size++;
    if (ts > this.newest) this.newest = ts;
    if (++this.sincePrune >= 10_000 || this.size > MAX_CONNS) this.prune();
  }

  /** The start an end line closes: the latest not yet ended that began before it. */
  end(key: string, ts: number): Buffer | null {
    const list = this.conns.get(key);
    if (list === undefined) return null;
    for (let i = list.length - 1; i >= 0; i--) {
      const c = list[i]!;
      if (c.endedAt === 0 && c.ts <= ts + SLACK_MS) {
        c.endedAt = ts;
        return c.id;
      }
    }
    return null;
  }

  /** The connection of a payload line: the latest start before it, else the nearest one. */
  nearest(key: string, ts: number): Buffer | null {
    const list = this.conns.get(key);
    if (list === undefined || list.length === 0) return null;
    let best: Conn | null = null;
    for (const c of list) if (c.ts <= ts + SLACK_MS && (best === null || c.ts > best.ts)) best = c;
    if (best === null) for (const c of list) if (best === null || Math.abs(c.ts - ts) < Math.abs(best.ts - ts)) best = c;
    return best === null ? null : best.id;
  }

  /** A script process's connection, remembered from its `connection from` line. */
  setScript(script: string, pid: number, id: Buffer, ts: number): void {
    this.scripts.set(`${script}[${pid}]`, { id, ts });
  }

  script(script: string, pid: number): Buffer | null {
    return this.scripts.get(`${script}[${pid}]`)?.id ?? null;
  }

  private prune(): void {
    this.sincePrune = 0;
    const oldest = this.newest - MAX_AGE_MS;
    const endedBefore = this.newest - END_KEEP_MS;
    let size = 0;
    for (const [key, list] of this.conns) {
      const keep = list.filter((c) => c.ts >= oldest && (c.endedAt === 0 || c.endedAt >= endedBefore));
      if (keep.length === 0) this.conns.delete(key);
      else if (keep.length !== list.length) this.conns.set(key, keep);
      size += keep.length;
    }
    // still too many (a flood of connections that never end): forget the oldest keys
    for (const key of this.conns.keys()) {
      if (size <= MAX_CONNS * 0.8) break;
      size -= this.conns.get(key)!.length;
      this.conns.delete(key);
    }
    this.size = size;
    for (const [k, v] of this.scripts) if (v.ts < oldest) this.scripts.delete(k);
  }
}
