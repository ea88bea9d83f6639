/**
 * The console on a test database: started in-process on 127.0.0.1, port 0, and a small HTTP
 * client with a cookie jar that sends exactly the headers a test asks for (node:http, so
 * Origin and Host can be set or left out at will).
 */
import { request } from 'node:http';
import type { Db } from '../../lib/db.ts';
import { hashPassword } from '../../web/password.ts';
import { startWebServer, type WebServer, type WebServerOptions } from '../../web/server.ts';
import { addUser, type WebRole } from '../../web/users.ts';

export async function startConsole(db: Db, o: Partial<WebServerOptions> = {}): Promise<WebServer> {
  const lines: string[] = [];
  return startWebServer(db, { host: '127.0.0.1', port: 0, log: (l) => lines.push(l), ...o });
}

export async function makeUser(db: Db, name: string, role: WebRole, password: string): Promise<void> {
  await addUser(db, name, role, await hashPassword(password));
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export class Client {
  readonly cookies = new Map<string, string>();
  /** sent with every request (e.g. a reverse proxy's X-Forwarded-For) */
  readonly extraHeaders: Record<string, string> = {};
  constructor(readonly base: string) {}

  request(method: string, path: string, o: { form?: Record<string, string>; headers?: Record<string, string | undefined>; body?: string } = {}): Promise<Answer> {
    const u = new URL(path, this.base);
    const headers: Record<string, string> = { ...this.extraHeaders };
    if (this.cookies.size) headers.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined = o.body;
    if (o.form) {
      body = new URLSearchParams(o.form).toString();
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    }
    if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
    for (const [k, v] of Object.entries(o.headers ?? {})) {
      if (v === undefined) delete headers[k];
      else headers[k] = v;
    }
    return new Promise((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          for (const c of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
            const [pair] = c.split(';');
            const eq = pair!.indexOf('=');
            const k = pair!.slice(0, eq);
            const v = pair!.slice(eq + 1);
            if (/Max-Age=0/i.test(c) || v === '') this.cookies.delete(k);
            else this.cookies.set(k, v);
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  get(path: string, headers: Record<string, string | undefined> = {}): Promise<Answer> {
    return this.request('GET', path, { headers });
  }

  /** A form POST as a browser sends it: with this site's Origin unless told otherwise. */
  post(path: string, form: Record<string, string>, headers: Record<string, string | undefined> = {}): Promise<Answer> {
    return this.request('POST', path, { form, headers: { Origin: this.base, ...headers } });
  }

  /** The CSRF token in the forms of a page. */
  async token(path = '/'): Promise<string> {
    const a = await this.get(path);
    const m = /name="csrf" value="([^"]+)"/.exec(a.body);
    if (!m) throw new Error(`no CSRF token on ${path} (${a.status})`);
    return m[1]!;
  }

  async login(name: string, password: string): Promise<Answer> {
    const csrf = await this.token('/');
    return this.post('/login', { csrf, name, password });
  }
}
