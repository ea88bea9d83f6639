/**
 * The poll loop: expire due rules, claim due rows device by device, apply each device's batch.
 * A tick never throws (errors are recorded on the rows and logged with their context); stop()
 * lets the tick in flight finish.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Db } from '../lib/db.ts';
import { oneLine } from '../lib/errors.ts';
import type { DeviceRow } from '../lib/types.ts';
import { applyDeviceBatch, type ApplyDeps, type BatchOutcome } from './apply.ts';
import { claimDue, expireDue, keepLease, releaseDevices, type Claimed } from './claim.ts';
import { SessionPool } from './sessions.ts';

export interface WorkerOptions {
  /** most rows claimed per tick */
  batchLimit?: number;
  /** how long a device lease and its row claims hold without renewal (a dead worker's work is taken over after this) */
  leaseS?: number;
  deviceId?: number;
  log?: (line: string) => void;
}

export interface TickResult {
  expired: number;
  outcomes: BatchOutcome[];
  /** errors of the tick itself (database), besides the ones recorded on rows */
  errors: string[];
}

export function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`.slice(0, 64);
}

export class Worker {
  readonly id = newWorkerId();
  private running = false;
  private stopping = false;
  private inFlight: Promise<TickResult> | undefined;
  private wake: (() => void) | undefined;
  private pool: SessionPool | undefined;

  constructor(
    private readonly db: Db,
    private readonly deps: Omit<ApplyDeps, 'workerId'>,
    private readonly opts: WorkerOptions = {},
  ) {}

  /** Everything due now, once. */
  async tick(): Promise<TickResult> {
    const res: TickResult = { expired: 0, outcomes: [], errors: [] };
    const log = this.opts.log ?? (() => undefined);
    const leaseS = this.opts.leaseS ?? 60;
    try {
      res.expired = await expireDue(this.db);
      if (res.expired) log(`expired ${res.expired} rule(s)`);
      const claimed = await claimDue(this.db, {
        workerId: this.id,
        limit: this.opts.batchLimit ?? 200_000,
        leaseS,
        ...(this.opts.deviceId !== undefined ? { deviceId: this.opts.deviceId } : {}),
      });
      if (!claimed.length) return res;
      const byDevice = new Map<number, Claimed[]>();
      for (const c of claimed) {
        const list = byDevice.get(c.device_id);
        if (list) list.push(c);
        else byDevice.set(c.device_id, [c]);
      }
      const ids = [...byDevice.keys()];
      const devices = await this.db.rows<DeviceRow>(`SELECT * FROM Device WHERE id IN (${ids.map(() => '?').join(',')})`, ids);
      // a device removed between the claim and here: its rows went with it (ON DELETE CASCADE)
      // devices are independent: apply them side by side
      res.outcomes = await Promise.all(
        devices.map(async (d) => {
          const t0 = Date.now();
          const stopLease = keepLease(this.db, d.id, this.id, leaseS, (err) => log(`${d.name}: could not renew the lease: ${oneLine(err)}`));
          let o: BatchOutcome;
          try {
            o = await applyDeviceBatch(this.db, d, byDevice.get(d.id)!, {
              ...this.deps, workerId: this.id, ...(this.pool ? { pool: this.pool } : {}),
            });
          } catch (err) {
            o = { device: d.name, applied: 0, removed: 0, failed: byDevice.get(d.id)!.length, errors: [`${d.name}: ${oneLine(err)}`] };
          } finally {
            stopLease();
            // if this fails, the lease lapses on its own at claimed_until
            await releaseDevices(this.db, [d.id], this.id).catch((err: unknown) => log(`${d.name}: could not release the device: ${oneLine(err)}`));
          }
          log(`${d.name}: ${o.applied} applied, ${o.removed} removed, ${o.failed} failed (${Date.now() - t0} ms)${o.errors.length ? `: ${o.errors.join('; ')}` : ''}`);
          return o;
        }),
      );
    } catch (err) {
      const msg = oneLine(err);
      res.errors.push(msg);
      log(`tick failed: ${msg}`);
    }
    return res;
  }

  /** Tick every pollMs until stop(); a tick that finds work is followed by another at once. */
  async run(pollMs: number): Promise<void> {
    this.running = true;
    // a daemon keeps one connection per device open between batches (reconnecting on failure)
    this.pool = new SessionPool(this.deps.transportFor);
    // ticks that fail whole (the database unreachable) in a row: the wait doubles up to 30 s
    // (at 200 ms a poll an outage was five log lines a second)
    let failing = 0;
    while (!this.stopping) {
      this.inFlight = this.tick();
      const r = await this.inFlight;
      this.inFlight = undefined;
      const busy = r.outcomes.some((o) => o.applied + o.removed > 0);
      failing = r.errors.length && !r.outcomes.length ? failing + 1 : 0;
      const wait = failing ? Math.min(Math.max(pollMs, 30_000), pollMs * 2 ** Math.min(failing, 16)) : pollMs;
      if (this.stopping) break;
      if (!busy) await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    await this.pool.closeAll();
    this.pool = undefined;
    this.running = false;
  }

  /** Finish the tick in flight, then return. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    if (this.inFlight) await this.inFlight;
  }

  get isRunning(): boolean {
    return this.running;
  }
}
