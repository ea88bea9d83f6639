/** `ipms serve`: the web console. */
import type { Command } from 'commander';
import { InputError } from '../../lib/errors.ts';
import { canonicalIp } from '../../lib/ip.ts';
import { listUsers } from '../../web/users.ts';
import { collect } from '../args.ts';
import type { Context } from '../context.ts';

/** `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`, or a bare port (on 127.0.0.1). */
export function parseListen(text: string): { host: string; port: number } {
  const t = text.trim();
  const m = /^\d{1,5}$/.test(t) ? [t, '', t] : /^\[([^\]]+)\]:(\d{1,5})$/.exec(t) ?? /^([^:[\]]*):(\d{1,5})$/.exec(t);
  if (!m) throw new InputError(`--listen: '${text}' is not HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080)`);
  const port = Number(m[2]);
  if (port > 65535) throw new InputError(`--listen: port ${port} is out of range`);
  const name = m[1] || '127.0.0.1';
  const host = name === 'localhost' ? name : canonicalIp(name, '--listen');
  return { host, port };
}

function originArg(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new InputError(`--origin: '${text}' is not a URL (e.g. https://ipms.example.net)`);
  }
  if (!/^https?:$/.test(u.protocol) || u.pathname !== '/' || u.search || u.hash || u.username) {
    throw new InputError('--origin: scheme, host and port only (e.g. https://ipms.example.net)');
  }
  return u.origin;
}

export function registerServe(program: Command, ctx: Context): void {
  program.command('serve')
    .description('the web console: records, rules, lists, devices, thresholds (log in with an account of `ipms users`)')
    .option('--listen <host:port>', 'where to listen: loopback unless --allow-remote', '127.0.0.1:8080')
    .option('--allow-remote', 'allow a non-loopback --listen (then terminate TLS in a reverse proxy in front)')
    .option('--origin <url>', 'public URL behind a reverse proxy (https://ipms.example.net): its host name is accepted, forms must come from it')
    .option('--secure-cookies', 'mark cookies Secure (implied by an https --origin); browsers then send them over HTTPS only')
    .option('--trust-proxy <ip>', 'the reverse proxy\'s address (repeatable): take the client address from its X-Forwarded-For', collect)
    .action(async (o: { listen: string; allowRemote?: boolean; origin?: string; secureCookies?: boolean; trustProxy?: string[] }) => {
      const listen = parseListen(o.listen);
      const origin = o.origin !== undefined ? originArg(o.origin) : undefined;
      const trustProxy = (o.trustProxy ?? []).map((a) => canonicalIp(a, '--trust-proxy'));
      // (the console's modules are loaded by this command only: the others start sooner)
      const { isLoopback, startWebServer } = await import('../../web/server.ts');
      if (!isLoopback(listen.host)) {
        if (!o.allowRemote) {
          throw new InputError(`--listen ${o.listen} is not a loopback address: add --allow-remote, and put a reverse proxy that terminates TLS in front`);
        }
        // on every address, the Host header is the only thing that says which name the browser
        // meant: without --origin any name would be answered (DNS rebinding reaches the login)
        if ((listen.host === '0.0.0.0' || listen.host === '::') && !origin) {
          throw new InputError(`--listen ${o.listen} answers on every address: give --origin with the URL browsers use (e.g. --origin https://ipms.example.net)`);
        }
        ctx.io.err('ipms: warning: the console speaks plain HTTP: passwords and session cookies cross the network in clear unless a reverse proxy in front terminates TLS (then give --origin https://...)');
      }
      const db = ctx.db();
      // (an unreachable or half-migrated database is exit 3 here, not an error page later)
      await db.rows('SELECT 1');
      const server = await startWebServer(db, {
        host: listen.host, port: listen.port,
        ...(origin ? { origin } : {}),
        ...(o.secureCookies ? { secureCookies: true } : {}),
        ...(trustProxy.length ? { trustProxy } : {}),
        log: (line) => ctx.io.err(line),
      });
      ctx.onClose(() => server.close());
      const users = await listUsers(db);
      if (!users.some((u) => u.role === 'admin')) {
        ctx.io.err('ipms: no admin account yet: ipms users add NAME --role admin --password-stdin');
      }
      ctx.io.out(`ipms serve: listening on ${server.url}${origin ? ` (public origin ${origin})` : ''}`);
      // until SIGINT or SIGTERM; the server and the pool are closed by the context
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      ctx.io.out('ipms serve: stopped');
    });
}
