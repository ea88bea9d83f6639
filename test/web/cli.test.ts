/**
 * `ipms users ...` and `ipms serve`, as a person runs them: the real command in a child
 * process where standard input matters (the password), in-process otherwise.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseListen } from '../../cli/commands/serve.ts';
import { ipms, ipmsProcess } from '../helpers/cli.ts';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { verifyPassword } from '../../web/password.ts';
import { Client } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let t: TestDb;
beforeAll(async () => {
  t = await freshDatabase('web_cli');
});
afterAll(async () => t.close());

function run(args: string[], input: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['bin/ipms.mjs', ...args], {
    cwd: ROOT, input, encoding: 'utf8', timeout: 30_000,
    env: { PATH: process.env.PATH, HOME: '/nonexistent', USER: 'dba', IPMS_DATABASE_URL: t.url },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('ipms users', () => {
  it('adds an account with the password from standard input, hashed, never echoed', async () => {
    const r = run(['users', 'add', 'alice', '--role', 'admin', '--password-stdin'], 'alice long password\n');
    expect(r).toEqual({ code: 0, out: 'user alice: added (admin)\n', err: '' });
    const [u] = await t.db.rows<{ role: string; password_hash: string }>("SELECT role, password_hash FROM WebUser WHERE name = 'alice'");
    expect(u!.role).toBe('admin');
    expect(u!.password_hash).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
    expect(await verifyPassword('alice long password', u!.password_hash)).toBe(true);
    const [a] = await t.db.rows<{ who: string; via: string; target: string; detail: string }>("SELECT who, via, target, detail FROM AuditLog WHERE action = 'user.add'");
    expect(a).toEqual({ who: 'dba', via: 'cli', target: 'alice', detail: '{"role":"admin"}' });
  });

  it('refuses short passwords, several lines, no --password-stdin, bad names and roles, duplicates', async () => {
    const short = run(['users', 'add', 'bob', '--password-stdin'], 'short\n');
    expect(short.code).toBe(2);
    expect(short.err).toBe('ipms: password: at least 12 characters\n');
    expect(short.out).toBe('');
    expect(run(['users', 'add', 'bob', '--password-stdin'], 'first line is long\nsecond\n').err).toMatch(/one line/);
    const noStdin = await ipms(t.url, 'users', 'add', 'bob');
    expect(noStdin.code).toBe(2);
    expect(noStdin.err).toMatch(/--password-stdin/);
    expect((await ipms(t.url, 'users', 'add', '<bob>', '--password-stdin')).code).toBe(2);
    expect((await ipms(t.url, 'users', 'add', 'bob', '--role', 'root', '--password-stdin')).code).toBe(2);
    // ipms writes list entries as ipms-worker and ipms-honeypots: no console account takes such a name
    const own = run(['users', 'add', 'IPMS-worker', '--password-stdin'], 'another long password\n');
    expect(own).toMatchObject({ code: 2, err: "ipms: NAME: 'IPMS-worker': names starting with 'ipms-' are ipms's own\n" });
    const dup = run(['users', 'add', 'alice', '--password-stdin'], 'another long password\n');
    expect(dup.code).toBe(5);
    expect(await t.db.rows("SELECT * FROM WebUser WHERE name = 'bob'")).toEqual([]);
  });

  it('lists, changes a password (ending the sessions), changes a role, and removes', async () => {
    expect(run(['users', 'add', 'victor', '--password-stdin'], 'victor long password').code).toBe(0);
    const list = await ipms(t.url, 'users', 'list', '--json');
    expect(list.json<{ name: string; role: string }[]>().map((u) => [u.name, u.role])).toEqual([['alice', 'admin'], ['victor', 'viewer']]);
    expect(list.out).not.toMatch(/scrypt|password/);
    const [v] = await t.db.rows<{ id: number }>("SELECT id FROM WebUser WHERE name = 'victor'");
    await t.db.exec("INSERT INTO WebSession (id_hash, user_id, expires_at) VALUES (UNHEX(SHA2('x', 256)), ?, UTC_TIMESTAMP(3) + INTERVAL 1 HOUR)", [v!.id]);
    expect(run(['users', 'passwd', 'victor', '--password-stdin'], 'victor new password\n').code).toBe(0);
    expect(await t.db.rows('SELECT * FROM WebSession WHERE user_id = ?', [v!.id])).toEqual([]);
    expect((await ipms(t.url, 'users', 'role', 'victor', 'admin')).out).toBe('user victor: now admin');
    expect((await ipms(t.url, 'users', 'list', '--json')).json<{ name: string; role: string }[]>().find((u) => u.name === 'victor')?.role).toBe('admin');
    const badRole = await ipms(t.url, 'users', 'role', 'victor', 'root');
    expect([badRole.code, badRole.err.split('\n').length]).toEqual([2, 1]);
    expect((await ipms(t.url, 'users', 'role', 'nobody', 'viewer')).code).toBe(4);
    const removed = await ipms(t.url, 'users', 'remove', 'victor');
    expect(removed.code).toBe(0);
    expect((await ipms(t.url, 'users', 'remove', 'victor')).code).toBe(4);
    const actions = await t.db.rows<{ action: string; target: string }>("SELECT action, target FROM AuditLog WHERE via = 'cli' ORDER BY id");
    expect(actions.map((a) => `${a.action} ${a.target}`)).toEqual(['user.add alice', 'user.add victor', 'user.passwd victor', 'user.role victor', 'user.remove victor']);
  });
});

describe('ipms serve', () => {
  it('parses --listen', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(parseListen('localhost:80')).toEqual({ host: 'localhost', port: 80 });
    expect(parseListen('8081')).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(parseListen(':8082')).toEqual({ host: '127.0.0.1', port: 8082 });
    for (const bad of ['', 'web:8080', '127.0.0.1', '1.2.3.4:99999', '::1:8080', '[::1]']) expect(() => parseListen(bad), bad).toThrow();
  });

  it('refuses a non-loopback address unless --allow-remote, and a bad --origin', async () => {
    for (const listen of ['0.0.0.0:8080', '[::]:8080', '192.0.2.10:8080']) {
      const r = await ipms(t.url, 'serve', '--listen', listen);
      expect(r.code, listen).toBe(2);
      expect(r.err).toMatch(/is not a loopback address: add --allow-remote/);
    }
    for (const listen of ['0.0.0.0:8080', '[::]:8080']) {
      const r = await ipms(t.url, 'serve', '--listen', listen, '--allow-remote');
      expect([r.code, r.err], listen).toEqual([2, expect.stringMatching(/answers on every address: give --origin/)]);
    }
    expect((await ipms(t.url, 'serve', '--origin', 'ftp://x')).code).toBe(2);
    expect((await ipms(t.url, 'serve', '--origin', 'https://ipms.example.net/console')).code).toBe(2);
    const proxy = await ipms(t.url, 'serve', '--trust-proxy', 'proxy.example.net');
    expect([proxy.code, proxy.err]).toEqual([2, "ipms: --trust-proxy: not an IP address: 'proxy.example.net'"]);
  });

  it('serves until SIGTERM, then stops cleanly', async () => {
    const p = ipmsProcess(t.url, 'serve', '--listen', '127.0.0.1:0');
    let code;
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "listening" line in 30 s: ${p.out()} ${p.err()}`)), 30_000);
        p.child.stdout.on('data', () => {
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.out());
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      const home = await new Client(url).get('/');
      expect(home.status).toBe(200);
      expect(home.body).toContain('action="/login"');
      // a second server on the same port: one line saying so, exit 2
      const taken = url.replace('http://', '');
      const again = await ipms(t.url, 'serve', '--listen', taken);
      expect([again.code, again.err]).toEqual([2, `ipms: --listen ${taken}: the port is in use by another program (ipms serve running already?)`]);
    } finally {
      code = await p.stop();
    }
    expect(code).toBe(0);
    expect(p.out()).toMatch(/ipms serve: stopped\n$/);
    expect(p.err()).not.toMatch(/unexpected|Error/);
  });
});
