/**
 * A throwaway network namespace for tests that apply real firewall rules: nftables tables,
 * iptables chains and ipset sets all live per namespace, so nothing touches the machine's own
 * firewall. Every command goes through `ip netns exec <ns>` with an argv (no shell) and a time
 * limit. Create in beforeAll, destroy in afterAll (destroy is safe to call twice).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { delimiter, join } from 'node:path';
import type { Step } from '../../worker/devices/types.ts';

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface Netns {
  readonly name: string;
  /** run argv inside the namespace; never throws on a non-zero exit */
  run(argv: readonly string[], opts?: { stdin?: string; timeoutMs?: number }): RunResult;
  /** run argv inside the namespace and throw (with stderr) unless it exits 0 */
  ok(argv: readonly string[], opts?: { stdin?: string; timeoutMs?: number }): string;
  /** run adapter Steps the way a transport does (okExit, unless, stdin); stdout of each step */
  runSteps(steps: readonly Step[], timeoutMs?: number): string[];
  /**
   * Open a TCP connection from `from` to `to`:`port` inside the namespace (a server listens there
   * for the moment): 'connected', 'timeout' (dropped) or the socket error code (rejected, e.g.
   * EHOSTUNREACH). Both addresses must be local: bring lo up and add them first.
   */
  tcpProbe(from: string, to: string, port: number, timeoutMs?: number): string;
  destroy(): void;
}

const DEFAULT_TIMEOUT_MS = 30_000;

const PROBE = `
const net = require('node:net');
const [from, to, port, ms] = process.argv.slice(1);
const done = (what) => { console.log(what); process.exit(0); };
const srv = net.createServer((s) => s.end()).listen(Number(port), to, () => {
  const c = net.connect({ host: to, port: Number(port), localAddress: from });
  setTimeout(() => done('timeout'), Number(ms));
  c.on('connect', () => done('connected'));
  c.on('error', (e) => done(e.code));
});
srv.on('error', (e) => done('server ' + e.code));
`;

/** Path of a program, or a thrown error that says what is missing (tests must fail, not skip). */
export function requireTool(tool: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, tool);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next directory
    }
  }
  throw new Error(`'${tool}' is not installed on this machine; this test applies real rules with it and cannot run without it`);
}

function exec(argv: readonly string[], stdin: string | undefined, timeoutMs: number): RunResult {
  const [cmd, ...args] = argv;
  const r = spawnSync(cmd!, args, {
    input: stdin ?? '',
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 512 * 1024 * 1024,
  });
  if (r.error) throw new Error(`${argv.slice(0, 6).join(' ')}: ${r.error.message}`);
  if (r.status === null) throw new Error(`${argv.slice(0, 6).join(' ')}: killed by ${r.signal} (time limit ${timeoutMs} ms)`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function createNetns(prefix = 'ipms-t'): Netns {
  requireTool('ip');
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  const add = exec(['ip', 'netns', 'add', name], undefined, 10_000);
  if (add.status !== 0) throw new Error(`ip netns add ${name} failed: ${add.stderr.trim()}`);
  let alive = true;

  const run = (argv: readonly string[], opts: { stdin?: string; timeoutMs?: number } = {}): RunResult => {
    if (!alive) throw new Error(`namespace ${name} is already deleted`);
    return exec(['ip', 'netns', 'exec', name, ...argv], opts.stdin, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  };
  const ok = (argv: readonly string[], opts: { stdin?: string; timeoutMs?: number } = {}): string => {
    const r = run(argv, opts);
    if (r.status !== 0) throw new Error(`${argv.slice(0, 6).join(' ')} exited ${r.status}: ${r.stderr.trim().slice(0, 2000)}`);
    return r.stdout;
  };

  return {
    name,
    run,
    ok,
    runSteps(steps, timeoutMs = DEFAULT_TIMEOUT_MS) {
      const outputs: string[] = [];
      for (const s of steps) {
        if (!('argv' in s)) throw new Error('session steps are for device CLIs; they cannot run in a namespace');
        if (s.unless) {
          const c = run(s.unless, { timeoutMs });
          if (c.status === 0) {
            outputs.push('');
            continue;
          }
          if (c.status !== 1) throw new Error(`check ${s.unless.join(' ')} exited ${c.status}: ${c.stderr.trim()}`);
        }
        const r = run(s.argv, { stdin: s.stdin, timeoutMs });
        if (!(s.okExit ?? [0]).includes(r.status)) {
          throw new Error(`${s.argv.join(' ')} exited ${r.status}: ${r.stderr.trim().slice(0, 2000)}`);
        }
        outputs.push(r.stdout);
      }
      return outputs;
    },
    tcpProbe(from, to, port, timeoutMs = 1500) {
      return ok([process.execPath, '-e', PROBE, from, to, String(port), String(timeoutMs)], { timeoutMs: timeoutMs + 15_000 }).trim();
    },
    destroy() {
      if (!alive) return;
      alive = false;
      const r = exec(['ip', 'netns', 'del', name], undefined, 10_000);
      if (r.status !== 0) throw new Error(`ip netns del ${name} failed: ${r.stderr.trim()}`);
    },
  };
}
