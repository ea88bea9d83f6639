/**
 * `ipms worker` as the process an init system runs: it applies rules as they come, logs to
 * stderr with timestamps, and on SIGTERM finishes and exits 0. The device uses the dry-run
 * transport, whose text goes to stdout.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipms } from '../helpers/cli.ts';
import { freshDatabase, type TestDb } from '../helpers/db.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let t: TestDb;

beforeAll(async () => {
  t = await freshDatabase('worker_daemon');
  expect((await ipms(t.url, 'devices', 'add', 'fw', '--adapter', 'nftables', '--transport', 'dry-run', '--host', 'fw.example.net')).code).toBe(0);
});
afterAll(async () => t?.close());

describe('ipms worker', () => {
  it('applies rules as they come and stops cleanly on SIGTERM', { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, ['bin/ipms.mjs', 'worker', '--poll-ms', '100'], {
      cwd: ROOT, env: { PATH: process.env.PATH, HOME: '/nonexistent', IPMS_DATABASE_URL: t.url }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const add = await ipms(t.url, 'rules', 'add', '198.51.100.23', '--reason', 'daemon test', '--json');
      expect(add.code, add.err).toBe(0);
      const id = String(add.json<{ id: number }>().id);
      const status = async () => (await ipms(t.url, 'rules', 'show', id, '--json')).json<{ status: string }>().status;
      const end = Date.now() + 30_000;
      while (Date.now() < end && (await status()) !== 'active') await new Promise((r) => setTimeout(r, 100));
      expect(await status()).toBe('active');
      expect(out).toMatch(/\[dry-run fw\] nft -f -\n(  \| .*\n)*  \| \t198\.51\.100\.23\n/);
      expect(err).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z worker \S+ polling every 100 ms$/m);
      expect(err).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z fw: 1 applied, 0 removed, 0 failed \(\d+ ms\)$/m);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 15_000))]);
    if (code === 'still running') child.kill('SIGKILL');
    expect(code).toBe(0);
    expect(err).toMatch(/stopping after the batch in flight\n$/);
    // it let go of the device on its way out
    const [d] = await t.db.rows<{ claimed_by: string | null }>("SELECT claimed_by FROM Device WHERE name = 'fw'");
    expect(d!.claimed_by).toBeNull();
  });
});
