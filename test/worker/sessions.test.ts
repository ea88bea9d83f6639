/**
 * The daemon's connection pool: kept between batches, made again when idle, when the device's
 * settings change, and after its maximum age even when busy (a new connection runs the setup
 * and the look for lost objects). A counting transport stands in for SSH here; real pooled SSH
 * sessions are in test/e2e.
 */
import { describe, expect, it } from 'vitest';
import type { DeviceRow } from '../../lib/types.ts';
import { SessionPool } from '../../worker/sessions.ts';
import type { Transport } from '../../worker/transports/types.ts';

function counting(): { transport: Transport; opened: () => number; closed: () => number } {
  let opened = 0;
  let closed = 0;
  return {
    transport: {
      name: 'counting',
      async open() {
        opened++;
        return { run: async () => [], close: async () => void closed++ };
      },
    },
    opened: () => opened,
    closed: () => closed,
  };
}

const device = { id: 7, transport: 'ssh', host: '192.0.2.1', port: 22, username: 'ipms', key_ref: '/k', host_key: 'SHA256:x', sudo: 0, adapter: 'nftables', options: null } as unknown as DeviceRow;

describe('SessionPool', () => {
  it('keeps a busy connection until its maximum age, then makes a new one (fresh: the setup runs again)', async () => {
    const c = counting();
    const pool = new SessionPool(() => c.transport, 60_000, 200);
    expect((await pool.get(device)).fresh).toBe(true);
    expect((await pool.get(device)).fresh).toBe(false);
    await new Promise((r) => setTimeout(r, 250));
    expect((await pool.get(device)).fresh).toBe(true);
    expect([c.opened(), c.closed()]).toEqual([2, 1]);
    // changed settings: a new connection at once
    expect((await pool.get({ ...device, port: 2222 } as DeviceRow)).fresh).toBe(true);
    await pool.closeAll();
    expect([c.opened(), c.closed()]).toEqual([3, 3]);
  });
});
