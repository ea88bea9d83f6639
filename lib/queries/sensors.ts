/** Sensors and thresholds: the rows admins and DBAs tune. */
import { withRetry, type Db, type Queryable } from '../db.ts';
import { InputError, NotFoundError, RefusedError } from '../errors.ts';
import { bytesToIp, type Cidr } from '../ip.ts';
import type { ThresholdRow } from '../types.ts';

export interface SensorOut {
  id: number;
  name: string;
  address: string | null;
  description: string | null;
  created_at: string;
  last_event_at: string | null;
  events_24h: number;
  honeypots: number;
  /** honeypots outside every range approved for the sensor: they protect nothing (see SensorNet) */
  honeypots_unapproved: number;
  /** the ranges an admin approved for the sensor's honeypots */
  honeypot_nets: string[];
  /** no event for longer than the silence limit */
  silent: boolean;
}

export async function listSensors(q: Queryable, silentAfterS = 86400, name?: string): Promise<SensorOut[]> {
  const rows = await q.rows<{ id: number; name: string; address: Buffer | null; description: string | null; created_at: Date; last: Date | null; hp: number; hpw: number }>(
    `SELECT s.id, s.name, s.address, s.description, s.created_at,
            -- ORDER BY ... LIMIT 1 reads one index entry; MAX() read them all (seen: 0.37 s at 2M rows)
            (SELECT l.ts FROM SensorLog l WHERE l.sensor_id = s.id ORDER BY l.ts DESC LIMIT 1) AS last,
            (SELECT COUNT(*) FROM VirtHost v WHERE v.sensor_id = s.id) AS hp,
            (SELECT COUNT(*) FROM VirtHost v WHERE v.sensor_id = s.id AND v.approved = 0) AS hpw
     FROM Sensor s ${name !== undefined ? 'WHERE s.name = ?' : ''} ORDER BY s.name`,
    name !== undefined ? [name] : [],
  );
  // Events of the last day, per sensor: one range of the (sensor_id, ts) index each. (A
  // subquery per sensor was a look-up by sensor_id alone, reading every row it ever logged:
  // 0.5 s at 2M rows, growing.)
  const n24 = new Map<number, number>();
  for (let i = 0; i < rows.length; i += 1000) {
    const ids = rows.slice(i, i + 1000).map((r) => r.id);
    for (const c of await q.rows<{ sensor_id: number; n: number }>(
      `SELECT sensor_id, COUNT(*) AS n FROM SensorLog
       WHERE sensor_id IN (${ids.map(() => '?').join(',')}) AND ts >= UTC_TIMESTAMP(3) - INTERVAL 1 DAY GROUP BY sensor_id`,
      ids,
    )) n24.set(Number(c.sensor_id), Number(c.n));
  }
  const nets = new Map<number, string[]>();
  if (rows.length) {
    for (const n of await q.rows<{ sensor_id: number; cidr: string }>(
      `SELECT sensor_id, cidr FROM SensorNet WHERE sensor_id IN (${rows.map(() => '?').join(',')}) ORDER BY sensor_id, LENGTH(first_ip), first_ip, prefix`,
      rows.map((r) => r.id),
    )) {
      const l = nets.get(n.sensor_id);
      if (l) l.push(n.cidr);
      else nets.set(n.sensor_id, [n.cidr]);
    }
  }
  const now = Date.now();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    address: r.address ? bytesToIp(r.address) : null,
    description: r.description,
    created_at: r.created_at.toISOString(),
    last_event_at: r.last ? r.last.toISOString() : null,
    events_24h: n24.get(r.id) ?? 0,
    honeypots: Number(r.hp),
    honeypots_unapproved: Number(r.hpw),
    honeypot_nets: nets.get(r.id) ?? [],
    silent: !r.last || now - r.last.getTime() > silentAfterS * 1000,
  }));
}

export async function addSensor(q: Queryable, name: string, address: Buffer | null, description?: string): Promise<number> {
  const [dup] = await q.rows<{ id: number }>('SELECT id FROM Sensor WHERE name = ?', [name]);
  if (dup) throw new RefusedError(`sensor ${name} already exists (id ${dup.id})`, 'E_DUPLICATE');
  const res = await q.exec('INSERT INTO Sensor (name, address, description) VALUES (?, ?, ?)', [name, address, description ?? null]);
  return res.insertId;
}

/** Change a sensor's management address or description (one registered by the ingest has neither). */
export async function setSensor(q: Queryable, name: string, set: { address?: Buffer | null; description?: string | null }): Promise<void> {
  const id = await sensorId(q, name);
  const cols = Object.entries({ address: set.address, description: set.description }).filter(([, v]) => v !== undefined);
  if (!cols.length) throw new InputError('say what to change: --address and/or --description');
  await q.exec(`UPDATE Sensor SET ${cols.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ?`, [...cols.map(([, v]) => v), id]);
}

export interface ApproveOut {
  /** ranges approved now (canonical) */
  approved: string[];
  /** ranges that were approved already */
  already: string[];
  /** the sensor's honeypots that protect their address from now on */
  honeypots: number;
}

/** A sensor's id by its name, or NotFound. */
async function sensorId(q: Queryable, name: string): Promise<number> {
  const [s] = await q.rows<{ id: number }>('SELECT id FROM Sensor WHERE name = ?', [name]);
  if (!s) throw new NotFoundError(`sensor ${name} does not exist`);
  return Number(s.id);
}

const unapproved = async (q: Queryable, id: number) =>
  Number((await q.rows<{ n: number }>('SELECT COUNT(*) AS n FROM VirtHost WHERE sensor_id = ? AND approved = 0', [id]))[0]!.n);

/**
 * Approve ranges for a sensor's honeypots (SensorNet): its honeypot addresses inside them are
 * never blocked from now on, and the open rules over them are dropped (the triggers do both).
 */
export async function approveSensorNets(db: Db, name: string, nets: readonly Cidr[], by: string, comment?: string): Promise<ApproveOut> {
  // (a deadlock victim is run again whole: the transaction reads what it needs itself)
  return withRetry(() => db.transaction(async (tx) => {
    const id = await sensorId(tx, name);
    const before = await unapproved(tx, id);
    const out: ApproveOut = { approved: [], already: [], honeypots: 0 };
    for (const c of nets) {
      const r = await tx.exec('INSERT IGNORE INTO SensorNet (sensor_id, cidr, comment, created_by) VALUES (?, ?, ?, ?)',
        [id, c.text, comment ?? null, by]);
      (r.affectedRows ? out.approved : out.already).push(c.text);
    }
    out.honeypots = before - (await unapproved(tx, id));
    return out;
  }));
}

/** Revoke approved ranges of a sensor: its honeypots in them protect nothing any more. */
export async function revokeSensorNets(db: Db, name: string, nets: readonly Cidr[]): Promise<{ revoked: string[]; honeypots: number }> {
  // (a deadlock victim is run again whole: the transaction reads what it needs itself)
  return withRetry(() => db.transaction(async (tx) => {
    const id = await sensorId(tx, name);
    // by the range, not its text: the database writes some addresses in other words than the
    // CLI (INET6_NTOA: ::1.2.3.0 for ::102:300)
    const have = await tx.rows<{ id: number; cidr: string; first_ip: Buffer; prefix: number }>(
      'SELECT id, cidr, first_ip, prefix FROM SensorNet WHERE sensor_id = ?', [id]);
    const find = (c: Cidr) => have.find((h) => h.prefix === c.prefix && Buffer.compare(h.first_ip, c.first) === 0);
    const missing = nets.filter((c) => !find(c));
    if (missing.length) {
      throw new NotFoundError(`sensor ${name} has no approved range ${missing.map((c) => c.text).join(', ')}` +
        ` (approved: ${have.map((h) => h.cidr).join(', ') || 'none'})`);
    }
    const before = await unapproved(tx, id);
    for (const c of nets) await tx.exec('DELETE FROM SensorNet WHERE id = ?', [find(c)!.id]);
    return { revoked: nets.map((c) => c.text), honeypots: (await unapproved(tx, id)) - before };
  }));
}

/** Refuse a sensor name nobody registered (a filter by it would just find nothing). */
export async function requireSensor(q: Queryable, name: string): Promise<void> {
  await sensorId(q, name);
}

export async function removeSensor(q: Queryable, name: string, purge: boolean): Promise<{ logs: number }> {
  const s = { id: await sensorId(q, name) };
  const [{ n } = { n: 0 }] = await q.rows<{ n: number }>('SELECT COUNT(*) AS n FROM SensorLog WHERE sensor_id = ?', [s.id]);
  if (n && !purge) throw new RefusedError(`sensor ${name} has ${n} log rows: remove it with --purge to delete them too`, 'E_HAS_LOGS');
  // in chunks: a sensor can have millions of rows, and one huge DELETE holds locks for long
  for (const table of ['Data', 'SensorLog']) {
    for (let i = 0; i < 100_000; i++) {
      const r = await q.exec(`DELETE FROM ${table} WHERE sensor_id = ? LIMIT 10000`, [s.id]);
      if (r.affectedRows < 10000) break;
    }
  }
  await q.exec('UPDATE Rule SET sensor_id = NULL WHERE sensor_id = ?', [s.id]);
  await q.exec('DELETE FROM Sensor WHERE id = ?', [s.id]);
  return { logs: Number(n) };
}

export interface ThresholdOut {
  id: number;
  name: string;
  enabled: boolean;
  proto: string | null;
  dst_port: number | null;
  sensor: string | null;
  group_by: string;
  window_s: number;
  max_hits: number;
  action: string;
  duration_s: number | null;
  description: string | null;
}

export async function listThresholds(q: Queryable, name?: string): Promise<ThresholdOut[]> {
  const rows = await q.rows<ThresholdRow & { sensor: string | null }>(
    `SELECT t.*, s.name AS sensor FROM Threshold t LEFT JOIN Sensor s ON s.id = t.sensor_id
     ${name !== undefined ? 'WHERE t.name = ?' : ''} ORDER BY t.id`,
    name !== undefined ? [name] : [],
  );
  return rows.map((t) => ({
    id: t.id, name: t.name, enabled: Boolean(t.enabled), proto: t.proto, dst_port: t.dst_port, sensor: t.sensor,
    group_by: t.group_by, window_s: t.window_s, max_hits: t.max_hits, action: t.action, duration_s: t.duration_s,
    description: t.description,
  }));
}

/** Column values of a threshold, validated by the caller; sensor is a name here. */
export type ThresholdSet = Partial<{
  enabled: boolean; proto: string | null; dst_port: number | null; sensor: string | null; group_by: string;
  window_s: number; max_hits: number; action: string; duration_s: number | null; description: string | null;
}>;

async function columns(q: Queryable, set: ThresholdSet): Promise<[string, unknown][]> {
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(set)) {
    if (v === undefined) continue;
    if (k === 'sensor') {
      if (v === null) out.push(['sensor_id', null]);
      else out.push(['sensor_id', await sensorId(q, String(v))]);
    } else out.push([k, k === 'enabled' ? (v ? 1 : 0) : v]);
  }
  return out;
}

export async function addThreshold(q: Queryable, name: string, set: ThresholdSet): Promise<number> {
  const [dup] = await q.rows<{ id: number }>('SELECT id FROM Threshold WHERE name = ?', [name]);
  if (dup) throw new RefusedError(`threshold ${name} already exists`, 'E_DUPLICATE');
  const cols = await columns(q, set);
  const res = await q.exec(
    `INSERT INTO Threshold (name${cols.map(([c]) => `, ${c}`).join('')}) VALUES (?${cols.map(() => ', ?').join('')})`,
    [name, ...cols.map(([, v]) => v)],
  );
  return res.insertId;
}

/**
 * Its rules keep their reason (the threshold's name) and lose the link (ON DELETE SET NULL);
 * its counters match nothing any more and go with the purge of old windows.
 */
export async function removeThreshold(q: Queryable, name: string): Promise<void> {
  const res = await q.exec('DELETE FROM Threshold WHERE name = ?', [name]);
  if (!res.affectedRows) throw new NotFoundError(`threshold ${name} does not exist`);
}

export async function setThreshold(q: Queryable, name: string, set: ThresholdSet): Promise<void> {
  const cols = await columns(q, set);
  if (!cols.length) throw new InputError('nothing to set: give key=value pairs');
  const res = await q.exec(`UPDATE Threshold SET ${cols.map(([c]) => `${c} = ?`).join(', ')} WHERE name = ?`, [...cols.map(([, v]) => v), name]);
  if (!res.affectedRows) {
    const [t] = await q.rows('SELECT id FROM Threshold WHERE name = ?', [name]);
    if (!t) throw new NotFoundError(`threshold ${name} does not exist`);
  }
}
