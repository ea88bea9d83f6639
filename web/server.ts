/**
 * `ipms serve`: the web console on node:http. Each request goes through the same gate, in
 * this order: Host check (DNS rebinding), method, route, form, session, login required,
 * CSRF (token and origin) on every POST, role. Every answer carries the security headers:
 * a CSP that allows no script at all, no framing, no caching of pages.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Db } from '../lib/db.ts';
import { ConfigError, DatabaseError, InputError, IpmsError, NotFoundError, RefusedError, oneLine } from '../lib/errors.ts';
import { canonicalIp } from '../lib/ip.ts';
import { csrfProblem } from './csrf.ts';
import { html } from './html.ts';
import { HttpError, page, parseCookies, readForm, type App, type Req, type Res, type Route } from './http.ts';
import { layout } from './pages/layout.ts';
import { decoyHash } from './password.ts';
import { ROUTES } from './routes.ts';
import { csrfToken, findSession, loadSecret } from './session.ts';

const CSS = readFileSync(new URL('./static/style.css', import.meta.url));

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export interface WebServerOptions {
  host: string;
  port: number;
  /** the public origin behind a TLS-terminating reverse proxy, e.g. https://ipms.example.net */
  origin?: string;
  /** Secure cookies (implied by an https origin) */
  secureCookies?: boolean;
  /**
   * Addresses of reverse proxies (canonical text) whose X-Forwarded-For is believed: for a
   * request from one of them, the client is the address the proxy appended (the last entry).
   * Without it, every request behind a proxy comes from the proxy, and the login throttle
   * and audit log would see one address for everybody.
   */
  trustProxy?: readonly string[];
  log?: (line: string) => void;
}

export interface WebServer {
  /** http://host:port of the listening socket */
  url: string;
  port: number;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The Host header values to answer; null = any (a wildcard listen without --origin). */
export function allowedHosts(host: string, port: number, origin?: string): Set<string> | null {
  const out = new Set<string>();
  if (origin) out.add(new URL(origin).host.toLowerCase());
  if (host === '0.0.0.0' || host === '::') {
    if (!origin) return null;
  } else {
    const names = isLoopback(host) ? [host, 'localhost', '127.0.0.1', '::1'] : [host];
    for (const n of names) {
      out.add(hostPort(n, port).toLowerCase());
      if (port === 80) out.add((n.includes(':') ? `[${n}]` : n).toLowerCase());
    }
  }
  return out;
}

export function clientIp(req: Pick<IncomingMessage, 'headers' | 'socket'>, trustProxy: ReadonlySet<string> = new Set()): string {
  const raw = (req.socket.remoteAddress ?? '-').replace(/^::ffff:(?=\d+\.)/, '');
  let peer = raw;
  try {
    peer = canonicalIp(raw);
  } catch {
    // not an address (a unix socket): kept as it is
  }
  if (!trustProxy.has(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const last = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').pop()?.trim() ?? '';
  try {
    return canonicalIp(last.replace(/^::ffff:(?=\d+\.)/, ''));
  } catch {
    // a trusted proxy that sent no (or a garbled) address: the request is the proxy's own
    return peer;
  }
}

function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (err instanceof InputError || err instanceof ConfigError) return 400;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof RefusedError) return 409;
  if (err instanceof DatabaseError) return 503;
  return 500;
}

function errorPage(req: Req, status: number, message: string): Res {
  const title = status === 403 ? 'Refused' : status === 404 ? 'Not found' : status >= 500 ? 'Error' : 'Cannot do that';
  return page(layout(req, title, html`<p class="error" role="alert">${message}</p><p><a href="/">back to the start</a></p>`), status);
}

async function dispatch(app: App, routes: readonly Route[], hosts: Set<string> | null, raw: IncomingMessage, req: Req): Promise<Res> {
  const host = (raw.headers.host ?? '').toLowerCase();
  if (hosts && !hosts.has(host)) {
    return { status: 421, type: 'text/plain; charset=utf-8', body: 'this server does not answer to that host name\n' };
  }
  if (req.method === 'GET' && req.path === '/static/style.css') {
    return { status: 200, type: 'text/css; charset=utf-8', body: CSS, headers: { 'Cache-Control': 'max-age=3600' } };
  }
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const matching = routes.filter((r) => r.path.test(req.path));
  const route = matching.find((r) => r.method === method);
  if (!route) {
    if (matching.length) return { ...errorPage(req, 405, 'method not allowed'), headers: { Allow: [...new Set(matching.map((r) => r.method))].join(', ') } };
    return errorPage(req, 404, 'no such page');
  }
  req.params = route.path.exec(req.path)!.slice(1);
  if (method === 'POST') req.form = await readForm(raw);
  req.session = await findSession(app.db, req.cookies.get(app.cookie.session));
  if (req.session) req.csrf = csrfToken(app.secret, req.session.id);
  if (route.role !== 'public' && !req.session) {
    return method === 'GET' ? { status: 303, body: '', headers: { Location: '/' } } : errorPage(req, 401, 'not logged in (or the session has ended): log in again');
  }
  if (method === 'POST') {
    const problem = csrfProblem(req, app, route.role === 'public');
    if (problem) return errorPage(req, 403, `refused: ${problem}`);
  }
  if (route.role === 'admin' && req.session?.role !== 'admin') {
    return errorPage(req, 403, `refused: ${req.session?.user} is a viewer; changes need the admin role`);
  }
  return route.handler(req, app);
}

function send(res: ServerResponse, out: Res, hsts: boolean): void {
  const headers: Record<string, string | string[]> = {
    ...SECURITY_HEADERS,
    // behind TLS (an https --origin): browsers keep to https for this host from then on
    ...(hsts ? { 'Strict-Transport-Security': 'max-age=31536000' } : {}),
    'Cache-Control': 'no-store',
    'Content-Type': out.type ?? 'text/html; charset=utf-8',
    ...out.headers,
  };
  if (out.cookies?.length) headers['Set-Cookie'] = out.cookies;
  const body = typeof out.body === 'string' ? Buffer.from(out.body) : out.body;
  headers['Content-Length'] = String(body.length);
  res.writeHead(out.status, headers);
  res.end(body);
}

export async function startWebServer(db: Db, o: WebServerOptions): Promise<WebServer> {
  const secret = await loadSecret(db);
  // the decoy hash (checked for unknown names) made now, so no first login takes twice as long
  await decoyHash();
  const secure = o.secureCookies ?? o.origin?.startsWith('https://') ?? false;
  const app: App = {
    db,
    secret,
    secure,
    // __Host-: the browser refuses it unless Secure, Path=/ and no Domain (not settable by a subdomain)
    cookie: secure ? { session: '__Host-ipms_sid', pre: '__Host-ipms_login' } : { session: 'ipms_sid', pre: 'ipms_login' },
    ...(o.origin ? { origin: new URL(o.origin).origin } : {}),
    log: o.log ?? ((line) => process.stderr.write(`${line}\n`)),
  };
  const hsts = app.origin?.startsWith('https://') ?? false;
  let hosts: Set<string> | null = null;
  const proxies = new Set(o.trustProxy ?? []);
  const handle = async (raw: IncomingMessage, res: ServerResponse): Promise<void> => {
    const req: Req = {
      method: raw.method ?? 'GET', path: '/', query: new URLSearchParams(), form: new URLSearchParams(),
      headers: raw.headers, cookies: parseCookies(raw.headers.cookie), ip: clientIp(raw, proxies), params: [],
    };
    let out: Res;
    try {
      const url = new URL(raw.url ?? '/', 'http://request.invalid');
      req.path = url.pathname;
      req.query = url.searchParams;
      out = ['GET', 'HEAD', 'POST'].includes(req.method)
        ? await dispatch(app, ROUTES, hosts, raw, req)
        : { status: 405, type: 'text/plain; charset=utf-8', body: 'method not allowed\n', headers: { Allow: 'GET, HEAD, POST' } };
    } catch (err) {
      const status = statusOf(err);
      if (status >= 500) app.log(`ipms serve: ${req.method} ${req.path}: ${err instanceof IpmsError ? oneLine(err) : (err as Error)?.stack ?? err}`);
      // a server-side failure is told in general terms: its detail (database host, account,
      // schema) is for the log, not for whoever sent the request
      out = errorPage(req, status, status === 500 ? 'internal error (logged on the server)'
        : status >= 500 ? 'the database is unavailable; try again shortly (details are in the server log)' : oneLine(err));
      // a body left unread (too large, wrong type) is not worth reading: close after answering
      if (status === 413 || status === 415) out.headers = { ...out.headers, Connection: 'close' };
    }
    if (!res.headersSent && !res.destroyed) send(res, out, hsts);
  };
  const server = createServer((raw, res) => {
    handle(raw, res).catch((err) => {
      app.log(`ipms serve: ${raw.method} ${raw.url}: ${(err as Error)?.stack ?? err}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  // slow clients do not hold the server: the whole request within 30 s, headers within 10 s
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const where = hostPort(o.host, o.port);
      if (err.code === 'EADDRINUSE') reject(new ConfigError(`--listen ${where}: the port is in use by another program (ipms serve running already?)`, 'E_LISTEN'));
      else if (err.code === 'EACCES') reject(new ConfigError(`--listen ${where}: not allowed to listen there (ports below 1024 need privileges)`, 'E_LISTEN'));
      else if (err.code === 'EADDRNOTAVAIL') reject(new ConfigError(`--listen ${where}: no interface of this host has that address`, 'E_LISTEN'));
      else reject(err);
    };
    server.once('error', onError);
    server.listen(o.port, o.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(o.host, port, o.origin);
  return {
    url: `http://${hostPort(o.host, port)}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
