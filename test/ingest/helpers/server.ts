/**
 * A second, private MariaDB/MySQL server for the tests that stop a server (outage) or need one
 * with TLS: its own datadir, socket and port in a temporary directory, so the shared server the
 * other test files use is never disturbed. Started the way scripts/db-server.sh starts the
 * local one (same binaries); the admin account is created over the root socket with the
 * mariadb client. Every wait is bounded.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Path of a program; a thrown error says what is missing (the test must fail, not skip). */
export function requireTool(tool: string): string {
  for (const d of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin']) {
    if (!d) continue;
    try {
      accessSync(join(d, tool), constants.X_OK);
      return join(d, tool);
    } catch {
      // next directory
    }
  }
  throw new Error(`'${tool}' is not installed on this machine`);
}

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface PrivateServer {
  port: number;
  dir: string;
  /** admin URL of database `db` on this server */
  url(db: string): string;
  /** run SQL as root over the socket */
  sql(text: string): string;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

function findServer(): string {
  for (const name of ['mariadbd', 'mysqld']) {
    try {
      return requireTool(name);
    } catch {
      // next
    }
  }
  throw new Error('no mariadbd/mysqld on this machine: the outage and TLS tests start a private server and cannot run without one');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function privateServer(opts: { tls?: TlsFiles } = {}): Promise<PrivateServer> {
  const server = findServer();
  const client = requireTool('mariadb');
  const installer = requireTool('mariadb-install-db');
  const dir = mkdtempSync(join(tmpdir(), 'ipms-db-'));
  const port = await freePort();
  const pw = randomBytes(12).toString('hex');
  const sock = join(dir, 'sock');
  // initialising a datadir can fail under heavy load (two at once, both cores busy): try
  // twice on a clean directory, and say what the installer said if it still fails
  for (let attempt = 1; ; attempt++) {
    try {
      rmSync(`${dir}/data`, { recursive: true, force: true });
      // its own tmpdir: a starting server deletes every #sql* file in its tmpdir, and the
      // shared server's temporary tables live in the default one
      mkdirSync(`${dir}/tmp`, { recursive: true });
      execFileSync(installer, ['--no-defaults', `--datadir=${dir}/data`, `--tmpdir=${dir}/tmp`, '--auth-root-authentication-method=socket', '--skip-test-db', '--user=root'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
      });
      break;
    } catch (err) {
      if (attempt >= 2) {
        const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
        throw new Error(`mariadb-install-db failed: ${(e.stderr?.toString() || e.stdout?.toString() || e.message).slice(-1500)}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  let child: ChildProcess | null = null;
  const sql = (text: string) =>
    execFileSync(client, ['--no-defaults', `--socket=${sock}`, '-uroot', '-N', '-e', text], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const args = [
    '--no-defaults', '--user=root', `--datadir=${dir}/data`, `--tmpdir=${dir}/tmp`, `--socket=${sock}`, `--pid-file=${dir}/pid`, `--log-error=${dir}/error.log`,
    `--port=${port}`, '--bind-address=127.0.0.1', '--skip-name-resolve', '--default-time-zone=+00:00', '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_unicode_ci', '--innodb-buffer-pool-size=64M', '--max-connections=100',
    ...(opts.tls ? [`--ssl-ca=${opts.tls.ca}`, `--ssl-cert=${opts.tls.cert}`, `--ssl-key=${opts.tls.key}`] : []),
  ];
  const ps: PrivateServer = {
    port,
    dir,
    url: (db) => `mysql://ipms_admin:${pw}@127.0.0.1:${port}/${db}`,
    sql,
    async start() {
      if (child) return;
      const c = spawn(server, args, { stdio: 'ignore' });
      child = c;
      c.on('exit', () => {
        if (child === c) child = null;
      });
      const end = Date.now() + 30_000;
      for (;;) {
        try {
          sql('SELECT 1');
          break;
        } catch {
          if (Date.now() > end || child === null) throw new Error(`private server did not start (see ${dir}/error.log)`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      sql(
        `CREATE USER IF NOT EXISTS 'ipms_admin'@'127.0.0.1' IDENTIFIED BY '${pw}'; ` +
          `GRANT ALL PRIVILEGES ON *.* TO 'ipms_admin'@'127.0.0.1' WITH GRANT OPTION;`,
      );
    },
    async stop() {
      const c = child;
      if (!c) return;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 30_000);
      await gone;
      clearTimeout(t);
      child = null;
    },
    async destroy() {
      await ps.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await ps.start();
  return ps;
}
