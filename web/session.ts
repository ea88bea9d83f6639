/**
 * Sessions and the tokens derived from them.
 *
 * The session cookie holds 32 random bytes; the WebSession row is keyed by their SHA-256, so
 * the table alone lets nobody in. A session ends after IDLE_S without a request, after
 * ABSOLUTE_S in any case, at logout, and when its user is removed or gets a new password.
 *
 * The CSRF token of a session is HMAC(secret, session id): nothing more to store, it cannot be
 * computed without the secret (kept in WebSecret, made on the first start), and it changes
 * with every login. Before login, the login form carries HMAC(secret, pre-session id) for a
 * short-lived cookie of its own, so a foreign page cannot log a browser in either.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../lib/db.ts';
import type { WebRole } from './users.ts';

export const IDLE_S = 3600;
export const ABSOLUTE_S = 12 * 3600;
/** last_seen_at is written at most this often */
const TOUCH_S = 60;

export interface Session {
  /** the cookie value (never stored) */
  id: string;
  idHash: Buffer;
  userId: number;
  user: string;
  role: WebRole;
  /** the message left by the previous request, shown once */
  flash: string | null;
}

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

function hashId(id: string): Buffer {
  return createHash('sha256').update(id).digest();
}

/** The console's secret: made on the first start, the same for every server on this database. */
export async function loadSecret(q: Queryable): Promise<Buffer> {
  await q.exec('INSERT INTO WebSecret (name, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE name = name', ['session', randomBytes(32)]);
  const [r] = await q.rows<{ value: Buffer }>('SELECT value FROM WebSecret WHERE name = ?', ['session']);
  if (!r || r.value.length < 32) throw new Error('WebSecret: the session secret is missing or too short');
  return r.value;
}

function mac(secret: Buffer, purpose: string, id: string): string {
  return createHmac('sha256', secret).update(`${purpose}\0${id}`).digest('base64url');
}

export function csrfToken(secret: Buffer, sessionId: string): string {
  return mac(secret, 'csrf', sessionId);
}

export function loginToken(secret: Buffer, preId: string): string {
  return mac(secret, 'login', preId);
}

/** Constant-time comparison of a token from a form with the expected one. */
export function tokenMatches(given: string | null | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  // compare bytes: a token with non-ASCII characters has as many characters, not as many bytes
  const g = Buffer.from(given);
  const e = Buffer.from(expected);
  return g.length === e.length && timingSafeEqual(g, e);
}

export async function createSession(q: Queryable, userId: number, ip: string): Promise<string> {
  const id = newToken();
  await q.exec('DELETE FROM WebSession WHERE expires_at < UTC_TIMESTAMP(3)');
  await q.exec(
    `INSERT INTO WebSession (id_hash, user_id, created_at, last_seen_at, expires_at, ip)
     VALUES (?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL ? SECOND, ?)`,
    [hashId(id), userId, ABSOLUTE_S, ip],
  );
  await q.exec('UPDATE WebUser SET last_login_at = UTC_TIMESTAMP(3) WHERE id = ?', [userId]);
  return id;
}

/** The live session of a cookie value, or undefined. */
export async function findSession(q: Queryable, id: string | undefined): Promise<Session | undefined> {
  if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
  const idHash = hashId(id);
  const [r] = await q.rows<{ user_id: number; name: string; role: WebRole; flash: string | null; stale: number }>(
    `SELECT s.user_id, u.name, u.role, s.flash, s.last_seen_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND AS stale
     FROM WebSession s JOIN WebUser u ON u.id = s.user_id
     WHERE s.id_hash = ? AND s.expires_at > UTC_TIMESTAMP(3) AND s.last_seen_at > UTC_TIMESTAMP(3) - INTERVAL ? SECOND`,
    [TOUCH_S, idHash, IDLE_S],
  );
  if (!r) return undefined;
  if (Number(r.stale)) await q.exec('UPDATE WebSession SET last_seen_at = UTC_TIMESTAMP(3) WHERE id_hash = ?', [idHash]);
  return { id, idHash, userId: r.user_id, user: r.name, role: r.role, flash: r.flash };
}

export async function endSession(q: Queryable, s: Session): Promise<void> {
  await q.exec('DELETE FROM WebSession WHERE id_hash = ?', [s.idHash]);
}

export async function setFlash(q: Queryable, s: Session, text: string): Promise<void> {
  await q.exec('UPDATE WebSession SET flash = ? WHERE id_hash = ?', [text.slice(0, 512), s.idHash]);
}

/** The flash message, cleared so it shows once. */
export async function takeFlash(q: Queryable, s: Session): Promise<string | null> {
  if (s.flash === null) return null;
  await q.exec('UPDATE WebSession SET flash = NULL WHERE id_hash = ?', [s.idHash]);
  const f = s.flash;
  s.flash = null;
  return f;
}
