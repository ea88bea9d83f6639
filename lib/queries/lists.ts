/** Whitelist and blacklist, shared by the CLI and the web console. */
import { withRetry, type Db, type Queryable } from '../db.ts';
import { NotFoundError, RefusedError } from '../errors.ts';
import { parseCidr, RangeIndex, tooWideToBlock, widestRuleStart, type Cidr } from '../ip.ts';
import type { FeedEntry } from '../feeds.ts';
import type { Action } from '../types.ts';
import { srcText } from './rules.ts';

export interface ListEntryOut {
  id: number;
  cidr: string;
  comment: string | null;
  created_at: string;
  source?: string | null;
  action?: Action;
  expires_at?: string | null;
  /** blacklist: the entry's latest rule and its status (a dropped one: whitelisted since, or by an admin) */
  rule_id?: number | null;
  rule_status?: string | null;
}

export type ListName = 'Whitelist' | 'Blacklist';

/** The entries of a list in address order; `within`: only those that overlap that range. */
export async function listEntries(q: Queryable, table: ListName, limit = 100_000, within?: Cidr): Promise<ListEntryOut[]> {
  // (a blacklist entry's latest rule: ix_rule_blacklist, one look-up each)
  const extra = table === 'Blacklist'
    ? `, source, action, expires_at,
       (SELECT CONCAT(r.id, ' ', r.status) FROM Rule r WHERE r.blacklist_id = e.id ORDER BY r.id DESC LIMIT 1) AS rule`
    : '';
  const where = within ? 'WHERE first_ip <= ? AND last_ip >= ? AND LENGTH(first_ip) = ?' : '';
  const rows = await q.rows<{ id: number; cidr: string; comment: string | null; created_at: Date; source?: string | null; action?: Action; expires_at?: Date | null; rule?: string | null }>(
    `SELECT id, cidr, comment, created_at${extra} FROM ${table} e ${where} ORDER BY first_ip, prefix LIMIT ${Math.max(1, Math.floor(limit))}`,
    within ? [within.last, within.first, within.first.length] : [],
  );
  return rows.map((r) => ({
    id: r.id,
    cidr: r.cidr,
    comment: r.comment,
    created_at: r.created_at.toISOString(),
    ...(table === 'Blacklist'
      ? { source: r.source ?? null, action: r.action!, expires_at: r.expires_at ? r.expires_at.toISOString() : null,
          rule_id: r.rule ? Number(r.rule.split(' ')[0]) : null, rule_status: r.rule ? r.rule.split(' ')[1]! : null }
      : {}),
  }));
}

/** Open rules a range would cover (they are dropped when the range is whitelisted). */
export async function openRulesIn(q: Queryable, c: Cidr): Promise<{ id: number; src: string }[]> {
  const rows = await q.rows<{ id: number; src_ip: Buffer; src_prefix: number }>(
    `SELECT id, src_ip, src_prefix FROM Rule
     WHERE status IN ('pending','active','disabled') AND src_ip <= ? AND src_ip >= ? AND src_last >= ? AND LENGTH(src_ip) = ?
     ORDER BY id`,
    [c.last, widestRuleStart(c.first), c.first, c.first.length],
  );
  return rows.map((r) => ({ id: r.id, src: srcText(r.src_ip, r.src_prefix) }));
}

/** Open rules over one address (none when the text is a host name, not an address). */
export async function openRulesOver(q: Queryable, host: string): Promise<{ id: number; src: string }[]> {
  let c: Cidr;
  try {
    c = parseCidr(host);
  } catch {
    return [];
  }
  return openRulesIn(q, c);
}

export async function addWhitelist(db: Db, c: Cidr, comment?: string, by?: string): Promise<{ id: number; dropped: { id: number; src: string }[] }> {
  // (a deadlock victim is run again whole: the transaction reads what it needs itself)
  return withRetry(() => db.transaction(async (t) => {
    const [dup] = await t.rows<{ id: number }>('SELECT id FROM Whitelist WHERE cidr = ?', [c.text]);
    if (dup) throw new RefusedError(`${c.text} is already whitelisted (entry ${dup.id})`, 'E_DUPLICATE');
    const dropped = await openRulesIn(t, c);
    const res = await t.exec('INSERT INTO Whitelist (cidr, first_ip, last_ip, prefix, comment, created_by) VALUES (?, ?, ?, ?, ?, ?)', [
      c.text, c.first, c.last, c.prefix, comment ?? null, by ?? null,
    ]);
    return { id: res.insertId, dropped };
  }));
}

/** Remove by id or by CIDR text. */
export async function removeEntry(q: Queryable, table: ListName, key: { id?: number; cidr?: Cidr }, o: { force?: boolean } = {}): Promise<string> {
  const [row] = await q.rows<{ id: number; cidr: string; by: string | null }>(
    `SELECT id, cidr, ${table === 'Whitelist' ? 'created_by' : 'NULL'} AS \`by\` FROM ${table} WHERE ${key.id !== undefined ? 'id' : 'cidr'} = ?`,
    [key.id ?? key.cidr!.text]);
  if (!row) throw new NotFoundError(`no ${table.toLowerCase()} entry ${key.id ?? key.cidr!.text}`);
  if (table === 'Whitelist') {
    // an approved honeypot range's entry goes with its approval (the SensorNet triggers)
    const [net] = await q.rows<{ sensor: string }>(
      "SELECT s.name AS sensor FROM SensorNet n JOIN Sensor s ON s.id = n.sensor_id JOIN Whitelist w ON w.cidr = n.cidr WHERE w.id = ? AND w.created_by = 'ipms-honeypots' LIMIT 1",
      [row.id]);
    if (net) {
      throw new RefusedError(`whitelist entry ${row.cidr} is sensor ${net.sensor}'s approved honeypot range: ipms sensors revoke ${net.sensor} ${row.cidr}`,
        'E_HONEYPOT_RANGE');
    }
    // the worker's own address as a device sees it: without it, 50 spoofed hits "from" the
    // worker make a rule that cuts it off its devices, which it then cannot take off; the worker
    // writes it again only on a new connection
    if (row.by === 'ipms-worker' && !o.force) {
      throw new RefusedError(`whitelist entry ${row.cidr} is the worker's own address as a device sees it: without it, spoofed hits can ` +
        'cut the worker off its devices; if the worker no longer connects from there: ipms whitelist remove --force', 'E_WORKER_ADDRESS');
    }
  }
  await q.exec(`DELETE FROM ${table} WHERE id = ?`, [row.id]);
  return row.cidr;
}

export interface ProtectedOut {
  reason: string;
  what: string;
}

/** Everything that protects an address: whitelist entries, sensors, honeypots, devices. */
export async function protectionOf(q: Queryable, ip: Buffer): Promise<ProtectedOut[]> {
  return q.rows<ProtectedOut>(
    'SELECT reason, what FROM ProtectedRange WHERE first_ip <= ? AND last_ip >= ? AND LENGTH(first_ip) = ? ORDER BY reason, what',
    [ip, ip, ip.length],
  );
}

export interface Protected {
  first: Buffer;
  last: Buffer;
  what: string;
}

/** `noSource: false`: without the ranges no packet comes from (NoSourceRange), which the blacklist import names as inside ranges. */
export async function protectedRanges(q: Queryable, o: { noSource?: boolean } = {}): Promise<Protected[]> {
  const rows = await q.rows<{ reason: string; what: string; first_ip: Buffer; last_ip: Buffer }>(
    `SELECT reason, what, first_ip, last_ip FROM ProtectedRange ${o.noSource === false ? "WHERE reason <> 'no-source range'" : ''}`,
  );
  return rows.map((r) => ({ first: r.first_ip, last: r.last_ip, what: `${r.reason} ${r.what}` }));
}

export interface BlacklistImport {
  added: number;
  /** there already from the same source, with another expiry or action: renewed (see Blacklist_after_update) */
  renewed: number;
  present: number;
  refused: { line: number; cidr: string; why: string }[];
}

/**
 * Expiries this close are the same: a feed that gives each entry its time left (CrowdSec) gives
 * a slightly different end on every import, which would otherwise send the whole feed to every
 * device again each time (a changed expiry is put on the devices anew).
 */
const SAME_EXPIRY_S = 300;

function sameExpiry(a: Date | null, b: Date | null): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a.getTime() - b.getTime()) < SAME_EXPIRY_S * 1000;
}

/**
 * Insert blacklist entries in multi-row batches; each new entry becomes a rule (trigger).
 * Entries that overlap a protected range are refused here, before the database would refuse
 * the whole batch for one of them.
 */
export async function addBlacklist(
  db: Db,
  entries: FeedEntry[],
  opts: { source?: string; expiresAt?: Date | null; action?: Action } = {},
): Promise<BlacklistImport> {
  // (indexed: a feed of 100k entries against a whitelist of thousands)
  const prot = new RangeIndex(await protectedRanges(db, { noSource: false }), 'protected range ');
  // Feeds such as FireHOL level1 list the bogons: the private ranges and 0.0.0.0/8 (the source
  // of every DHCP request). Blocked as sources they cut off the inside network, which is never
  // what importing a feed means; an inside host is blocked by hand (ipms rules add).
  const inside = new RangeIndex([
    ...(await db.rows<{ cidr: string; first_ip: Buffer; last_ip: Buffer; description: string | null }>(
      'SELECT cidr, first_ip, last_ip, description FROM Network')).map((n) => ({
      first: n.first_ip, last: n.last_ip, what: `internal network ${n.cidr}${n.description ? ` (${n.description})` : ''}`,
    })),
    // and the ranges no packet comes from (multicast, loopback...: see schema 0014)
    ...(await db.rows<{ cidr: string; first_ip: Buffer; last_ip: Buffer; description: string }>(
      'SELECT cidr, first_ip, last_ip, description FROM NoSourceRange')).map((n) => ({
      first: n.first_ip, last: n.last_ip, what: `special range ${n.cidr} (${n.description})`,
    })),
  ], 'inside range ');
  const out: BlacklistImport = { added: 0, renewed: 0, present: 0, refused: [] };
  const seen = new Set<string>();
  const ok: FeedEntry[] = [];
  for (const e of entries) {
    if (seen.has(e.cidr.text)) {
      out.present++;
      continue;
    }
    seen.add(e.cidr.text);
    const hit = prot.overlapping(e.cidr);
    const wide = tooWideToBlock(e.cidr);
    const within = inside.overlapping(e.cidr);
    // (the reason that says the most first: 10.0.0.0/8 is an inside network before it holds a
    // honeypot range, 127.0.0.0/8 loopback before a device's 127.0.0.1)
    if (wide) out.refused.push({ line: e.line, cidr: e.cidr.text, why: wide });
    else if (within) {
      out.refused.push({
        line: e.line, cidr: e.cidr.text,
        why: `overlaps the ${within.what}: ${within.what.startsWith('special') ? 'no packet comes from it' : 'a feed does not block inside ranges (ipms rules add does)'}`,
      });
    }
    else if (hit) out.refused.push({ line: e.line, cidr: e.cidr.text, why: `protected by ${hit.what}` });
    else ok.push(e);
  }
  const action = opts.action ?? 'DROP';
  // The import's --expire, taken as given; else the end the feed gives the entry (a CrowdSec
  // ban's time left), which comes out slightly different on every import: within
  // SAME_EXPIRY_S of the one the entry has, it is the same, and the entry keeps it.
  const now = Date.now();
  const expiryFor = (e: FeedEntry, had: { expires_at: Date | null } | undefined): Date | null => {
    if (opts.expiresAt) return opts.expiresAt;
    if (e.expiresInS === undefined) return null;
    const want = new Date(now + e.expiresInS * 1000);
    return had?.expires_at && sameExpiry(had.expires_at, want) ? had.expires_at : want;
  };
  for (let i = 0; i < ok.length; i += 1000) {
    const chunk = ok.slice(i, i + 1000);
    const had = new Map((await db.rows<{ cidr: string; action: string; expires_at: Date | null; source: string | null }>(
      `SELECT cidr, action, expires_at, source FROM Blacklist WHERE cidr IN (${chunk.map(() => '?').join(',')})`, chunk.map((e) => e.cidr.text),
    )).map((r) => [r.cidr, r]));
    // An entry this same source made takes the expiry and action it gives now (a feed refreshed
    // from cron: the addresses it still lists stay blocked). An admin's entry (source manual)
    // is never changed by a feed, and an admin's add takes an entry over (it becomes manual).
    // (source is assigned last: the conditions read the old one, left to right)
    const ends = chunk.map((e) => expiryFor(e, had.get(e.cidr.text)));
    await db.exec(
      `INSERT INTO Blacklist (cidr, first_ip, last_ip, prefix, source, comment, action, expires_at) VALUES
       ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(',')}
       ON DUPLICATE KEY UPDATE
         comment = IF(source <=> VALUES(source) OR VALUES(source) <=> 'manual', COALESCE(VALUES(comment), comment), comment),
         action = IF(source <=> VALUES(source) OR VALUES(source) <=> 'manual', VALUES(action), action),
         expires_at = IF(source <=> VALUES(source) OR VALUES(source) <=> 'manual', VALUES(expires_at), expires_at),
         source = IF(VALUES(source) <=> 'manual', 'manual', source)`,
      chunk.flatMap((e, k) => [
        e.cidr.text, e.cidr.first, e.cidr.last, e.cidr.prefix, opts.source ?? null, e.comment?.slice(0, 255) ?? null,
        action, ends[k],
      ]),
    );
    chunk.forEach((e, k) => {
      const h = had.get(e.cidr.text);
      if (!h) out.added++;
      else if ((h.source === (opts.source ?? null) || opts.source === 'manual')
        && (h.action !== action || (h.expires_at?.getTime() ?? null) !== (ends[k]?.getTime() ?? null))) out.renewed++;
      else out.present++;
    });
  }
  return out;
}
