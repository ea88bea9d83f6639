/**
 * The transports on their own: the quoting the SSH transport relies on, checked through a real
 * /bin/sh; the local transport (argv, never a shell; stdin; `unless` checks; exit codes;
 * timeouts); the dry-run transport's text; and the OpenSSH fingerprint the host key is pinned
 * by, against ssh-keygen's own. Commands here are harmless ones (printf, cat, sleep).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loginName, transportFor, TRANSPORTS } from '../../worker/target.ts';
import { ADAPTERS } from '../../worker/devices/index.ts';
import type { DeviceRow } from '../../lib/types.ts';
import { dryRunTransport } from '../../worker/transports/dryrun.ts';
import { localTransport } from '../../worker/transports/local.ts';
import { shellQuote } from '../../worker/transports/quote.ts';
import { sshFingerprint } from '../../worker/transports/ssh.ts';
import { withSudo } from '../../worker/transports/sudo.ts';
import { TransportError } from '../../worker/transports/types.ts';

// if any of these were run as shell syntax, it would leave a file in CANARY (harmless)
const CANARY = mkdtempSync(join(tmpdir(), 'ipms-canary-'));
const NASTY = ['plain', '', 'two words', "it's", `$(touch ${CANARY}/a)`, `\`touch ${CANARY}/b\``, `x; touch ${CANARY}/c`,
  `x && touch ${CANARY}/d`, `x | touch ${CANARY}/e`, '*', 'line\nbreak', '\\', '"q"', '-n', '$HOME', 'ü€'];

afterAll(() => rmSync(CANARY, { recursive: true, force: true }));

describe('shellQuote', () => {
  it('gives a remote shell back exactly the argv it was given', () => {
    const r = spawnSync('/bin/sh', ['-c', `printf '%s\\0' ${shellQuote(NASTY)}`], { encoding: 'utf8', timeout: 5000 });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(NASTY);
    expect(readdirSync(CANARY)).toEqual([]);
  });

  it('leaves canonical values as they are', () => {
    expect(shellQuote(['nft', '-f', '-'])).toBe('nft -f -');
    expect(shellQuote(['iptables', '-w', '10', '-C', 'INPUT', '-s', '198.51.100.0/24', '-j', 'IPMS'])).toBe(
      'iptables -w 10 -C INPUT -s 198.51.100.0/24 -j IPMS');
    expect(shellQuote(['echo', '2001:db8::/32'])).toBe('echo 2001:db8::/32');
  });
});

describe('local transport', () => {
  const open = (ms = 5000) => localTransport(ms).open();

  it('runs argv without a shell: metacharacters stay text', async () => {
    const s = await open();
    const [r] = await s.run([{ argv: ['printf', '%s|', ...NASTY] }]);
    expect(r!.stdout).toBe(`${NASTY.join('|')}|`);
    expect(readdirSync(CANARY)).toEqual([]);
    await s.close();
  });

  it('feeds stdin, skips a step whose `unless` check says it is done, and honours okExit', async () => {
    const s = await open();
    const out = await s.run([
      { argv: ['cat'], stdin: 'add element inet ipms drop4 { 198.51.100.7 }\n' },
      { argv: ['printf', 'ran'], unless: ['true'] },
      { argv: ['printf', 'ran'], unless: ['false'] },
      { argv: ['sh', '-c', 'exit 1'], okExit: [0, 1] },
    ]);
    expect(out.map((r) => [r.stdout, r.skipped ?? false])).toEqual([
      ['add element inet ipms drop4 { 198.51.100.7 }\n', false], ['', true], ['ran', false], ['', false],
    ]);
  });

  it('stops at the first failing step, saying which command and what it printed', async () => {
    const s = await open();
    const err = await s.run([
      { argv: ['cat'], stdin: 'first\n' },
      { argv: ['cat', '/nonexistent/ipms-test'] },
      { argv: ['printf', 'never'] },
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).message).toMatch(/^cat \/nonexistent\/ipms-test exited 1: cat: \/nonexistent\/ipms-test: No such file or directory$/);
    // an `unless` check saying "not there" (exit 1) lets the step run; any other failure is an error
    await expect(s.run([{ argv: ['true'], unless: ['cat', '/nonexistent/ipms-test'] }])).resolves.toMatchObject([{ code: 0 }]);
    await expect(s.run([{ argv: ['true'], unless: ['sh', '-c', 'exit 2'] }])).rejects.toThrow(/sh -c exit 2 exited 2/);
    await expect(s.run([{ argv: ['/nonexistent/tool'] }])).rejects.toThrow(/^\/nonexistent\/tool: spawn \/nonexistent\/tool ENOENT$/);
  });

  it('kills a command that outlives its timeout', async () => {
    const s = await open(300);
    const t0 = Date.now();
    await expect(s.run([{ argv: ['sleep', '10'] }])).rejects.toThrow(/^sleep 10 was ended \(SIGTERM, then SIGKILL\) after 300 ms$/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('kills what a command started too: a timeout is not held up by a child keeping its output open', { timeout: 15_000 }, async () => {
    const running = (marker: string) => spawnSync('pgrep', ['-f', marker]).status === 0;
    // (a shell whose child sleeps: killing the shell alone left the child holding stdout, and
    // the step waited for it as long as it lived)
    const s = await open(300);
    await expect(s.run([{ argv: ['sh', '-c', 'sleep 27.4301; echo late'] }])).rejects.toThrow(/was ended \(SIGTERM, then SIGKILL\) after 300 ms$/);
    expect(running('sleep 27.4301')).toBe(false);
    // a command that exits and leaves a process behind with its output: answered, and that
    // process killed a moment later
    const quick = await open(60_000);
    const [r] = await quick.run([{ argv: ['sh', '-c', 'sleep 27.4302 & echo started'] }]);
    expect([r!.code, r!.stdout]).toEqual([0, 'started\n']);
    expect(running('sleep 27.4302')).toBe(false);
    // SIGTERM first, which sudo passes on to the command it runs as root (a SIGKILL would end
    // sudo and leave that command running)
    const s2 = await open(300);
    await expect(s2.run([{ argv: ['sh', '-c', `trap 'touch ${CANARY}/termed; exit 0' TERM; sleep 27.4303 & wait`] }])).rejects.toThrow(/after 300 ms$/);
    expect(readdirSync(CANARY)).toContain('termed');
    rmSync(join(CANARY, 'termed'));
    expect(running('sleep 27.4303')).toBe(false);
  });

  it('refuses device CLI sessions (they need a device)', async () => {
    const s = await open();
    await expect(s.run([{ session: ['configure terminal'] }])).rejects.toThrow(/runs commands, not device CLI sessions/);
  });
});

describe('dry-run transport', () => {
  it('prints each step as it would be sent, stdin line by line, and sends nothing', async () => {
    const printed: string[] = [];
    const s = await dryRunTransport('fw1', (x) => printed.push(x)).open();
    const res = await s.run([
      { argv: ['nft', '-f', '-'], stdin: 'add element inet ipms drop4 {\n\t198.51.100.7\n}\n' },
      { argv: ['iptables', '-w', '10', '-I', 'INPUT', '1', '-j', 'IPMS'], unless: ['iptables', '-w', '10', '-C', 'INPUT', '-j', 'IPMS'] },
      { session: ['configure terminal', 'ip access-list extended IPMS', ' 10 deny ip host 198.51.100.7 any', 'end'] },
    ]);
    expect(res.map((r) => r.code)).toEqual([0, 0, 0]);
    expect(printed).toEqual([
      '[dry-run fw1] nft -f -\n  | add element inet ipms drop4 {\n  | \t198.51.100.7\n  | }',
      '[dry-run fw1] unless iptables -w 10 -C INPUT -j IPMS: iptables -w 10 -I INPUT 1 -j IPMS',
      '[dry-run fw1] configure terminal\nip access-list extended IPMS\n 10 deny ip host 198.51.100.7 any\nend',
    ]);
  });
});

describe('sudo', () => {
  it('runs every command and every check as sudo -n -- COMMAND, and refuses device CLI sessions', async () => {
    const printed: string[] = [];
    const s = await withSudo(dryRunTransport('fw2', (x) => printed.push(x))).open();
    await s.run([
      { argv: ['nft', '-f', '-'], stdin: 'flush set inet ipms drop4\n' },
      { argv: ['iptables', '-w', '10', '-I', 'INPUT', '1', '-j', 'IPMS'], unless: ['iptables', '-w', '10', '-C', 'INPUT', '-j', 'IPMS'] },
    ]);
    expect(printed).toEqual([
      '[dry-run fw2] sudo -n -- nft -f -\n  | flush set inet ipms drop4',
      '[dry-run fw2] unless sudo -n -- iptables -w 10 -C INPUT -j IPMS: sudo -n -- iptables -w 10 -I INPUT 1 -j IPMS',
    ]);
    await expect(s.run([{ session: ['configure terminal'] }])).rejects.toThrow(/sudo applies to commands, not to device CLI sessions/);
  });
});

describe('RouterOS login name', () => {
  it('asks for plain lines (no colours, no terminal detection, no wrapping); other devices log in as given', () => {
    expect(loginName({ adapter: 'routeros', username: 'ipms' })).toBe('ipms+ct511w4098h');
    expect(loginName({ adapter: 'routeros', username: null })).toBeNull();
    expect(loginName({ adapter: 'cisco-ios', username: 'ipms' })).toBe('ipms');
    expect(loginName({ adapter: 'nftables', username: 'root' })).toBe('root');
  });
});

describe('device hosts', () => {
  it('an address a resolver reads otherwise than the database (a row from before schema 0018) is refused before any connection', () => {
    const dev = (host: string) => ({ id: 1, name: 'fw', host, port: 22, adapter: 'nftables', transport: 'ssh', username: 'ipms', key_ref: '/k',
      host_key: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', options: null, sudo: 0 }) as unknown as DeviceRow;
    const print = () => undefined;
    expect(() => transportFor(dev('198.051.100.007'), { print })).toThrow(/device fw: host '198\.051\.100\.007' is not an IP address in standard form/);
    for (const host of ['3325256711', '0xc6.0x33.0x64.7', '198.51.25863']) expect(() => transportFor(dev(host), { print }), host).toThrow(/not an IP address in standard form/);
    for (const host of ['198.51.100.7', '2001:db8::1', 'fw1.example.net']) expect(transportFor(dev(host), { print }).name).toMatch(/ssh/);
  });
});

describe('the database\'s list of adapters and transports (triggers/ipms_device_kind.sql)', () => {
  it('is the worker\'s', () => {
    const sql = readFileSync(new URL('../../triggers/ipms_device_kind.sql', import.meta.url), 'utf8');
    const list = (col: string) => /NOT IN \(([^)]*)\)/g.exec(sql.slice(sql.indexOf(`p_${col} IS NULL`)))![1]!.split(',').map((x) => x.trim().replace(/'/g, ''));
    expect(list('adapter').sort()).toEqual(Object.keys(ADAPTERS).sort());
    expect(list('transport').sort()).toEqual([...TRANSPORTS].sort());
  });
});

describe('host key fingerprints', () => {
  it("are OpenSSH's SHA256: form (unpadded base64 of the raw key's SHA-256), as ssh-keygen -l prints", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipms-fp-'));
    try {
      for (const type of ['ed25519', 'ecdsa', 'rsa']) {
        const key = join(dir, type);
        expect(spawnSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', key], { timeout: 30_000 }).status).toBe(0);
        const blob = Buffer.from(readFileSync(`${key}.pub`, 'utf8').split(' ')[1]!, 'base64');
        const want = spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${key}.pub`], { encoding: 'utf8' }).stdout.split(' ')[1];
        expect(sshFingerprint(blob)).toBe(want);
        expect(want).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
