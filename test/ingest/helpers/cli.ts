/**
 * Running `ipms` the two ways the tests need: in-process through cli/main.ts (fast; the exit
 * code comes back as a value), and as a real child process `node bin/ipms.mjs` (for SIGKILL,
 * SIGTERM and --follow runs that another server's outage must not disturb).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main } from '../../../cli/main.ts';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'ipms', ...args], { out: (s) => out.push(s), err: (s) => err.push(s), isTty: false }, env);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The JSON summary of a successful `ingest --json` run (fails the test with stderr otherwise). */
export async function ingestJson(url: string, args: string[]): Promise<Summary> {
  const r = await runCli(['--database-url', url, 'ingest', '--json', ...args]);
  if (r.code !== 0) throw new Error(`ingest exited ${r.code}: ${r.err}`);
  return JSON.parse(r.out) as Summary;
}

export interface Summary {
  counts: Record<string, number>;
  files: { path: string; format: string; lines: number; rejected: number; offset: number }[];
  honeypots_known: boolean;
  rejects_file: string | null;
  spool_pending_bytes: number;
  warnings: string[];
}

export interface Child {
  proc: ChildProcess;
  out(): string;
  err(): string;
  /** resolves with the exit code (or the signal name) */
  exited: Promise<number | string>;
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(process.execPath, ['bin/ipms.mjs', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { proc, out: () => out, err: () => err, exited };
}

/** Wait for `cond` (polled every 50 ms), failing after `ms`. */
export async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Kill a child if it is still running and wait for it (bounded). */
export async function reap(c: Child, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill(signal);
  await Promise.race([c.exited, new Promise((r) => setTimeout(r, 10_000))]);
}
