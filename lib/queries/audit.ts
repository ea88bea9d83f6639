/**
 * The audit log: who changed what, and when. The web console writes a row in the same
 * transaction as each change; `ipms users` writes one for each account change.
 */
import { userInfo } from 'node:os';
import type { Queryable } from '../db.ts';
import { ipToBytes } from '../ip.ts';

export interface AuditEntry {
  /** a console user, or the system user who ran a command */
  who: string;
  via: 'web' | 'cli';
  ip?: string | null;
  /** dotted verb: rule.disable, whitelist.add, threshold.set, user.add, login, login.failed ... */
  action: string;
  target?: string | null;
  /** anything JSON can hold: values before and after, rules dropped as a consequence */
  detail?: unknown;
}

export interface AuditOut {
  id: number;
  /** ISO 8601 UTC */
  at: string;
  who: string;
  via: 'web' | 'cli';
  ip: string | null;
  action: string;
  target: string | null;
  detail: string | null;
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}

/** Who runs a CLI command, for the audit log: the system user. */
export function cliUser(): string {
  const who = osUser();
  // ipms writes entries as ipms-worker and ipms-honeypots, which other code trusts by that
  // name: an OS account of such a name (a service account) is told apart
  return /^ipms-/i.test(who) ? `os:${who}` : who;
}

function osUser(): string {
  const named = process.env.USER || process.env.LOGNAME;
  if (named) return named;
  // (cron and systemd units often set neither)
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/** AuditLog.detail is a TEXT column: 65,535 bytes. */
const DETAIL_MAX_BYTES = 60_000;

/**
 * The detail as JSON that fits its column: a change that drops 5000 rules keeps the first 100
 * of each long list and says how many more there were (an oversized detail failed the change
 * it recorded, which then did not happen).
 */
export function auditDetail(detail: unknown): string {
  const text = JSON.stringify(detail);
  if (Buffer.byteLength(text) <= DETAIL_MAX_BYTES) return text;
  const shrink = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.length > 100 ? [...v.slice(0, 100).map(shrink), `... and ${v.length - 100} more`] : v.map(shrink);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shrink(x)]));
    return typeof v === 'string' && v.length > 1000 ? `${v.slice(0, 1000)}...` : v;
  };
  const small = JSON.stringify(shrink(detail));
  if (Buffer.byteLength(small) <= DETAIL_MAX_BYTES) return small;
  return JSON.stringify({ truncated: true, bytes: Buffer.byteLength(text), start: small.slice(0, 20_000) });
}

export async function recordAudit(q: Queryable, e: AuditEntry): Promise<number> {
  const res = await q.exec(
    'INSERT INTO AuditLog (at, who, via, ip, action, target, detail) VALUES (UTC_TIMESTAMP(3), ?, ?, ?, ?, ?, ?)',
    [
      clip(e.who, 64), e.via, e.ip ?? null, clip(e.action, 32), e.target == null ? null : clip(e.target, 128),
      e.detail === undefined ? null : auditDetail(e.detail),
    ],
  );
  return res.insertId;
}

export interface AuditFilter {
  /** keyset paging: entries with id below this */
  before?: number;
  action?: string;
  who?: string;
  limit?: number;
}

/** Newest first, paged by id (the primary key), so a long log pages as fast as a short one. */
export async function listAudit(q: Queryable, f: AuditFilter = {}): Promise<AuditOut[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.before !== undefined) {
    where.push('id < ?');
    params.push(f.before);
  }
  if (f.action !== undefined) {
    where.push('action = ?');
    params.push(f.action);
  }
  if (f.who !== undefined) {
    where.push('who = ?');
    params.push(f.who);
  }
  const limit = Math.min(Math.max(f.limit ?? 100, 1), 10_000);
  const rows = await q.rows<Omit<AuditOut, 'at'> & { at: Date }>(
    `SELECT id, at, who, via, ip, action, target, detail FROM AuditLog
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit}`,
    params,
  );
  return rows.map((r) => ({ ...r, at: r.at.toISOString() }));
}

/**
 * Failed logins within the last `windowS` seconds: for this name from this address, and from
 * this address for any name. Read through ix_auditlog_action_at, so it stays cheap.
 */
/**
 * Who a login throttle counts as one client: an IPv4 address, or an IPv6 /64 (a host gets a
 * whole /64 and can try from a new address each time), as the hex of its first 8 bytes.
 */
export function throttleKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return `v6:${ipToBytes(ip).subarray(0, 8).toString('hex').toUpperCase()}`;
  } catch {
    return ip;
  }
}

export async function recentLoginFailures(q: Queryable, name: string, ip: string, windowS: number): Promise<{ pair: number; ip: number }> {
  const key = throttleKey(ip);
  // IPv6 failures are counted per /64: the audit keeps each full address
  const same = key.startsWith('v6:') ? 'LEFT(HEX(INET6_ATON(ip)), 16) = ?' : 'ip = ?';
  const v = key.startsWith('v6:') ? key.slice(3) : ip;
  const [r] = await q.rows<{ pair: number | null; by_ip: number | null }>(
    `SELECT SUM(target = ? AND ${same}) AS pair, SUM(${same}) AS by_ip FROM AuditLog
     WHERE action = 'login.failed' AND at >= UTC_TIMESTAMP(3) - INTERVAL ? SECOND`,
    [clip(name, 128), v, v, windowS],
  );
  return { pair: Number(r?.pair ?? 0), ip: Number(r?.by_ip ?? 0) };
}
