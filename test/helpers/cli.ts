/** Run the ipms CLI in-process against a test database, capturing what it prints. */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../cli/main.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number;
  out: string;
  err: string;
  json<T = unknown>(): T;
}

export async function ipms(url: string | undefined, ...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: '/nonexistent', USER: 'tester' };
  if (url) env.IPMS_DATABASE_URL = url;
  const code = await main(['node', 'ipms', ...args], { out: (s) => out.push(s), err: (s) => err.push(s), isTty: false }, env);
  const o = out.join('\n');
  return {
    code,
    out: o,
    err: err.join('\n'),
    json<T>() {
      return JSON.parse(o) as T;
    },
  };
}

export interface CliProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  out(): string;
  err(): string;
  /** SIGTERM, then the exit code (SIGKILL and 'still running' after timeoutMs) */
  stop(timeoutMs?: number): Promise<number | null | 'still running'>;
}

/** `ipms ...` as a process of its own (bin/ipms.mjs), as an init system runs it. */
export function ipmsProcess(url: string, ...args: string[]): CliProcess {
  const child = spawn(process.execPath, ['bin/ipms.mjs', ...args], {
    cwd: ROOT, env: { PATH: process.env.PATH, HOME: '/nonexistent', IPMS_DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    out: () => out,
    err: () => err,
    async stop(timeoutMs = 15_000) {
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), timeoutMs))]);
      if (code === 'still running') child.kill('SIGKILL');
      return code;
    },
  };
}
