/**
 * A small lab for end-to-end tests: a "device" network namespace running a real OpenSSH sshd
 * (throwaway host and client keys, the host key pinned by its fingerprint) and real nftables,
 * reached from this namespace over a veth pair; an "attacker" namespace on another veth pair.
 * All addresses live inside namespaces the test creates. Everything is torn down by close().
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, openSync, closeSync, unlinkSync } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, requireTool, type Netns } from './netns.ts';

export interface Lab {
  dev: Netns;
  atk: Netns;
  /** the device's management address (sshd), reached from here */
  mgmt: string;
  /** the device's address the attacker talks to, and the attacker's */
  target: string;
  attacker: string;
  clientKey: string;
  hostKeyFingerprint: string;
  /** a fingerprint of some other key, for the wrong-host-key case */
  otherFingerprint: string;
  /** the arguments of `ipms devices add NAME --adapter A` that reach the lab's device over SSH */
  sshArgs(): string[];
  /** can the attacker open a TCP connection to target:8080? */
  attackerCanConnect(): boolean;
  close(): void;
}

function sh(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr || r.error}`);
  return r.stdout;
}

function fingerprint(pub: string): string {
  return sh(['ssh-keygen', '-l', '-E', 'sha256', '-f', pub]).split(' ')[1]!;
}

async function waitFor(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`);
}

const NET_LOCKS = join(tmpdir(), 'ipms-lab-nets');

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/**
 * Reserves a number n for the lab's 10.231.n.0/30 and 10.232.n.0/30 links. The management link's
 * route lives in this (shared) namespace, so two labs at once (test files run in parallel) must
 * not pick the same n: the route of the first would take the second's SSH connections to the
 * first lab's sshd (a host key mismatch, seen once in CI). A lock file per n, created
 * exclusively, holds the owner's pid; one left by a dead process is taken over. A subnet some
 * interface here already has (a lab killed before close) is skipped.
 */
function reserveNet(): { n: number; release(): void } {
  mkdirSync(NET_LOCKS, { recursive: true });
  const used = sh(['ip', '-4', '-o', 'addr', 'show']);
  for (let tries = 0; tries < 500; tries++) {
    const n = randomInt(1, 250);
    if (used.includes(` 10.231.${n}.`) || used.includes(` 10.232.${n}.`)) continue;
    const file = join(NET_LOCKS, String(n));
    try {
      const fd = openSync(file, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return { n, release: () => { try { unlinkSync(file); } catch { /* already gone */ } } };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(file, 'utf8') || '0');
      // a lock being written this very moment reads empty: leave it to its writer
      if (owner > 0 && !alive(owner)) { try { unlinkSync(file); } catch { /* raced: another took it over */ } }
    }
  }
  throw new Error(`no free lab subnet: ${NET_LOCKS} holds locks of live processes for all of them`);
}

export async function createLab(): Promise<Lab> {
  for (const t of ['ip', 'nft', 'sshd', 'ssh-keygen']) requireTool(t);
  const net = reserveNet();
  const n = net.n;
  const dir = mkdtempSync(join(tmpdir(), 'ipms-lab-'));
  // (unique among live labs with n: the management veth is named in this namespace)
  const tag = `${n.toString(36)}${randomBytes(2).toString('hex')}`;
  const mgmtNet = `10.231.${n}`;
  const atkNet = `10.232.${n}`;
  const dev = createNetns('ipms-dev');
  const atk = createNetns('ipms-atk');
  const children: ChildProcess[] = [];
  const vr = `ipr${tag}`;
  const close = () => {
    for (const c of children) c.kill('SIGKILL');
    spawnSync('ip', ['link', 'del', vr], { timeout: 5000 });
    dev.destroy();
    atk.destroy();
    rmSync(dir, { recursive: true, force: true });
    net.release();
  };
  try {
    // management link: this namespace <-> device
    sh(['ip', 'link', 'add', vr, 'type', 'veth', 'peer', 'name', `ipd${tag}`]);
    sh(['ip', 'link', 'set', `ipd${tag}`, 'netns', dev.name]);
    sh(['ip', 'addr', 'add', `${mgmtNet}.1/30`, 'dev', vr]);
    sh(['ip', 'link', 'set', vr, 'up']);
    dev.ok(['ip', 'addr', 'add', `${mgmtNet}.2/30`, 'dev', `ipd${tag}`]);
    dev.ok(['ip', 'link', 'set', `ipd${tag}`, 'up']);
    dev.ok(['ip', 'link', 'set', 'lo', 'up']);
    // attack link: attacker <-> device
    dev.ok(['ip', 'link', 'add', `ipa${tag}`, 'type', 'veth', 'peer', 'name', `ipx${tag}`]);
    dev.ok(['ip', 'link', 'set', `ipx${tag}`, 'netns', atk.name]);
    dev.ok(['ip', 'addr', 'add', `${atkNet}.1/30`, 'dev', `ipa${tag}`]);
    dev.ok(['ip', 'link', 'set', `ipa${tag}`, 'up']);
    atk.ok(['ip', 'addr', 'add', `${atkNet}.2/30`, 'dev', `ipx${tag}`]);
    atk.ok(['ip', 'link', 'set', `ipx${tag}`, 'up']);
    atk.ok(['ip', 'link', 'set', 'lo', 'up']);

    // sshd with throwaway keys; root logs in with the client key only
    sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host'), '-C', 'ipms-lab-host']);
    sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other'), '-C', 'ipms-lab-other']);
    sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client'), '-C', 'ipms-lab-client']);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client.pub')));
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    writeFileSync(join(dir, 'sshd_config'), [
      `ListenAddress ${mgmtNet}.2`, 'Port 22', `HostKey ${join(dir, 'host')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no',
      'StrictModes no', `PidFile ${join(dir, 'sshd.pid')}`, 'LogLevel ERROR', '',
    ].join('\n'));
    const sshd = spawn('ip', ['netns', 'exec', dev.name, requireTool('sshd'), '-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(sshd);
    // a service on the device for the attacker to reach
    const listener = spawn('ip', ['netns', 'exec', dev.name, process.execPath, '-e',
      `require('net').createServer((s) => { s.on('error', () => {}); s.end('hello'); }).listen(8080, '${atkNet}.1')`], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(listener);

    const lab: Lab = {
      dev, atk, mgmt: `${mgmtNet}.2`, target: `${atkNet}.1`, attacker: `${atkNet}.2`,
      clientKey: join(dir, 'client'),
      hostKeyFingerprint: fingerprint(join(dir, 'host.pub')),
      otherFingerprint: fingerprint(join(dir, 'other.pub')),
      sshArgs() {
        return ['--transport', 'ssh', '--host', this.mgmt, '--user', 'root', '--key', this.clientKey, '--host-key', this.hostKeyFingerprint];
      },
      attackerCanConnect() {
        const r = atk.run([process.execPath, '-e',
          `const s = require('net').connect(8080, '${atkNet}.1'); s.setTimeout(1500);
           s.on('connect', () => process.exit(0)); s.on('timeout', () => process.exit(1)); s.on('error', () => process.exit(2));`],
          { timeoutMs: 10_000 });
        return r.status === 0;
      },
      close,
    };
    const portOpen = (ns: Netns | undefined, host: string, port: number) => {
      const argv = [process.execPath, '-e', `const s = require('net').connect(${port}, '${host}'); s.setTimeout(500);
        s.on('connect', () => process.exit(0)); s.on('timeout', () => process.exit(1)); s.on('error', () => process.exit(2));`];
      return (ns ? ns.run(argv) : { status: spawnSync(argv[0]!, argv.slice(1), { timeout: 5000 }).status }).status === 0;
    };
    await waitFor('sshd listening', () => portOpen(undefined, `${mgmtNet}.2`, 22));
    await waitFor('the device service listening', () => portOpen(dev, `${atkNet}.1`, 8080));
    return lab;
  } catch (err) {
    close();
    throw err;
  }
}
