/**
 * Transports run an adapter's Steps on a device: ssh (ssh2, pinned host key), local (argv,
 * no shell) and dry-run (prints). One connection per device per batch.
 */
import type { Step } from '../devices/types.ts';

export interface StepResult {
  stdout: string;
  stderr: string;
  code: number;
  /** the step's `unless` check said its effect was already there */
  skipped?: boolean;
}

export interface Session {
  /** Run steps in order; stops at the first failure (TransportError). */
  run(steps: readonly Step[]): Promise<StepResult[]>;
  close(): Promise<void>;
  /**
   * The addresses of a network connection: ours as the device sees it (unless a NAT is between)
   * and the device's (a host name resolved). See rememberWorkerAddress.
   */
  readonly peer?: { local?: string; remote?: string };
}

export interface Transport {
  readonly name: string;
  open(): Promise<Session>;
}

/** Where a device is and how to log in; built from a Device row. */
export interface Target {
  name: string;
  host: string;
  port: number;
  username: string | null;
  /** path of the private key file (never the key itself) */
  keyRef: string | null;
  /** pinned host key, OpenSSH's SHA256:base64 form */
  hostKey: string | null;
  timeoutMs: number;
}

export class TransportError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'TransportError';
    this.code = code;
  }
}

/** The exit code counts as success for this step. */
export function exitOk(step: { okExit?: readonly number[] }, code: number): boolean {
  return (step.okExit ?? [0]).includes(code);
}

/** Text of a failed step for last_error: the command and the first line the device said. */
export function failure(argv: readonly string[], r: { code: number; stderr: string; stdout: string }): string {
  const said = (r.stderr || r.stdout).trim().split('\n').find((l) => l.trim()) ?? '';
  return `${argv.join(' ')} exited ${r.code}${said ? `: ${said.slice(0, 300)}` : ''}`;
}

/** Device CLIs report errors in their output (IOS '%', RouterOS 'failure:', 'syntax error', 'no such item' ...). */
export function sessionError(output: string, okErrors: readonly string[] = []): string | undefined {
  const line = output.split('\n').find((l) => /^\s*%|failure:|syntax error|bad command|expected end of command|no such item|input does not match|invalid value for argument/i.test(l)
    && !okErrors.some((ok) => l.includes(ok)));
  return line?.trim();
}
