/**
 * Rule queries shared by the CLI and the web console. Every value reaching SQL is a parameter;
 * addresses arrive here already validated (lib/ip.ts).
 */
import { withRetry, type Db, type Queryable } from '../db.ts';
import { NotFoundError, RefusedError, InputError } from '../errors.ts';
import { bytesToIp, tooWideToBlock, widestRuleStart, type Cidr } from '../ip.ts';
import { OPEN_STATUSES, PORT_PROTOCOLS, protoFamilyProblem, type Action, type Origin, type RuleProto, type RuleStatus } from '../types.ts';

export const RULE_STATUSES: readonly RuleStatus[] = ['pending', 'active', 'disabled', 'dropped', 'expired'];
export const RULE_ORIGINS: readonly Origin[] = ['threshold', 'blacklist', 'manual'];

/** The JSON contract of `ipms rules list --json` (outside tools rely on these names). */
export interface RuleOut {
  id: number;
  /** a single address without prefix, or a CIDR */
  src: string;
  dst: string | null;
  dst_port: number | null;
  proto: string | null;
  action: Action;
  status: RuleStatus;
  origin: Origin;
  hits: number;
  /** ISO 8601 UTC */
  created_at: string;
  expires_at: string | null;
  devices: { device: string; state: string; desired: string; last_error: string | null }[];
  threshold: string | null;
  sensor: string | null;
  reason: string | null;
  scope: 'internal' | 'external';
  updated_at: string | null;
}

export interface RuleFilter {
  status?: RuleStatus[];
  origin?: Origin[];
  src?: Cidr;
  sensor?: string;
  since?: Date;
  ids?: number[];
  limit?: number;
}

interface RuleDbRow {
  id: number;
  src_ip: Buffer;
  src_prefix: number;
  dst_ip: Buffer | null;
  dst_port: number | null;
  proto: string | null;
  action: Action;
  status: RuleStatus;
  origin: Origin;
  hits: number;
  created_at: Date;
  expires_at: Date | null;
  updated_at: Date | null;
  threshold: string | null;
  sensor: string | null;
  reason: string | null;
  scope: 'internal' | 'external';
}

export function srcText(ip: Buffer, prefix: number): string {
  const a = bytesToIp(ip);
  return prefix === ip.length * 8 ? a : `${a}/${prefix}`;
}

export async function listRules(q: Queryable, f: RuleFilter = {}): Promise<RuleOut[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.status?.length) {
    where.push(`r.status IN (${f.status.map(() => '?').join(',')})`);
    params.push(...f.status);
  }
  if (f.origin?.length) {
    where.push(`r.origin IN (${f.origin.map(() => '?').join(',')})`);
    params.push(...f.origin);
  }
  if (f.src) {
    where.push('r.src_ip <= ? AND r.src_ip >= ? AND r.src_last >= ? AND LENGTH(r.src_ip) = ?');
    params.push(f.src.last, widestRuleStart(f.src.first), f.src.first, f.src.first.length);
  }
  if (f.sensor !== undefined) {
    where.push('s.name = ?');
    params.push(f.sensor);
  }
  if (f.since) {
    where.push('r.created_at >= ?');
    params.push(f.since);
  }
  if (f.ids?.length) {
    where.push(`r.id IN (${f.ids.map(() => '?').join(',')})`);
    params.push(...f.ids);
  }
  const limit = Math.min(Math.max(f.limit ?? 100, 1), 1_000_000);
  const rows = await q.rows<RuleDbRow>(
    `SELECT r.id, r.src_ip, r.src_prefix, r.dst_ip, r.dst_port, r.proto, r.action, r.status, r.origin,
            r.hits, r.created_at, r.expires_at, r.updated_at, t.name AS threshold, s.name AS sensor,
            r.reason, r.scope
     FROM Rule r
     LEFT JOIN Threshold t ON t.id = r.threshold_id
     LEFT JOIN Sensor s ON s.id = r.sensor_id
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY r.id DESC LIMIT ${limit}`,
    params,
  );
  const devices = new Map<number, RuleOut['devices']>();
  // by rule id: with few devices and many rules, the optimiser otherwise may walk a device's
  // whole (device_id, state) index for a page of rules (MySQL and MariaDB both know FORCE INDEX)
  for (let i = 0; i < rows.length; i += 1000) {
    const ids = rows.slice(i, i + 1000).map((r) => r.id);
    const ds = await q.rows<{ rule_id: number; device: string; state: string; desired: string; last_error: string | null }>(
      `SELECT rd.rule_id, d.name AS device, rd.state, rd.desired, rd.last_error
       FROM RuleDevice rd FORCE INDEX (uq_ruledevice) JOIN Device d ON d.id = rd.device_id
       WHERE rd.rule_id IN (${ids.map(() => '?').join(',')}) ORDER BY d.name`,
      ids,
    );
    for (const d of ds) {
      const list = devices.get(d.rule_id) ?? [];
      list.push({ device: d.device, state: d.state, desired: d.desired, last_error: d.last_error });
      devices.set(d.rule_id, list);
    }
  }
  return rows.map((r) => ({
    id: r.id,
    src: srcText(r.src_ip, r.src_prefix),
    dst: r.dst_ip ? bytesToIp(r.dst_ip) : null,
    dst_port: r.dst_port,
    proto: r.proto,
    action: r.action,
    status: r.status,
    origin: r.origin,
    hits: r.hits,
    created_at: r.created_at.toISOString(),
    expires_at: r.expires_at ? r.expires_at.toISOString() : null,
    devices: devices.get(r.id) ?? [],
    threshold: r.threshold,
    sensor: r.sensor,
    reason: r.reason,
    scope: r.scope,
    updated_at: r.updated_at ? r.updated_at.toISOString() : null,
  }));
}

export async function getRule(q: Queryable, id: number): Promise<RuleOut> {
  const [r] = await listRules(q, { ids: [id], limit: 1 });
  if (!r) throw new NotFoundError(`rule ${id} does not exist`);
  return r;
}

/** The protected range (whitelist, sensor, honeypot, device) a range overlaps, if any. */
export async function protectedOverlap(q: Queryable, c: { first: Buffer; last: Buffer }): Promise<string | null> {
  const [p] = await q.rows<{ reason: string; what: string }>(
    // (a range no packet comes from says the most: loopback is that before it is a dry-run
    // device's 127.0.0.1)
    `SELECT reason, what FROM ProtectedRange
     WHERE first_ip <= ? AND last_ip >= ? AND LENGTH(first_ip) = ?
     ORDER BY CASE reason WHEN 'no-source range' THEN 0 WHEN 'whitelist' THEN 1 WHEN 'honeypot range' THEN 1
                          WHEN 'sensor' THEN 2 WHEN 'honeypot' THEN 3 ELSE 4 END LIMIT 1`,
    [c.last, c.first, c.first.length],
  );
  return p ? `${p.reason} ${p.what}` : null;
}

export interface ManualRule {
  src: Cidr;
  dst?: { text: string; bytes: Buffer };
  dstPort?: number;
  proto?: RuleProto;
  action: Action;
  durationS?: number;
  reason?: string;
  devices?: string[];
  createdBy?: string;
}

/** `rules add`: origin manual; refused for protected ranges and when an open rule has the same traffic. */
export async function addManualRule(db: Db, r: ManualRule): Promise<number> {
  if (r.dstPort !== undefined && (!r.proto || !PORT_PROTOCOLS.includes(r.proto))) {
    throw new InputError(`--dst-port needs --proto ${PORT_PROTOCOLS.join('|')}`);
  }
  if (r.dst && r.dst.bytes.length !== r.src.first.length) throw new InputError('--dst must be of the same address family as the source');
  const misfit = r.proto ? protoFamilyProblem(r.proto, r.src.family) : undefined;
  if (misfit) throw new InputError(`--proto ${misfit}`);
  // (the Rule trigger says the same for rules written in SQL)
  const wide = tooWideToBlock(r.src);
  if (wide) throw new RefusedError(`refused to block ${r.src.text}: ${wide}`, 'E_TOO_WIDE');
  const prot = await protectedOverlap(db, r.src);
  if (prot) throw new RefusedError(`refused to block ${r.src.text}: protected by ${prot}`, 'E_PROTECTED');
  // (a deadlock victim is run again whole: the transaction reads what it needs itself)
  return withRetry(() => db.transaction(async (t) => {
    let deviceIds: number[] = [];
    if (r.devices?.length) {
      const rows = await t.rows<{ id: number; name: string }>(
        `SELECT id, name FROM Device WHERE name IN (${r.devices.map(() => '?').join(',')})`,
        r.devices,
      );
      const missing = r.devices.filter((n) => !rows.some((x) => x.name === n));
      if (missing.length) throw new NotFoundError(`no such device: ${missing.join(', ')}`);
      deviceIds = rows.map((x) => x.id);
    }
    let id: number;
    try {
      const res = await t.exec(
        `INSERT INTO Rule (src_ip, src_prefix, dst_ip, dst_port, proto, action, origin, reason, status,
                           targeted, created_by, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, 'manual', ?, 'pending', ?, ?, UTC_TIMESTAMP(3),
                 IF(? IS NULL, NULL, UTC_TIMESTAMP(3) + INTERVAL ? SECOND))`,
        [
          r.src.first, r.src.prefix, r.dst?.bytes ?? null, r.dstPort ?? null, r.proto ?? null, r.action,
          r.reason ?? null, deviceIds.length ? 1 : 0, r.createdBy ?? null, r.durationS ?? null, r.durationS ?? null,
        ],
      );
      id = res.insertId;
    } catch (err) {
      if ((err as { code?: string }).code === 'ER_DUP_ENTRY' || /Duplicate entry/.test(String((err as Error).message))) {
        const [open] = await t.rows<{ id: number }>(
          `SELECT id FROM Rule WHERE src_ip = ? AND src_prefix = ? AND dst_ip <=> ? AND dst_port <=> ? AND proto <=> ?
             AND status IN ('pending','active','disabled')`,
          [r.src.first, r.src.prefix, r.dst?.bytes ?? null, r.dstPort ?? null, r.proto ?? null],
        );
        throw new RefusedError(`rule ${open?.id ?? '?'} already covers this traffic and is open`, 'E_DUPLICATE');
      }
      throw err;
    }
    for (const d of deviceIds) {
      await t.exec("INSERT INTO RuleDevice (rule_id, device_id, desired, state) VALUES (?, ?, 'present', 'pending')", [id, d]);
    }
    return id;
  }));
}

export type StatusChange = 'drop' | 'disable' | 'enable';

const TRANSITION: Record<StatusChange, { from: RuleStatus[]; to: RuleStatus }> = {
  drop: { from: ['pending', 'active', 'disabled'], to: 'dropped' },
  disable: { from: ['pending', 'active'], to: 'disabled' },
  enable: { from: ['disabled'], to: 'pending' },
};

export interface ChangeResult {
  changed: number[];
  unchanged: { id: number; status: RuleStatus }[];
  missing: number[];
}

/** Drop, disable or enable rules; the Rule triggers take them off or put them back on the devices. */
export async function changeRuleStatus(q: Queryable, ids: number[], change: StatusChange): Promise<ChangeResult> {
  const t = TRANSITION[change];
  const rows = await q.rows<{ id: number; status: RuleStatus }>(
    `SELECT id, status FROM Rule WHERE id IN (${ids.map(() => '?').join(',')})`,
    ids,
  );
  const out: ChangeResult = { changed: [], unchanged: [], missing: ids.filter((id) => !rows.some((r) => r.id === id)) };
  for (const r of rows) {
    if (!t.from.includes(r.status)) {
      out.unchanged.push(r);
      continue;
    }
    const res = await q.exec(
      `UPDATE Rule SET status = ? WHERE id = ? AND status IN (${t.from.map(() => '?').join(',')})`,
      [t.to, r.id, ...t.from],
    );
    if (res.affectedRows) out.changed.push(r.id);
    else out.unchanged.push(r);
  }
  return out;
}

export interface RuleEdit {
  /** seconds from the rule's creation; null = permanent */
  durationS?: number | null;
  action?: Action;
  reason?: string;
}

export async function editRule(q: Queryable, id: number, e: RuleEdit): Promise<void> {
  const sets: string[] = [];
  const params: unknown[] = [];
  if (e.durationS !== undefined) {
    sets.push('expires_at = IF(? IS NULL, NULL, created_at + INTERVAL ? SECOND)');
    params.push(e.durationS, e.durationS);
  }
  if (e.action) {
    sets.push('action = ?');
    params.push(e.action);
  }
  if (e.reason !== undefined) {
    sets.push('reason = ?');
    params.push(e.reason);
  }
  if (!sets.length) throw new InputError('rules edit: give --duration, --action or --reason');
  if (e.durationS !== undefined && e.durationS !== null) {
    // a lifetime counted from creation that is over already would expire the rule at once
    const [r] = await q.rows<{ ended: number; created: Date }>(
      'SELECT created_at + INTERVAL ? SECOND <= UTC_TIMESTAMP(3) AS ended, created_at AS created FROM Rule WHERE id = ?', [e.durationS, id]);
    if (r && Number(r.ended)) {
      throw new RefusedError(`rule ${id} was created at ${r.created.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z')}: a duration from its creation ` +
        `that is over already would expire it at once (to take it off now: ipms rules drop ${id})`);
    }
  }
  // a closed rule (dropped, expired) is history: it is kept as it was decided
  const res = await q.exec(`UPDATE Rule SET ${sets.join(', ')} WHERE id = ? AND status IN ('pending', 'active', 'disabled')`, [...params, id]);
  if (!res.affectedRows) {
    const [r] = await q.rows<{ status: string }>('SELECT status FROM Rule WHERE id = ?', [id]);
    if (!r) throw new NotFoundError(`rule ${id} does not exist`);
    throw new RefusedError(`rule ${id} is ${r.status}: a closed rule is kept as it was; add a new rule instead`);
  }
}

export function isOpen(status: RuleStatus): boolean {
  return OPEN_STATUSES.includes(status);
}
