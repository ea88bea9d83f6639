/**
 * SSH transport: the one module that imports ssh2. Key authentication only; the host key must
 * match the pinned fingerprint (OpenSSH's `SHA256:` form: unpadded base64 of the SHA-256 of the
 * raw key blob, which ssh2 hands to hostVerifier) or the connection is dropped before anything
 * is sent. Each step is one exec request on one connection per batch.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Client, ClientChannel } from 'ssh2';
import type { Step } from '../devices/types.ts';
import { runExecSteps } from './local.ts';
import { shellQuote } from './quote.ts';
import { sessionError, TransportError, type Session, type StepResult, type Target, type Transport } from './types.ts';

export function sshFingerprint(rawKey: Buffer): string {
  return `SHA256:${createHash('sha256').update(rawKey).digest('base64').replace(/=+$/, '')}`;
}

function sameFingerprint(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** ssh2 is loaded by the commands that talk to devices only (every other command starts sooner). */
async function connect(t: Target): Promise<Client> {
  if (!t.hostKey) throw new TransportError('E_HOSTKEY', `device ${t.name} has no pinned host key (devices add --host-key SHA256:...)`);
  if (!t.keyRef) throw new TransportError('E_KEY', `device ${t.name} has no private key path (devices add --key PATH)`);
  if (!t.username) throw new TransportError('E_USER', `device ${t.name} has no user name (devices add --user)`);
  let privateKey: Buffer;
  try {
    privateKey = readFileSync(t.keyRef);
  } catch (err) {
    throw new TransportError('E_KEY', `cannot read private key ${t.keyRef}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const pinned = t.hostKey;
  const { Client: SshClient } = await import('ssh2');
  return new Promise((resolve, reject) => {
    const client = new SshClient();
    let seen: string | undefined;
    const timer = setTimeout(() => {
      client.destroy();
      reject(new TransportError('E_TIMEOUT', `ssh to ${t.host}:${t.port} timed out after ${t.timeoutMs} ms`));
    }, t.timeoutMs);
    client
      .on('ready', () => {
        clearTimeout(timer);
        resolve(client);
      })
      .on('error', (err: Error & { level?: string }) => {
        clearTimeout(timer);
        client.destroy();
        if (seen !== undefined && !sameFingerprint(seen, pinned)) {
          reject(new TransportError('E_HOSTKEY', `host key of ${t.host}:${t.port} is ${seen}, not the pinned ${pinned}: refused, nothing was sent`));
        } else if (err.level === 'client-authentication') {
          reject(new TransportError('E_AUTH', `ssh login as ${t.username} to ${t.host}:${t.port} refused (key ${t.keyRef})`));
        } else {
          reject(new TransportError('E_CONNECT', `ssh to ${t.host}:${t.port}: ${err.message}`));
        }
      })
      .connect({
        host: t.host,
        port: t.port,
        username: t.username!,
        privateKey,
        readyTimeout: t.timeoutMs,
        keepaliveInterval: 15_000,
        hostVerifier: (key: Buffer) => {
          seen = sshFingerprint(key);
          return sameFingerprint(seen, pinned);
        },
      });
  });
}

function execOne(client: Client, argv: readonly string[], stdin: string | undefined, timeoutMs: number): Promise<StepResult> {
  return new Promise((resolve, reject) => {
    client.exec(shellQuote(argv), (err, stream: ClientChannel) => {
      if (err) return reject(new TransportError('E_EXEC', `${argv[0]}: ${err.message}`));
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => {
        // closing the channel does not stop the remote command (a stuck `nft -f` would go on
        // holding the device's CPU): ask sshd to kill it first
        try {
          stream.signal('KILL');
        } catch {
          // servers that refuse signal requests: closing is all we can do
        }
        stream.close();
        reject(new TransportError('E_TIMEOUT', `${argv.join(' ')} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      stream.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      stream.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      stream.on('close', (code: number | null, signal?: string) => {
        clearTimeout(timer);
        resolve({ stdout, stderr, code: code ?? (signal ? 128 : -1) });
      });
      // an unhandled stream error would take the whole worker down; 'close' still follows
      stream.on('error', (e: Error) => {
        clearTimeout(timer);
        reject(new TransportError('E_EXEC', `${argv[0]}: ${e.message}`));
      });
      stream.end(stdin ?? '');
    });
  });
}

/** A device CLI session (Cisco IOS, RouterOS): lines written to a shell; errors are in the output. */
function shellSession(client: Client, lines: readonly string[], timeoutMs: number, okErrors?: readonly string[], logout = 'exit\n'): Promise<StepResult> {
  return new Promise((resolve, reject) => {
    client.shell({ term: 'dumb' }, (err, stream: ClientChannel) => {
      if (err) return reject(new TransportError('E_EXEC', `shell: ${err.message}`));
      let out = '';
      const timer = setTimeout(() => {
        stream.close();
        reject(new TransportError('E_TIMEOUT', `device session did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      stream.setEncoding('utf8').on('data', (d: string) => (out += d));
      stream.on('error', (e: Error) => {
        clearTimeout(timer);
        reject(new TransportError('E_EXEC', `shell: ${e.message}`));
      });
      stream.on('close', () => {
        clearTimeout(timer);
        const bad = sessionError(out, okErrors);
        if (bad) reject(new TransportError('E_STEP', `device said: ${bad}`));
        else resolve({ stdout: out, stderr: '', code: 0 });
      });
      stream.end(`${lines.join('\n')}\n${logout}`);
    });
  });
}

export function sshTransport(t: Target): Transport {
  return {
    name: 'ssh',
    async open(): Promise<Session> {
      const client = await connect(t);
      // (ssh2 keeps its TCP socket in _sock; without it nothing is remembered)
      const sock = (client as unknown as { _sock?: { localAddress?: string; remoteAddress?: string } })._sock;
      return {
        peer: { local: sock?.localAddress, remote: sock?.remoteAddress },
        async run(steps: readonly Step[]) {
          const out: StepResult[] = [];
          for (const step of steps) {
            if ('session' in step) out.push(await shellSession(client, step.session, t.timeoutMs, step.okErrors, step.logout));
            else out.push(...(await runExecSteps([step], (argv, stdin) => execOne(client, argv, stdin, t.timeoutMs))));
          }
          return out;
        },
        async close() {
          client.end();
        },
      };
    },
  };
}
