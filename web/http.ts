/**
 * The few pieces of HTTP the console needs, on node:http: requests with their form and cookies,
 * responses as values, cookie text. No framework: the console has a couple of dozen routes,
 * all GET pages and form POSTs (see README, "Web console").
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Db } from '../lib/db.ts';
import { IpmsError } from '../lib/errors.ts';
import type { SafeHtml } from './html.ts';
import type { Session } from './session.ts';

/** Forms are small: a threshold edit is the largest. */
export const MAX_BODY = 64 * 1024;

export interface App {
  db: Db;
  secret: Buffer;
  /** cookies get the Secure flag (and the __Host- prefix) */
  secure: boolean;
  cookie: { session: string; pre: string };
  /** the public origin (scheme://host[:port]) behind a reverse proxy, if configured */
  origin?: string;
  log(line: string): void;
}

export interface Req {
  method: string;
  path: string;
  query: URLSearchParams;
  /** the urlencoded body of a POST (empty otherwise) */
  form: URLSearchParams;
  headers: IncomingHttpHeaders;
  cookies: Map<string, string>;
  /** the client address */
  ip: string;
  /** groups of the route's path pattern */
  params: string[];
  session?: Session;
  /** the session's CSRF token, for the forms of the page */
  csrf?: string;
}

export interface Res {
  status: number;
  body: string | Buffer;
  /** Content-Type; HTML by default */
  type?: string;
  headers?: Record<string, string>;
  cookies?: string[];
}

export type Role = 'public' | 'viewer' | 'admin';

export interface Route {
  method: 'GET' | 'POST';
  path: RegExp;
  role: Role;
  handler(req: Req, app: App): Promise<Res>;
}

export class HttpError extends IpmsError {
  constructor(readonly status: number, message: string) {
    super(`E_HTTP_${status}`, message, 1);
    this.name = 'HttpError';
  }
}

export function page(body: SafeHtml, status = 200): Res {
  return { status, body: `<!doctype html>\n${body.text}` };
}

/** 303 See Other: after a POST, the browser GETs the next page (a reload does not repeat the change). */
export function redirect(location: string, cookies?: string[]): Res {
  return { status: 303, body: '', headers: { Location: location }, ...(cookies ? { cookies } : {}) };
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 1) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (!out.has(k)) out.set(k, v);
  }
  return out;
}

/** Set-Cookie text: HttpOnly and SameSite=Strict always, Secure when served over TLS. */
export function cookie(name: string, value: string, o: { secure: boolean; maxAgeS?: number }): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict'];
  if (o.secure) parts.push('Secure');
  if (o.maxAgeS !== undefined) parts.push(`Max-Age=${o.maxAgeS}`);
  return parts.join('; ');
}

export function clearCookie(name: string, secure: boolean): string {
  return cookie(name, '', { secure, maxAgeS: 0 });
}

/** The urlencoded body of a POST, at most MAX_BODY bytes. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    req.resume();
    throw new HttpError(415, 'forms only: Content-Type must be application/x-www-form-urlencoded');
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY) {
    req.resume();
    throw new HttpError(413, 'request body too large');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** One form or query value, trimmed; undefined when absent or empty. */
export function field(p: URLSearchParams, name: string, max = 1024): string | undefined {
  const v = p.get(name);
  if (v === null) return undefined;
  const t = v.trim();
  if (t.length > max) throw new HttpError(400, `${name}: at most ${max} characters`);
  return t === '' ? undefined : t;
}
