/**
 * Where batches go: the database when it answers, else the local spool, and back to the
 * database (spool first, in order) when it answers again. While the spool holds anything,
 * new batches are appended behind it rather than sent, so the database receives everything in
 * the order it was read.
 *
 * "Unreachable" (refused, reset, lost, timed out, shutting down) means spool and retry;
 * anything else the database says (login or TLS refused, schema missing, a refused row) is
 * fatal and raised.
 */
import type { DbConfig } from '../lib/config.ts';
import { openDb, type Db } from '../lib/db.ts';
import { assertMigrated } from '../lib/migrate.ts';
import { IpmsError } from '../lib/errors.ts';
import type { Mark, Row } from './batch.ts';
import { dbCheckpoints, type LocalCheckpoints } from './checkpoint.ts';
import type { HoneydConfig } from './honeyd-config.ts';
import { approveHoneypots, recordHoneydConfig, recordHoneypotNets, registerSensor } from './register.ts';
import type { Cidr } from '../lib/ip.ts';
import type { Spool } from './spool.ts';
import { writeBatch } from './store.ts';
import type { Counts } from './summary.ts';

const UNREACHABLE = new Set([
  'E_DB_UNREACHABLE', 'E_DB_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE',
  'EAI_AGAIN', 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_SERVER_SHUTDOWN', 'ER_CON_COUNT_ERROR', 'ER_CONNECTION_KILLED',
]);
// 1053 shutdown in progress, 1040 too many connections, 1927 connection killed, 2006/2013 gone/lost
const UNREACHABLE_ERRNO = new Set([1040, 1053, 1927, 2006, 2013]);

export function isUnreachable(err: unknown): boolean {
  for (let e = err as { code?: string; errno?: number; message?: string; cause?: unknown } | undefined, i = 0; e && i < 4; e = e.cause as typeof e, i++) {
    if ((e.code && UNREACHABLE.has(e.code)) || (e.errno !== undefined && UNREACHABLE_ERRNO.has(e.errno))) return true;
    if (typeof e.message === 'string' && /closed state|connection (is )?closed|Pool is closed|socket hang up/i.test(e.message)) return true;
  }
  return false;
}

export interface SinkOptions {
  sensor: string;
  dbConfig: DbConfig;
  spool: Spool;
  local: LocalCheckpoints;
  counts: Counts;
  honeydConfig: HoneydConfig | null;
  /** --honeypot-net ranges, registered as the sensor's honeypots */
  honeypotNets?: readonly Cidr[];
  warn: (msg: string) => void;
  /** a write that takes longer is taken for a lost server (its rows are spooled; ids make a late commit harmless) */
  timeoutMs: number;
}

export type Outcome = 'db' | 'spool' | 'full';

export class Sink {
  sensorId: number | null = null;
  down = false;
  downSince = 0;
  private db: Db | null = null;
  private replayPos = 0;

  constructor(private readonly o: SinkOptions) {}

  private pool(): Db {
    this.db ??= openDb(this.o.dbConfig, { poolSize: 2 });
    return this.db;
  }

  private lost(err: unknown): void {
    if (!this.down) {
      this.down = true;
      this.downSince = Date.now();
      const why = err instanceof Error ? err.message : String(err);
      this.o.warn(`the database is unreachable (${why}); spooling to ${this.o.spool.path} and retrying`);
    }
    // a pool whose server went away may hold dead connections: start over with a new one
    const db = this.db;
    this.db = null;
    void db?.end();
  }

  private async timed<T>(p: Promise<T>): Promise<T> {
    // if the time limit wins, `p` may still fail later: that must not be an unhandled rejection
    p.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new IpmsError('E_DB_TIMEOUT', `no answer from the database within ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
    });
    try {
      return await Promise.race([p, limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Register the sensor (once) and learn the database's checkpoints. Null when unreachable. */
  async connect(): Promise<Mark[] | null> {
    try {
      const db = this.pool();
      if (this.sensorId === null) {
        // (hits written into a half-migrated database would make no rules)
        await this.timed(assertMigrated(db, this.o.dbConfig.database));
        const id = await this.timed(registerSensor(db, this.o.sensor));
        if (this.o.honeydConfig) await this.timed(recordHoneydConfig(db, id, this.o.honeydConfig));
        const nets = this.o.honeypotNets?.length ? await this.timed(recordHoneypotNets(db, id, this.o.honeypotNets, this.o.warn)) : [];
        const ranges = [...nets, ...(this.o.honeydConfig?.binds ?? []).map((b) => `${b.address}/${b.address.includes(':') ? 128 : 32}`)];
        if (ranges.length) {
          const waiting = await this.timed(approveHoneypots(db, id, ranges));
          if (waiting) {
            this.o.warn(`${waiting} honeypot address(es) of sensor ${this.o.sensor} wait for an admin's approval and may be blocked until then ` +
              `(this account may not approve them): ipms sensors show ${this.o.sensor}; ipms sensors approve ${this.o.sensor} CIDR`);
          }
        }
        this.sensorId = id;
      }
      return await this.timed(dbCheckpoints(db, this.sensorId));
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      this.lost(err);
      return null;
    }
  }

  private async toDb(logs: Row[], data: Row[], marks: Mark[]): Promise<{ inserted: number; already: number }> {
    const out = await this.timed(writeBatch(this.pool(), this.sensorId!, logs, data, marks));
    for (const m of marks) this.o.local.note(m);
    this.o.local.maybeSave();
    return out;
  }

  /** Send the spooled batches in order; true when the spool is empty afterwards. */
  async replay(): Promise<boolean> {
    const spool = this.o.spool;
    if (this.sensorId === null || this.down) {
      if ((await this.connect()) === null) return false;
      if (this.down) {
        this.down = false;
        this.o.warn(`the database is reachable again after ${((Date.now() - this.downSince) / 1000).toFixed(1)} s${spool.empty ? '' : '; replaying the spool'}`);
      }
    }
    if (spool.empty) return true;
    try {
      for await (const { rec, end } of spool.records(this.replayPos)) {
        const r = await this.toDb(rec.logs, rec.data, rec.marks);
        this.o.counts.replayed += r.inserted;
        this.o.counts.inserted += r.inserted;
        this.o.counts.alreadyPresent += r.already;
        this.replayPos = end;
      }
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      this.lost(err);
      return false;
    }
    this.o.local.save();
    await spool.clear();
    this.replayPos = 0;
    return true;
  }

  /** Write one batch: to the database, else to the spool; 'full' when neither can take it. */
  async write(logs: Row[], data: Row[], marks: Mark[]): Promise<Outcome> {
    if (!this.down && this.o.spool.empty && this.sensorId !== null) {
      try {
        const r = await this.toDb(logs, data, marks);
        this.o.counts.inserted += r.inserted;
        this.o.counts.alreadyPresent += r.already;
        return 'db';
      } catch (err) {
        // Not an outage (login, TLS, schema, a refused row): stop. The batch is not spooled, as
        // replaying it would fail the same way; its lines are still in their files, after the
        // last checkpoint, so the next run reads them again.
        if (!isUnreachable(err)) throw err;
        this.lost(err);
      }
    }
    if (!(await this.o.spool.append({ sensor: this.o.sensor, logs, data, marks }))) return 'full';
    this.o.counts.spooled += logs.length + data.length;
    return 'spool';
  }

  async close(): Promise<void> {
    this.o.local.save();
    const db = this.db;
    this.db = null;
    await db?.end();
  }
}
