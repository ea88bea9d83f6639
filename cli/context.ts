/**
 * What every command gets: the configuration (resolved once, on first need) and a database
 * pool opened on first use and closed when the command ends.
 */
import { resolveConfig, requireDb, type Config, type DbConfig } from '../lib/config.ts';
import { gated, openDb, type Db } from '../lib/db.ts';
import { assertMigrated } from '../lib/migrate.ts';
import { cliUser, recordAudit } from '../lib/queries/audit.ts';

export interface GlobalFlags {
  databaseUrl?: string;
  config?: string;
}

export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** colour and other terminal niceties only when a person is watching */
  isTty: boolean;
}

export class Context {
  /** the exit code a command asks for when it ends normally (errors carry their own) */
  exitCode = 0;
  private cfg?: Readonly<Config>;
  private pool?: Db;
  private checked?: Db;
  private readonly cleanups: (() => Promise<void> | void)[] = [];

  constructor(
    private readonly flags: () => GlobalFlags,
    readonly io: Output,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  config(): Readonly<Config> {
    if (!this.cfg) {
      this.cfg = resolveConfig({ flags: this.flags(), env: this.env });
      for (const w of this.cfg.warnings ?? []) this.io.err(`ipms: warning: ${w}`);
    }
    return this.cfg;
  }

  dbConfig(): DbConfig {
    return requireDb(this.config());
  }

  /** The database, once found fully migrated (see assertMigrated); `ipms db` commands take it `asIs`. */
  db(opts: { asIs?: boolean } = {}): Db {
    if (!this.pool) {
      this.pool = openDb(this.dbConfig());
      const pool = this.pool;
      this.onClose(() => pool.end());
      this.checked = gated(pool, (q) => assertMigrated(q, pool.config.database));
    }
    return opts.asIs ? this.pool : this.checked!;
  }

  /** Register a release to run when the command ends (in reverse order). */
  onClose(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  async close(): Promise<void> {
    while (this.cleanups.length) {
      const fn = this.cleanups.pop()!;
      try {
        await fn();
      } catch {
        // releasing is best effort; the command's own result is what counts
      }
    }
  }

  json(value: unknown): void {
    // JSON.stringify leaves DEL and the C1 controls raw, which the terminal escaping of every
    // printed line would turn into \x.. (not JSON): written as \u00.. here, they stay JSON
    this.io.out(JSON.stringify(value, null, 2).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  }

  /**
   * Record a change this command made in the audit log, as the console does for its own (the
   * command's outcome stands even if the record fails: it is said on stderr).
   */
  async audit(action: string, target: string, detail?: unknown): Promise<void> {
    try {
      await recordAudit(this.db(), { who: cliUser(), via: 'cli', action, target, ...(detail === undefined ? {} : { detail }) });
    } catch (err) {
      this.io.err(`ipms: warning: the change was made, but not recorded in the audit log: ${(err as Error).message}`);
    }
  }
}
