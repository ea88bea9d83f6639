/**
 * A sensor registers itself on first use, and records what its honeyd.conf says (templates as
 * Profile / ProfilePort, bound addresses as VirtHost: never blocked, and the only addresses
 * whose traffic counts). Written with INSERT IGNORE only: the ipms_sensor account may insert
 * but not change rows, so a configuration that changed keeps its first values for existing
 * names (an admin edits them); new templates and addresses are added.
 */
import type { Db } from '../lib/db.ts';
import { DatabaseError } from '../lib/errors.ts';
import { ipToBytes, type Cidr } from '../lib/ip.ts';
import type { HoneydConfig } from './honeyd-config.ts';

export async function registerSensor(db: Db, name: string): Promise<number> {
  // (looked up first: an INSERT IGNORE that finds the name takes an auto-increment value all
  // the same, and sensor ids jumped by one at every run of the ingest)
  const id = async () => (await db.rows<{ id: number }>('SELECT id FROM Sensor WHERE name = ?', [name]))[0];
  const known = await id();
  if (known) return Number(known.id);
  await db.exec('INSERT IGNORE INTO Sensor (name) VALUES (?)', [name]);
  const row = await id();
  if (!row) throw new DatabaseError(`sensor '${name}' could not be registered (no row after insert)`, 'E_SENSOR');
  return Number(row.id);
}

const clip = (s: string | null, n: number) => (s === null ? null : s.slice(0, n));

export interface ConfigOutcome {
  profiles: number;
  ports: number;
  virtHosts: number;
}

export async function recordHoneydConfig(db: Db, sensorId: number, cfg: HoneydConfig): Promise<ConfigOutcome> {
  const all = [...cfg.templates.values()];
  const out: ConfigOutcome = { profiles: 0, ports: 0, virtHosts: 0 };
  const profileIds = async () => {
    const m = new Map<string, number>();
    for (const r of await db.rows<{ id: number; name: string }>('SELECT id, name FROM Profile WHERE sensor_id = ?', [sensorId])) m.set(r.name, Number(r.id));
    return m;
  };
  // (the templates registered before are not offered again: an INSERT IGNORE that finds a row
  // takes an auto-increment value all the same, at every run)
  const before = await profileIds();
  const templates = all.filter((t) => !before.has(t.name.slice(0, 64)));
  if (templates.length > 0) {
    const res = await db.exec(
      'INSERT IGNORE INTO Profile (sensor_id, name, personality, default_tcp_action, default_udp_action, default_icmp_action, uptime, ethernet) VALUES ' +
        templates.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', '),
      templates.flatMap((t) => [
        sensorId, t.name.slice(0, 64), clip(t.personality, 255), clip(t.defaultTcp, 255), clip(t.defaultUdp, 255),
        clip(t.defaultIcmp, 255), t.uptime !== null && t.uptime <= 4_294_967_295 ? t.uptime : null, clip(t.ethernet, 64),
      ]),
    );
    out.profiles = res.affectedRows;
  }
  const ids = templates.length ? await profileIds() : before;
  const ports = all.flatMap((t) => t.ports.map((p) => [ids.get(t.name.slice(0, 64)), p.proto, p.port, p.action.slice(0, 255)]));
  const known = ports.filter((p) => p[0] !== undefined);
  if (known.length > 0) {
    const res = await db.exec(
      `INSERT IGNORE INTO ProfilePort (profile_id, proto, port, action) VALUES ${known.map(() => '(?, ?, ?, ?)').join(', ')}`,
      known.flat(),
    );
    out.ports = res.affectedRows;
  }
  if (cfg.binds.length > 0) {
    const res = await db.exec(
      `INSERT IGNORE INTO VirtHost (sensor_id, address, profile_id) VALUES ${cfg.binds.map(() => '(?, ?, ?)').join(', ')}`,
      cfg.binds.flatMap((b) => [sensorId, ipToBytes(b.address), ids.get(b.template.slice(0, 64)) ?? null]),
    );
    out.virtHosts = res.affectedRows;
  }
  return out;
}

/** Largest --honeypot-net registered address by address (a /20 of IPv4, a /116 of IPv6). */
export const MAX_NET_HOSTS = 4096;

/**
 * The addresses of --honeypot-net ranges as honeypots of the sensor (VirtHost rows); what keeps
 * them from being blocked is the range's approval (see approveHoneypots). The network and
 * broadcast addresses of an IPv4 net of /30 or wider are not honeypots, as in Honeypots. A
 * wider net is left out with a warning: whitelist it instead. Returns the ranges registered.
 */
export async function recordHoneypotNets(db: Db, sensorId: number, nets: readonly Cidr[], warn: (m: string) => void): Promise<string[]> {
  const registered: string[] = [];
  for (const c of nets) {
    const bits = (c.family === 4 ? 32 : 128) - c.prefix;
    if (bits > 12) {
      warn(`--honeypot-net ${c.text}: more than ${MAX_NET_HOSTS} addresses, not registered as honeypots; ` +
        `keep them from being blocked with: ipms whitelist add ${c.text}`);
      continue;
    }
    const n = 2 ** bits;
    const skipEnds = c.family === 4 && c.prefix <= 30;
    const addrs: Buffer[] = [];
    for (let i = skipEnds ? 1 : 0; i < (skipEnds ? n - 1 : n); i++) {
      const b = Buffer.from(c.first);
      // add i to the last 4 bytes (at most 12 host bits: no carry past them)
      b.writeUInt32BE((b.readUInt32BE(b.length - 4) + i) >>> 0, b.length - 4);
      addrs.push(b);
    }
    for (let i = 0; i < addrs.length; i += 500) {
      const chunk = addrs.slice(i, i + 500);
      await db.exec(`INSERT IGNORE INTO VirtHost (sensor_id, address) VALUES ${chunk.map(() => '(?, ?)').join(', ')}`,
        chunk.flatMap((a) => [sensorId, a]));
    }
    registered.push(c.text);
  }
  return registered;
}

/** The driver's error for a statement the account may not run (table or column privilege). */
function privilegeDenied(err: unknown): boolean {
  return (err as { code?: string }).code === 'E_DB_PRIVILEGE';
}

/**
 * Approve the sensor's honeypot ranges (--honeypot-net, and each honeyd.conf bind address),
 * when the account may: an approved range (SensorNet) is whitelisted, and a honeypot protects
 * its address only inside one. An admin's account running the ingest approves what it registers; a
 * sensor's own account may not (whoever holds its password could otherwise shield any address
 * from blocking), and its honeypots wait for an admin: `ipms sensors approve`.
 * Returns how many of the sensor's honeypots are not approved (null: the account may not ask).
 */
export async function approveHoneypots(db: Db, sensorId: number, ranges: readonly string[]): Promise<number | null> {
  for (let i = 0; i < ranges.length; i += 500) {
    const chunk = ranges.slice(i, i + 500);
    try {
      await db.exec(
        `INSERT IGNORE INTO SensorNet (sensor_id, cidr, comment, created_by) VALUES ${chunk.map(() => "(?, ?, 'registered by ipms ingest', 'ipms-ingest')").join(', ')}`,
        chunk.flatMap((c) => [sensorId, c]),
      );
    } catch (err) {
      if (!privilegeDenied(err)) throw err;
      break;
    }
  }
  try {
    const [r] = await db.rows<{ n: number }>('SELECT COUNT(approved) AS n FROM VirtHost WHERE sensor_id = ? AND approved = 0', [sensorId]);
    return Number(r?.n ?? 0);
  } catch (err) {
    if (privilegeDenied(err)) return null;
    throw err;
  }
}
