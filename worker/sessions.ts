/**
 * Connections kept open between batches in daemon mode: one per device, reopened when the
 * device's connection settings change or a batch fails, closed when idle or on stop, and made
 * again after maxAgeMs even when busy: a new connection runs the adapter's setup and its look
 * for lost objects, which keep ipms's hooks in place and the RouterOS marker from expiring.
 * Saves an SSH handshake (and the adapter's setup) on every batch.
 */
import type { DeviceRow } from '../lib/types.ts';
import type { Session, Transport } from './transports/types.ts';

interface Entry {
  key: string;
  session: Session;
  lastUsed: number;
  opened: number;
}

export class SessionPool {
  private readonly entries = new Map<number, Entry>();

  constructor(
    private readonly transportFor: (d: DeviceRow) => Transport,
    private readonly idleMs = 60_000,
    private readonly maxAgeMs = 6 * 3600_000,
  ) {}

  private static keyOf(d: DeviceRow): string {
    return JSON.stringify([d.transport, d.host, d.port, d.username, d.key_ref, d.host_key, d.sudo, d.adapter, d.options]);
  }

  /** An open session for the device; `fresh` when it was just opened (run the setup then). */
  async get(d: DeviceRow): Promise<{ session: Session; fresh: boolean }> {
    await this.closeIdle();
    const key = SessionPool.keyOf(d);
    const e = this.entries.get(d.id);
    if (e && e.key === key && Date.now() - e.opened < this.maxAgeMs) {
      e.lastUsed = Date.now();
      return { session: e.session, fresh: false };
    }
    if (e) await this.discard(d.id);
    const session = await this.transportFor(d).open();
    this.entries.set(d.id, { key, session, lastUsed: Date.now(), opened: Date.now() });
    return { session, fresh: true };
  }

  async discard(deviceId: number): Promise<void> {
    const e = this.entries.get(deviceId);
    this.entries.delete(deviceId);
    await e?.session.close().catch(() => undefined);
  }

  async closeIdle(): Promise<void> {
    const now = Date.now();
    for (const [id, e] of this.entries) if (now - e.lastUsed > this.idleMs) await this.discard(id);
  }

  async closeAll(): Promise<void> {
    for (const id of [...this.entries.keys()]) await this.discard(id);
  }
}
