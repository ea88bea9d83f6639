/**
 * A sensor registers itself on first use, and records what its honeyd.conf says (templates as
 * Profile / ProfilePort, bound addresses as VirtHost: never blocked, and the only addresses
 * whose traffic counts). Written with INSERT IGNORE only: the ipms_sensor account may insert
 * but not change rows, so a configuration that changed keeps its first values for existing
 * names (an admin edits them); new templates and addresses are added.
 */
import type { Db } from '../lib/db.ts';
import { DatabaseError } from '../lib/errors.ts';
import { ipToBytes } from '../lib/ip.ts';
import type { HoneydConfig } from './honeyd-config.ts';

export async function registerSensor(db: Db, name: string): Promise<number> {
  await db.exec('INSERT IGNORE INTO Sensor (name) VALUES (?)', [name]);
  const [row] = await db.rows<{ id: number }>('SELECT id FROM Sensor WHERE name = ?', [name]);
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
  const templates = [...cfg.templates.values()];
  const out: ConfigOutcome = { profiles: 0, ports: 0, virtHosts: 0 };
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
  const ids = new Map<string, number>();
  for (const r of await db.rows<{ id: number; name: string }>('SELECT id, name FROM Profile WHERE sensor_id = ?', [sensorId])) {
    ids.set(r.name, Number(r.id));
  }
  const ports = templates.flatMap((t) => t.ports.map((p) => [ids.get(t.name.slice(0, 64)), p.proto, p.port, p.action.slice(0, 255)]));
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
