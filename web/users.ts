/** Console accounts (WebUser): shared by `ipms users` and the login of `ipms serve`. */
import type { Queryable } from '../lib/db.ts';
import { InputError, NotFoundError, RefusedError } from '../lib/errors.ts';

export type WebRole = 'admin' | 'viewer';
export const WEB_ROLES: readonly WebRole[] = ['admin', 'viewer'];

export interface WebUserOut {
  id: number;
  name: string;
  role: WebRole;
  created_at: string;
  last_login_at: string | null;
}

/** Login names: what may appear in an audit row and a page header without surprises. */
export function userNameArg(text: string, what = 'NAME'): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(text)) {
    throw new InputError(`${what}: '${text.slice(0, 64)}' must be 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit`);
  }
  return text;
}

/** A new account's name: ipms writes entries as ipms-worker and ipms-honeypots, which other code trusts by that name. */
export function newUserNameArg(text: string, what = 'NAME'): string {
  if (/^ipms-/i.test(userNameArg(text, what))) throw new InputError(`${what}: '${text}': names starting with 'ipms-' are ipms's own`);
  return text;
}

export async function listUsers(q: Queryable): Promise<WebUserOut[]> {
  const rows = await q.rows<{ id: number; name: string; role: WebRole; created_at: Date; last_login_at: Date | null }>(
    'SELECT id, name, role, created_at, last_login_at FROM WebUser ORDER BY name',
  );
  return rows.map((r) => ({
    id: r.id, name: r.name, role: r.role, created_at: r.created_at.toISOString(),
    last_login_at: r.last_login_at ? r.last_login_at.toISOString() : null,
  }));
}

export async function addUser(q: Queryable, name: string, role: WebRole, passwordHash: string): Promise<number> {
  const [dup] = await q.rows<{ id: number }>('SELECT id FROM WebUser WHERE name = ?', [name]);
  if (dup) throw new RefusedError(`user ${name} already exists`, 'E_DUPLICATE');
  const res = await q.exec('INSERT INTO WebUser (name, role, password_hash) VALUES (?, ?, ?)', [name, role, passwordHash]);
  return res.insertId;
}

export async function removeUser(q: Queryable, name: string): Promise<void> {
  const res = await q.exec('DELETE FROM WebUser WHERE name = ?', [name]);
  if (!res.affectedRows) throw new NotFoundError(`user ${name} does not exist`);
}

/** New password; every open session of the user ends. */
export async function setPassword(q: Queryable, name: string, passwordHash: string): Promise<void> {
  const [u] = await q.rows<{ id: number }>('SELECT id FROM WebUser WHERE name = ?', [name]);
  if (!u) throw new NotFoundError(`user ${name} does not exist`);
  await q.exec('UPDATE WebUser SET password_hash = ? WHERE id = ?', [passwordHash, u.id]);
  await q.exec('DELETE FROM WebSession WHERE user_id = ?', [u.id]);
}

/** A new role; it applies from the user's next request (the role is read with the session). */
export async function setRole(q: Queryable, name: string, role: WebRole): Promise<void> {
  const [u] = await q.rows<{ id: number }>('SELECT id FROM WebUser WHERE name = ?', [name]);
  if (!u) throw new NotFoundError(`user ${name} does not exist`);
  await q.exec('UPDATE WebUser SET role = ? WHERE id = ?', [role, u.id]);
}

export async function userForLogin(q: Queryable, name: string): Promise<{ id: number; name: string; role: WebRole; password_hash: string } | undefined> {
  const [u] = await q.rows<{ id: number; name: string; role: WebRole; password_hash: string }>(
    'SELECT id, name, role, password_hash FROM WebUser WHERE name = ?',
    [name],
  );
  return u;
}
