/** Run steps on this host: argv through execFile, never a shell. */
import { spawn } from 'node:child_process';
import type { Step } from '../devices/types.ts';
import { exitOk, failure, TransportError, type Session, type StepResult, type Transport } from './types.ts';

/**
 * The command runs in a process group of its own, which a timeout ends whole: ending only the
 * command would leave what it started (a shell's child, a stuck nft) holding its output open,
 * and the step waiting for that output to end as long as they live. SIGTERM first, which sudo
 * passes on to the root command it runs (a SIGKILL of an unprivileged worker's would end sudo
 * and not it), SIGKILL a moment later. What a command that exited left holding its output gets
 * a moment, and is then killed (a group keeps its number while any process is in it; one left
 * empty and taken again within that second would need the system's process ids to wrap around
 * in it) and no longer waited for (a root process under sudo does not take an unprivileged
 * worker's signal).
 */
function exec(argv: readonly string[], stdin: string | undefined, timeoutMs: number): Promise<StepResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let exitCode: number | null = null;
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // (gone already)
      }
    };
    let hard: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup('SIGTERM');
      hard = setTimeout(() => signalGroup('SIGKILL'), TERM_GRACE_MS);
    }, timeoutMs);
    let leftovers: NodeJS.Timeout | undefined;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new TransportError('E_EXEC', `${argv[0]}: ${err.message}`));
    });
    child.on('exit', (code) => {
      exitCode = code;
      clearTimeout(timer);
      clearTimeout(hard);
      leftovers = setTimeout(() => {
        signalGroup('SIGKILL');
        child.stdout!.destroy();
        child.stderr!.destroy();
      }, EXITED_GRACE_MS);
    });
    child.on('close', (code, signal) => {
      clearTimeout(leftovers);
      if (timedOut) reject(new TransportError('E_TIMEOUT', `${argv.join(' ')} was ended (SIGTERM, then SIGKILL) after ${timeoutMs} ms`));
      else if (exitCode === null && signal) reject(new TransportError('E_EXEC', `${argv.join(' ')} was killed (${signal})`));
      else resolve({ stdout, stderr, code: exitCode ?? code ?? -1 });
    });
    if (child.stdin) {
      // a command that exits without reading all its input closes the pipe (EPIPE): its exit
      // code says how it went; an unhandled stream error would take the whole worker down
      child.stdin.on('error', () => undefined);
      child.stdin.end(stdin);
    }
  });
}

/** How long a timed-out command's group has between SIGTERM and SIGKILL. */
const TERM_GRACE_MS = 2000;
/** How long what a command left running may hold its output after it exited. */
const EXITED_GRACE_MS = 1000;

export async function runExecSteps(
  steps: readonly Step[],
  run: (argv: readonly string[], stdin?: string) => Promise<StepResult>,
): Promise<StepResult[]> {
  const out: StepResult[] = [];
  for (const step of steps) {
    if (!('argv' in step)) throw new TransportError('E_STEP', 'this transport runs commands, not device CLI sessions');
    if (step.unless) {
      const check = await run(step.unless);
      if (check.code === 0) {
        out.push({ ...check, skipped: true });
        continue;
      }
      if (check.code !== 1) throw new TransportError('E_STEP', failure(step.unless, check));
    }
    const r = await run(step.argv, step.stdin);
    if (!exitOk(step, r.code)) throw new TransportError('E_STEP', failure(step.argv, r));
    out.push(r);
  }
  return out;
}

export function localTransport(timeoutMs = 60_000): Transport {
  return {
    name: 'local',
    async open(): Promise<Session> {
      return {
        run: (steps) => runExecSteps(steps, (argv, stdin) => exec(argv, stdin, timeoutMs)),
        async close() {},
      };
    },
  };
}
