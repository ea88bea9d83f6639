/**
 * `ipms worker` as the process an init system runs: it applies rules as they come, logs to
 * stderr with timestamps, and on SIGTERM finishes and exits 0. The device uses the dry-run
 * transport, whose text goes to stdout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipms, ipmsProcess } from '../helpers/cli.ts';
import { freshDatabase, type TestDb } from '../helpers/db.ts';

let t: TestDb;

beforeAll(async () => {
  t = await freshDatabase('worker_daemon');
  expect((await ipms(t.url, 'devices', 'add', 'fw', '--adapter', 'nftables', '--transport', 'dry-run', '--host', 'fw.example.net')).code).toBe(0);
});
afterAll(async () => t?.close());

describe('ipms worker', () => {
  it('applies rules as they come and stops cleanly on SIGTERM', { timeout: 60_000 }, async () => {
    // (--poll takes milliseconds as well as 1s, 5m...)
    const p = ipmsProcess(t.url, 'worker', '--poll', '100ms');
    let code;
    try {
      const add = await ipms(t.url, 'rules', 'add', '198.51.100.23', '--reason', 'daemon test', '--json');
      expect(add.code, add.err).toBe(0);
      const id = String(add.json<{ id: number }>().id);
      const status = async () => (await ipms(t.url, 'rules', 'show', id, '--json')).json<{ status: string }>().status;
      const end = Date.now() + 30_000;
      while (Date.now() < end && (await status()) !== 'active') await new Promise((r) => setTimeout(r, 100));
      expect(await status()).toBe('active');
      expect(p.out()).toMatch(/\[dry-run fw\] nft -f -\n(  \| .*\n)*  \| \t198\.51\.100\.23\n/);
      expect(p.err()).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z worker \S+ polling every 100 ms$/m);
      expect(p.err()).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z fw: 1 applied, 0 removed, 0 failed \(\d+ ms\)$/m);
    } finally {
      code = await p.stop();
    }
    expect(code).toBe(0);
    expect(p.err()).toMatch(/stopping after the batch in flight\n$/);
    // it let go of the device on its way out
    const [d] = await t.db.rows<{ claimed_by: string | null }>("SELECT claimed_by FROM Device WHERE name = 'fw'");
    expect(d!.claimed_by).toBeNull();
  });
});
