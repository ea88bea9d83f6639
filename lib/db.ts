/**
 * The one module that imports mysql2. Everything else talks to the database through `Db`.
 * Sessions run in UTC (`time_zone = '+00:00'`), so DATETIME values mean UTC everywhere.
 */
import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import type { Pool, PoolConnection, PoolOptions, ResultSetHeader } from 'mysql2/promise';
import type { DbConfig } from './config.ts';
import { ConfigError, DatabaseError, InputError, IpmsError, RefusedError } from './errors.ts';

export type Params = readonly unknown[] | Record<string, unknown>;

export interface WriteResult {
  affectedRows: number;
  insertId: number;
}

/** What a query runner can do: a pool, a pinned connection or a transaction. */
export interface Queryable {
  /** Rows of a SELECT; parameters are always passed separately (`?` placeholders). */
  rows<T = Record<string, unknown>>(sql: string, params?: Params): Promise<T[]>;
  /** INSERT / UPDATE / DELETE / DDL. */
  exec(sql: string, params?: Params): Promise<WriteResult>;
}

export interface Db extends Queryable {
  readonly config: DbConfig;
  /** Run `fn` in one transaction on one connection; commit on success, roll back on error. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Run `fn` on one pinned connection (for session state such as GET_LOCK). */
  pinned<T>(fn: (conn: Queryable) => Promise<T>): Promise<T>;
  end(): Promise<void>;
}

export interface OpenOptions {
  poolSize?: number;
  /** several statements in one query: only the migrator, which sends our own files, sets it */
  multipleStatements?: boolean;
}

/** mysql2 options for a DbConfig, TLS included. Shared with knex by the migrator. */
export function connectionOptions(cfg: DbConfig): PoolOptions {
  const opts: PoolOptions = {
    host: cfg.host,
    port: cfg.port,
    user: cfg.user,
    password: cfg.password,
    database: cfg.database,
    timezone: 'Z',
    dateStrings: false,
    supportBigNumbers: true,
    bigNumberStrings: false,
    decimalNumbers: true,
    connectTimeout: 10_000,
    // the tables' collation, so that strings from this session compare with columns without a mix
    charset: 'UTF8MB4_UNICODE_CI',
  };
  if (cfg.tls) {
    const read = (what: string, path: string | undefined) => {
      if (path === undefined) return undefined;
      try {
        return readFileSync(path);
      } catch (err) {
        throw new ConfigError(`cannot read TLS ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
      }
    };
    const ssl: NonNullable<PoolOptions['ssl']> & Record<string, unknown> = { rejectUnauthorized: true };
    const ca = read('CA', cfg.tls.ca);
    const cert = read('certificate', cfg.tls.cert);
    const key = read('key', cfg.tls.key);
    if (ca) ssl.ca = ca;
    if (cert) ssl.cert = cert;
    if (key) ssl.key = key;
    // verify-ca: the chain must verify, the name need not match (e.g. a server reached by IP).
    if (cfg.tls.mode === 'verify-ca') ssl.checkServerIdentity = () => undefined;
    opts.ssl = ssl;
  }
  return opts;
}

/** What each CHECK constraint of the schema means, for its error. */
const CHECK_TEXT: Record<string, string> = {
  ck_threshold_port: 'a threshold with dst_port counts tcp, udp, sctp, udplite or dccp (or any protocol): set proto to one of them, or dst_port=any',
  ck_threshold_window_max: 'a threshold window is at most 31 days',
  ck_threshold_window: 'a threshold window is at least 1 second',
  ck_threshold_hits: 'max_hits is at least 1',
  ck_threshold_proto: 'a threshold counts one of tcp, udp, icmp, icmpv6, sctp, gre, esp, ah, igmp, udplite, dccp (in small letters), or any protocol (NULL)',
  ck_threshold_duration: 'a rule duration is at least 1 second, or NULL: until dropped',
};

/** A view or program whose definer this server does not have (errors 1449, or 1045 on a statement). */
function definerGone(message: string, err: unknown): DatabaseError {
  return new DatabaseError(`${message}: ipms's triggers, procedures or views may have been made by an account this server does ` +
    'not have (restored from another server, or the migrating account was dropped; `ipms db status` as the migrating account ' +
    'tells); `ipms db migrate` as the migrating account makes them again under that account', 'E_DB_DEFINER', { cause: err });
}

/** Turn a driver error into an IpmsError with a one-line explanation. */
export function explainDbError(err: unknown, cfg: DbConfig): Error {
  if (err instanceof IpmsError) return err;
  const e = err as { code?: string; errno?: number; sqlMessage?: string; message?: string; sql?: string };
  // "access denied" on a statement, not the login: a view or program whose definer this server
  // does not have, as an account that may not name any definer sees it (others get 1449)
  if (e.code === 'ER_ACCESS_DENIED_ERROR' && e.sql !== undefined) return definerGone(e.sqlMessage ?? e.message ?? '', err);
  const where = `${cfg.host}:${cfg.port}`;
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
    case 'ECONNRESET':
    case 'PROTOCOL_CONNECTION_LOST':
      return new DatabaseError(`cannot reach the database at ${where} (${e.code})`, 'E_DB_UNREACHABLE', { cause: err });
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_DBACCESS_DENIED_ERROR':
      return new DatabaseError(`the database at ${where} refused the login of '${cfg.user}': ${e.sqlMessage ?? e.message}`, 'E_DB_LOGIN', { cause: err });
    case 'ER_BAD_DB_ERROR':
      return new DatabaseError(`database '${cfg.database}' does not exist on ${where}`, 'E_DB_MISSING', { cause: err });
    case 'ER_NO_SUCH_TABLE':
      return new DatabaseError(`database '${cfg.database}' is not migrated (${e.sqlMessage ?? e.message}): run \`ipms db migrate\``, 'E_DB_SCHEMA', { cause: err });
    case 'ER_DATA_TOO_LONG': {
      // strict mode refuses rather than truncates: say which value, as for any bad input
      const col = /column '([^']+)'/.exec(e.sqlMessage ?? '')?.[1];
      return new InputError(`${col ? `the ${col}` : 'a value'} is too long for the database column`, 'E_TOO_LONG');
    }
    case 'ER_TABLEACCESS_DENIED_ERROR':
    case 'ER_COLUMNACCESS_DENIED_ERROR':
    case 'ER_PROCACCESS_DENIED_ERROR':
    case 'ER_SPECIFIC_ACCESS_DENIED_ERROR':
      // an account used for what another one is for (a worker's account for `ipms check`)
      return new DatabaseError(`the database refused this to account '${cfg.user}': ${e.sqlMessage ?? e.message} ` +
        '(each component has its own account: see `ipms db grants`)', 'E_DB_PRIVILEGE', { cause: err });
    case 'HANDSHAKE_NO_SSL_SUPPORT':
      return new DatabaseError(`the database at ${where} does not offer TLS, which this configuration requires`, 'E_DB_TLS', { cause: err });
    default:
      break;
  }
  // a deadlock victim or a lock wait that timed out (what withRetry runs again: see isRetryable,
  // which reads the cause); said as such where no retry was made or all were used up
  if (e.errno === 1213 || e.errno === 1205) {
    return new DatabaseError(`the database gave this up for a concurrent change (${e.errno === 1213
      ? 'a deadlock: its transaction was rolled back' : 'a lock wait timeout: that statement was not done'}): run it again`, 'E_DB_BUSY', { cause: err });
  }
  // ER_NO_SUCH_USER: a trigger, procedure or view made by an account the server does not have
  if (e.errno === 1449) return definerGone(e.sqlMessage ?? e.message ?? '', err);
  // ER_SP_DOES_NOT_EXIST: a procedure ipms's triggers call is missing (a dump restored without
  // --routines): the database is not fully migrated
  if (e.errno === 1305 && /PROCEDURE \S*ipms_\w+ does not exist/.test(e.sqlMessage ?? '')) {
    return new DatabaseError(`database '${cfg.database}' is not fully migrated (${e.sqlMessage}: restored without --routines?): ` +
      'run `ipms db migrate`', 'E_DB_SCHEMA', { cause: err });
  }
  // a CHECK constraint (MySQL 3819, MariaDB 4025): the constraint's name says which rule
  // (4025 is another error on MySQL: the message tells MariaDB's apart)
  if (e.errno === 3819 || (e.errno === 4025 && /^CONSTRAINT /.test(e.sqlMessage ?? ''))) {
    const name = /[Cc]heck constraint '([^']+)'|CONSTRAINT [`']?(\w+)[`']? failed/.exec(e.sqlMessage ?? '');
    const which = name?.[1] ?? name?.[2] ?? '';
    const text = CHECK_TEXT[which] ?? `a value breaks the table's rule ${which || '(check constraint)'}`;
    return new InputError(text, 'E_CHECK');
  }
  // SIGNAL SQLSTATE '45000' from our triggers: their message says what was refused and why
  if (e.errno === 1644 && e.sqlMessage?.startsWith('ipms: ')) {
    const text = e.sqlMessage.slice('ipms: '.length);
    if (!/^refused/.test(text)) return new InputError(text, 'E_SQL_INPUT');
    const code = /wider than/.test(text) ? 'E_TOO_WIDE' : /refused to change the traffic/.test(text) ? 'E_TRAFFIC_FIXED'
      : /refused to delete rule/.test(text) ? 'E_ON_DEVICE' : 'E_PROTECTED';
    return new RefusedError(text, code);
  }
  const msg = e.message ?? String(err);
  if (/certificate|self.signed|SSL|TLS|altnames/i.test(msg) && !e.sqlMessage) {
    return new DatabaseError(`TLS to the database at ${where} refused: ${msg}`, 'E_DB_TLS', { cause: err });
  }
  return err instanceof Error ? err : new Error(msg);
}

function runner(conn: Pool | PoolConnection, cfg: DbConfig): Queryable {
  return {
    async rows<T>(sql: string, params?: Params): Promise<T[]> {
      try {
        const [rows] = await conn.query(sql, params as never);
        return rows as T[];
      } catch (err) {
        throw explainDbError(err, cfg);
      }
    },
    async exec(sql: string, params?: Params): Promise<WriteResult> {
      try {
        const [res] = await conn.query<ResultSetHeader>(sql, params as never);
        return { affectedRows: res.affectedRows, insertId: Number(res.insertId) };
      } catch (err) {
        throw explainDbError(err, cfg);
      }
    },
  };
}

/**
 * `db`, whose first use waits for `check`: a pool that is only used once the database has been
 * found fit for it. A check that passed is not run again; one that failed (the server was
 * unreachable for a moment) is run again on the next use.
 */
export function gated(db: Db, check: (q: Queryable) => Promise<void>): Db {
  let done: Promise<void> | undefined;
  const ready = () => (done ??= check(db).catch((err: unknown) => {
    done = undefined;
    throw err;
  }));
  return {
    config: db.config,
    rows: async (sql, params) => (await ready(), db.rows(sql, params)),
    exec: async (sql, params) => (await ready(), db.exec(sql, params)),
    transaction: async (fn) => (await ready(), db.transaction(fn)),
    pinned: async (fn) => (await ready(), db.pinned(fn)),
    end: () => db.end(),
  };
}

/** Open a pool. No connection is made until the first query. */
export function openDb(cfg: DbConfig, options: OpenOptions = {}): Db {
  const pool = mysql.createPool({
    ...connectionOptions(cfg),
    connectionLimit: options.poolSize ?? 4,
    multipleStatements: options.multipleStatements ?? false,
    waitForConnections: true,
    enableKeepAlive: true,
  });
  // Every session in UTC: DATETIME columns hold UTC, and NOW()/UNIX_TIMESTAMP() agree with them.
  pool.pool.on('connection', (conn) => {
    conn.query("SET time_zone = '+00:00'");
  });
  const base = runner(pool, cfg);
  return {
    config: cfg,
    ...base,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      let conn: PoolConnection;
      try {
        conn = await pool.getConnection();
      } catch (err) {
        throw explainDbError(err, cfg);
      }
      try {
        await conn.beginTransaction();
        const out = await fn(runner(conn, cfg));
        await conn.commit();
        return out;
      } catch (err) {
        await conn.rollback().catch(() => undefined);
        throw explainDbError(err, cfg);
      } finally {
        conn.release();
      }
    },
    async pinned<T>(fn: (conn: Queryable) => Promise<T>): Promise<T> {
      let conn: PoolConnection;
      try {
        conn = await pool.getConnection();
      } catch (err) {
        throw explainDbError(err, cfg);
      }
      try {
        return await fn(runner(conn, cfg));
      } finally {
        conn.release();
      }
    },
    async end() {
      await pool.end().catch(() => undefined);
    },
  };
}

/** InnoDB's "try again" errors: deadlock victim, lock wait timeout. The statement was rolled back whole. */
export function isRetryable(err: unknown): boolean {
  const e = (err instanceof Error && 'cause' in err && err.cause ? err.cause : err) as { errno?: number; code?: string };
  return e.errno === 1213 || e.errno === 1205 || e.code === 'ER_LOCK_DEADLOCK' || e.code === 'ER_LOCK_WAIT_TIMEOUT';
}

/**
 * The server's error number of a failed statement, also once explainDbError has put it in
 * words (a DatabaseError keeps the driver's error as its cause).
 */
export function dbErrno(err: unknown): number | undefined {
  const e = err as { errno?: unknown; cause?: { errno?: unknown } } | null | undefined;
  const n = typeof e?.errno === 'number' ? e.errno : e?.cause?.errno;
  return typeof n === 'number' ? n : undefined;
}

export interface RetryStats {
  retries: number;
}

/**
 * Run `fn` again when InnoDB picked it as a deadlock victim. Writers that insert hits of the
 * same sources at once can deadlock on counter and rule rows (a multi-row INSERT holds its
 * row locks until it commits); the victim's statement was rolled back whole, so running it
 * again gives the same outcome as if it had waited.
 */
export async function withRetry<T>(fn: () => Promise<T>, opts: { attempts?: number; stats?: RetryStats } = {}): Promise<T> {
  const attempts = opts.attempts ?? 8;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !isRetryable(err)) throw err;
      if (opts.stats) opts.stats.retries++;
      await new Promise((r) => setTimeout(r, Math.min(200, 2 ** i) * (0.5 + Math.random())));
    }
  }
}
