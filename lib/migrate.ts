/**
 * `ipms db migrate`: versioned schema files through knex's migrator, then stored routines and
 * triggers, all under one GET_LOCK so that concurrent migrators run one after the other.
 *
 * Triggers and routines are re-created only when their file's text changed (tracked by SHA-256
 * in ipms_object) or when they are missing: a dropped trigger evaluates nothing, so the window
 * between DROP and CREATE is kept closed with LOCK TABLES where the server allows it.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import type { DbConfig } from './config.ts';
import { connectionOptions, dbErrno, explainDbError, openDb, type Queryable } from './db.ts';
import { DatabaseError, IpmsError } from './errors.ts';
import { quoteIdent } from './grants.ts';
import { ipv6Held, ipv6StaysText } from './queries/devices.ts';
import { splitStatements, stripComments } from './sql-split.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SCHEMA_DIR = join(ROOT, 'schema');
export const TRIGGERS_DIR = join(ROOT, 'triggers');
const LOCK_NAME = 'ipms_migrate';
const LOCK_WAIT_S = 120;
const MIGRATIONS_TABLE = 'ipms_migrations';
/** The collation of every table, given to the database itself and so to routine parameters. */
const DB_COLLATION = 'utf8mb4_unicode_ci';
/** One row once the last `ipms db migrate` finished (every schema version and program in place). */
const DONE_TABLE = 'ipms_migrated';
/** How many statements of a schema file are done, for a file begun and not yet recorded. */
const PROGRESS_TABLE = 'ipms_migration_progress';
/**
 * Whether a statement's error says its work is there already: a table, column, key, row or
 * constraint that exists, one to drop or rename that does not (MySQL and MariaDB numbers). A
 * migration stopped half way (killed, its connection lost) may have stopped during a statement
 * that the server went on to finish: run again, that one statement answers so, and is done.
 * By kind of statement: an error a statement of that kind could also give for failing (an
 * ALTER that adds a unique key over duplicates: 1062) does not count.
 */
export function alreadyDone(stmt: string, errno: number | undefined): boolean {
  const s = stripComments(stmt).trim().toUpperCase();
  const by: [RegExp, number[]][] = [
    [/^CREATE\s+TABLE\b/, [1050]],
    [/^INSERT\b/, [1062]],
    [/^RENAME\s+TABLE\b/, [1146, 1050]],
    [/^DROP\s+(TABLE|VIEW)\b/, [1051]],
    [/^DROP\s+PROCEDURE\b/, [1305]],
    [/^DROP\s+TRIGGER\b/, [1360]],
    [/^CREATE\s+(DEFINER\s*=\s*\S+\s+)?PROCEDURE\b/, [1304]],
    [/^CREATE\s+(DEFINER\s*=\s*\S+\s+)?TRIGGER\b/, [1359]],
    // duplicate column, key, CHECK constraint (MariaDB 1826, MySQL 3822), foreign key (1826);
    // a column or key to drop or rename that is gone (1091, 1054; MySQL's constraint: 3940)
    [/^ALTER\s+TABLE\b/, [1060, 1061, 1826, 3822, 1091, 3940, 1054]],
  ];
  return errno !== undefined && by.some(([re, nos]) => re.test(s) && nos.includes(errno));
}

export interface SqlFile {
  name: string;
  text: string;
}

export interface ProgramFile extends SqlFile {
  kind: 'TRIGGER' | 'PROCEDURE';
  /** the table a trigger is on */
  table?: string;
  sha256: string;
}

export interface MigrateReport {
  applied: string[];
  created: string[];
  unchanged: string[];
  dropped: string[];
  /** views made again under the migrating account (their definer does not exist on the server) */
  views: string[];
  /**
   * What the schema files applied now changed that an administrator should know of, one line
   * each: open rules they closed (a block that is off the devices now), entries left on a
   * device that ipms no longer touches.
   */
  notes: string[];
}

/**
 * Schema files an earlier development version had and a later one took back (their content
 * went into another file, which the same databases also ran, or a repair: 0016). A database
 * that applied one keeps its name in ipms_migrations, and knex refuses to run with a recorded
 * migration it cannot find ("the migration directory is corrupt"): they are listed to it as
 * done, with nothing to run.
 */
const RETIRED_SCHEMA_FILES: readonly string[] = ['0014_mysql_strict'];

export function schemaFiles(dir = SCHEMA_DIR): SqlFile[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ name: f.replace(/\.sql$/, ''), text: readFileSync(join(dir, f), 'utf8') }));
}

export function programFiles(dir = TRIGGERS_DIR): ProgramFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => {
      const text = stripComments(readFileSync(join(dir, f), 'utf8'));
      const name = basename(f, '.sql');
      const m = /^CREATE\s+(TRIGGER|PROCEDURE)\s+`?(\w+)`?/i.exec(text);
      if (!m || m[2] !== name) {
        throw new IpmsError('E_PROGRAM_FILE', `triggers/${f}: must hold one CREATE TRIGGER or CREATE PROCEDURE named ${name}`);
      }
      const kind = m[1]!.toUpperCase() as ProgramFile['kind'];
      const on = /\bON\s+`?(\w+)`?\s+FOR\s+EACH\s+ROW/i.exec(text);
      return {
        name,
        text,
        kind,
        ...(kind === 'TRIGGER' && on ? { table: on[1]! } : {}),
        sha256: createHash('sha256').update(text).digest('hex'),
      };
    });
}

/** knex is loaded by the commands that migrate only: every other command starts ~0.14 s sooner. */
async function knexFor(cfg: DbConfig): Promise<Knex> {
  const { default: knexFactory } = await import('knex');
  return knexFactory({
    client: 'mysql2',
    // knex also uses `charset` as the default of tables it creates, where a collation name is invalid
    connection: { ...connectionOptions(cfg), charset: 'utf8mb4', multipleStatements: false } as Knex.MySql2ConnectionConfig,
    pool: {
      min: 0,
      max: 1,
      // Views and routines keep the collation of the session that created them: make it the
      // tables' collation, so view columns compare cleanly with columns and literals.
      afterCreate: (conn: { query: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, conn: unknown) => void) => {
        conn.query('SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci', (err) => done(err, conn));
      },
    },
  });
}

function migrationSource(files: SqlFile[]): Knex.MigrationSource<SqlFile> {
  return {
    getMigrations: async () => files,
    getMigrationName: (f) => f.name,
    getMigration: async (f) => ({
      // DDL commits by itself, so a file's statements cannot be one transaction: its progress is
      // kept statement by statement, and a migration stopped half way goes on where it stopped
      // (instead of running again statements that are done, which fail: "Duplicate column").
      up: async (knex: Knex) => {
        const stmts = splitStatements(f.text);
        const [rows] = (await knex.raw(`SELECT done, failed FROM ${PROGRESS_TABLE} WHERE name = ?`, [f.name])) as unknown as [{ done: number; failed: number }[]];
        const begun = rows.length > 0;
        const from = begun ? rows[0]!.done : 0;
        if (!begun) await knex.raw(`INSERT INTO ${PROGRESS_TABLE} (name, done, failed, started_at) VALUES (?, 0, 0, UTC_TIMESTAMP(3))`, [f.name]);
        for (let i = from; i < stmts.length; i++) {
          try {
            await knex.raw(stmts[i]!);
          } catch (err) {
            // the statement an earlier run stopped during (not one it saw fail), which the
            // server finished after all
            const resumed = begun && i === from && !rows[0]!.failed && alreadyDone(stmts[i]!, dbErrno(err));
            if (!resumed) {
              // the server's own answer: the statement did not happen (a connection lost on the
              // way says nothing of it: the server may finish it)
              const answered = !(err as { fatal?: boolean }).fatal && dbErrno(err) !== undefined;
              if (answered) await knex.raw(`UPDATE ${PROGRESS_TABLE} SET failed = 1 WHERE name = ?`, [f.name]).catch(() => undefined);
              throw new IpmsError('E_MIGRATION', `schema/${f.name}.sql failed: ${(err as Error).message}`);
            }
          }
          await knex.raw(`UPDATE ${PROGRESS_TABLE} SET done = ?, failed = 0 WHERE name = ?`, [i + 1, f.name]);
        }
      },
      down: async () => {
        throw new IpmsError('E_MIGRATION', 'schema migrations are append-only; there is no down migration');
      },
    }),
  };
}

async function openRuleIds(q: Queryable): Promise<Set<number>> {
  return new Set((await q.rows<{ id: number }>("SELECT id FROM Rule WHERE status IN ('pending', 'active', 'disabled')")).map((r) => r.id));
}

/**
 * The rules open before that are closed now, by what closed them (the reason a schema file gave:
 * `[dropped: ...]`): each one named with its source, or, for more than NAMED of one kind, their
 * number and the first ones.
 */
async function closedSince(q: Queryable, before: ReadonlySet<number>): Promise<string[]> {
  const NAMED = 10;
  const now = await openRuleIds(q);
  const gone = [...before].filter((id) => !now.has(id));
  const groups = new Map<string, { id: number; src: string }[]>();
  for (let i = 0; i < gone.length; i += 1000) {
    const ids = gone.slice(i, i + 1000);
    const rows = await q.rows<{ id: number; src: string; status: string; reason: string | null }>(
      `SELECT id, CONCAT(INET6_NTOA(src_ip), '/', src_prefix) AS src, status, reason FROM Rule WHERE id IN (${ids.map(() => '?').join(',')}) ORDER BY id`, ids);
    for (const r of rows) {
      const why = /\[dropped: ([^\]]+)\]\s*$/.exec(r.reason ?? '')?.[1];
      const key = `${r.status} now${why ? `: ${why}` : ''}`;
      const g = groups.get(key);
      if (g) g.push(r);
      else groups.set(key, [r]);
    }
  }
  const out: string[] = [];
  for (const [key, rules] of groups) {
    if (rules.length <= NAMED) {
      for (const r of rules) out.push(`rule ${r.id} (${r.src}) is ${key}; it comes off the devices`);
    } else {
      out.push(`${rules.length} rules are ${key}; they come off the devices (the first: ${rules.slice(0, NAMED).map((r) => `${r.id} ${r.src}`).join(', ')}, ...)`);
    }
  }
  return out;
}

async function withLock<T>(q: Queryable, fn: () => Promise<T>): Promise<T> {
  const [got] = await q.rows<{ ok: number | null }>('SELECT GET_LOCK(?, ?) AS ok', [LOCK_NAME, LOCK_WAIT_S]);
  if (!got || got.ok !== 1) {
    throw new DatabaseError(`another migration held the lock '${LOCK_NAME}' for ${LOCK_WAIT_S} s`, 'E_MIGRATE_LOCK');
  }
  try {
    return await fn();
  } finally {
    await q.rows('SELECT RELEASE_LOCK(?)', [LOCK_NAME]).catch(() => undefined);
  }
}

interface Installed {
  name: string;
  kind: string;
  sha256: string;
}

/** `readOnly` (db status): a database never migrated has no ipms_object yet, and says so. */
async function installedPrograms(
  q: Queryable, readOnly = false, orphaned: ReadonlySet<string> = new Set(),
): Promise<Map<string, Installed & { present: boolean }>> {
  let recorded: Installed[] = [];
  if (!readOnly) {
    await q.exec(`CREATE TABLE IF NOT EXISTS ipms_object (
        name VARCHAR(64) NOT NULL PRIMARY KEY,
        kind VARCHAR(16) NOT NULL,
        sha256 CHAR(64) NOT NULL,
        installed_at DATETIME(3) NOT NULL
      ) ENGINE=InnoDB`);
  }
  const [has] = await q.rows<{ n: number }>(
    "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'ipms_object'");
  if (Number(has?.n)) recorded = await q.rows<Installed>('SELECT name, kind, sha256 FROM ipms_object');
  // (a program made under another database collation counts as missing: see migrate; so does
  // one whose definer this server does not have: see definers)
  const triggers = await q.rows<{ name: string; co: string; definer: string }>(
    'SELECT TRIGGER_NAME AS name, DATABASE_COLLATION AS co, DEFINER AS definer FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()',
  );
  const routines = await q.rows<{ name: string; co: string; definer: string }>(
    "SELECT ROUTINE_NAME AS name, DATABASE_COLLATION AS co, DEFINER AS definer FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'PROCEDURE'",
  );
  const fine = (r: { co: string; definer: string }) => r.co === DB_COLLATION && !orphaned.has(r.definer);
  const present = new Set([...triggers, ...routines].filter(fine).map((r) => r.name));
  const stale = [...triggers, ...routines].filter((r) => !fine(r)).map((r) => r.name);
  const out = new Map<string, Installed & { present: boolean }>();
  for (const r of recorded) out.set(r.name, { ...r, present: present.has(r.name) });
  for (const name of present) if (!out.has(name)) out.set(name, { name, kind: '?', sha256: '', present: true });
  for (const name of stale) if (!out.has(name)) out.set(name, { name, kind: '?', sha256: '', present: false });
  return out;
}

/**
 * Triggers, procedures and views run with the rights of their definer, the account that made
 * them. When that account is gone (a restore onto another server, a migrating account dropped)
 * every one of them fails, and with the triggers every insert into their tables: the migration
 * makes them again under its own account. Whether an account exists cannot be asked without
 * rights on the mysql schema; a view of it can be opened, which fails then: error 1449 for an
 * account that may name any definer, 1045 "access denied" for the others. Definers are compared
 * as information_schema writes them (user@host). Only missing ones count: a program made by
 * another account that exists is left alone (re-making it would open a moment without it, on
 * every run of migrators that take turns).
 */
async function definers(q: Queryable): Promise<{ account: string; objects: number; exists: boolean | null }[]> {
  const objs = await q.rows<{ definer: string | null; kind: string; name: string }>(
    `SELECT DEFINER AS definer, 'view' AS kind, TABLE_NAME AS name FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()
     UNION ALL SELECT DEFINER, 'trigger', TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()
     UNION ALL SELECT DEFINER, 'routine', ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()`,
  );
  const out = new Map<string, { account: string; objects: number; exists: boolean | null; view?: string }>();
  for (const o of objs) {
    // (NULL: this account may not see that trigger's definer)
    if (o.definer == null) continue;
    const d = out.get(o.definer) ?? { account: o.definer, objects: 0, exists: null };
    d.objects++;
    if (o.kind === 'view' && !d.view) d.view = o.name;
    out.set(o.definer, d);
  }
  for (const d of out.values()) {
    if (!d.view) continue;
    try {
      await q.rows(`SELECT 1 FROM ${quoteIdent(d.view)} LIMIT 0`);
      d.exists = true;
    } catch (err) {
      const e = err as { errno?: number; cause?: { errno?: number } };
      const errno = e.errno ?? e.cause?.errno;
      if (errno === 1449 || errno === 1045) d.exists = false;
    }
  }
  return [...out.values()].map(({ account, objects, exists }) => ({ account, objects, exists }));
}

/**
 * Views of a definer this server does not have are made again under the migrating account, as
 * they are (CREATE OR REPLACE with information_schema's text of the query; not ALTER VIEW,
 * which MySQL allows only to the view's definer or an account that may name any definer).
 */
async function redefineViews(q: Queryable, orphaned: ReadonlySet<string>): Promise<string[]> {
  if (!orphaned.size) return [];
  const views = await q.rows<{ name: string; definer: string; sql: string; security: string }>(
    `SELECT TABLE_NAME AS name, DEFINER AS definer, VIEW_DEFINITION AS \`sql\`, SECURITY_TYPE AS security
     FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()`,
  );
  const done: string[] = [];
  for (const v of views) {
    if (!orphaned.has(v.definer)) continue;
    await q.exec(`CREATE OR REPLACE DEFINER = CURRENT_USER SQL SECURITY ${v.security === 'INVOKER' ? 'INVOKER' : 'DEFINER'} VIEW ${quoteIdent(v.name)} AS ${v.sql}`);
    done.push(v.name);
  }
  return done;
}

/** The schema versions the database has applied (none before its first migration). */
async function recordedMigrations(q: Queryable): Promise<string[]> {
  const [has] = await q.rows<{ n: number }>(
    'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [MIGRATIONS_TABLE]);
  if (!Number(has?.n)) return [];
  return (await q.rows<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`)).map((r) => r.name);
}

async function replaceProgram(q: Queryable, p: ProgramFile): Promise<void> {
  const drop = p.kind === 'TRIGGER' ? `DROP TRIGGER IF EXISTS \`${p.name}\`` : `DROP PROCEDURE IF EXISTS \`${p.name}\``;
  if (p.kind === 'TRIGGER' && p.table) {
    // With the table write-locked, no row can be inserted between DROP and CREATE.
    let locked = false;
    try {
      await q.exec(`LOCK TABLES \`${p.table}\` WRITE`);
      locked = true;
    } catch {
      locked = false; // no LOCK TABLES privilege: fall back to a short unguarded window
    }
    try {
      await q.exec(drop);
      await q.exec(p.text);
    } finally {
      if (locked) await q.exec('UNLOCK TABLES');
    }
  } else {
    await q.exec(drop);
    await q.exec(p.text);
  }
  await q.exec(
    `INSERT INTO ipms_object (name, kind, sha256, installed_at) VALUES (?, ?, ?, UTC_TIMESTAMP(3))
     ON DUPLICATE KEY UPDATE kind = ?, sha256 = ?, installed_at = UTC_TIMESTAMP(3)`,
    [p.name, p.kind, p.sha256, p.kind, p.sha256],
  );
}

function explainProgramError(err: unknown, p: ProgramFile): Error {
  const e = err as { code?: string; errno?: number; message?: string };
  if (e.errno === 1419 || e.code === 'ER_BINLOG_CREATE_ROUTINE_NEED_SUPER') {
    return new DatabaseError(
      `cannot create ${p.kind.toLowerCase()} ${p.name}: binary logging is on and the migrating user lacks SUPER; ` +
        'set log_bin_trust_function_creators=1 on the server (safe with binlog_format=ROW, the MySQL 8 default) or migrate as a user with SUPER',
      'E_MIGRATE_BINLOG',
    );
  }
  if (err instanceof IpmsError) return err;
  return new IpmsError('E_MIGRATION', `triggers/${p.name}.sql failed: ${e.message ?? String(err)}`);
}

/** Apply pending schema files, then install changed or missing routines and triggers. */
export async function migrate(cfg: DbConfig, opts: { schemaDir?: string; triggersDir?: string } = {}): Promise<MigrateReport> {
  const files = schemaFiles(opts.schemaDir);
  const programs = programFiles(opts.triggersDir);
  const db = openDb(cfg, { poolSize: 1 });
  const report: MigrateReport = { applied: [], created: [], unchanged: [], dropped: [], views: [], notes: [] };
  try {
    await db.pinned((q) =>
      withLock(q, async () => {
        // no "finished" mark while this runs: a migration that stops half way (a trigger the
        // server refuses) leaves none, and the components refuse to work (see assertMigrated)
        await q.exec(`CREATE TABLE IF NOT EXISTS ${DONE_TABLE} (
            id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
            finished_at DATETIME(3) NOT NULL
          ) ENGINE=InnoDB`);
        // schema versions this ipms does not know: a newer version migrated the database (an
        // older ipms run against it). Refused before anything changes, the finished mark too,
        // so that the version that migrated it keeps working.
        const recorded = await recordedMigrations(q);
        const known = new Set([...files.map((f) => f.name), ...RETIRED_SCHEMA_FILES]);
        const unknown = recorded.filter((n) => !known.has(n));
        if (unknown.length) {
          throw new DatabaseError(
            `database '${cfg.database}' has schema versions this ipms does not know (${unknown.join(', ')}): a newer version of ipms ` +
              'migrated it; use that version (nothing was changed)', 'E_MIGRATE_NEWER');
        }
        // Programs of a definer this server does not have are made again below, after the
        // schema files; but a pending schema file that writes rows would fire them first, and
        // fail. (Their old text cannot be read back to make them again as they are: a
        // procedure's is shown to its definer only.)
        const orphaned = new Set((await definers(q)).filter((d) => d.exists === false).map((d) => d.account));
        const pending = files.filter((f) => !recorded.includes(f.name)).map((f) => f.name);
        if (orphaned.size && pending.length && recorded.length) {
          throw new DatabaseError(
            `the triggers, procedures and views of database '${cfg.database}' run as ${[...orphaned].join(', ')}, which this server does not ` +
              `have, and schema versions are pending (${pending.join(', ')}) that would fire them: create that account again with the ` +
              'grants of ipms_migrator (`ipms db grants`) and run `ipms db migrate`; then drop it and run `ipms db migrate` once more, ' +
              'which makes them again under your account (nothing was changed)', 'E_DB_DEFINER');
        }
        await q.exec(`DELETE FROM ${DONE_TABLE}`);
        // Character parameters and variables of routines take the database's collation when
        // they are created: against the tables' utf8mb4_unicode_ci, MySQL 8's default
        // (utf8mb4_0900_ai_ci) makes their CONCATs fail ("Illegal mix of collations"), where
        // MariaDB falls back to binary. ipms's database gets its tables' collation, and its
        // routines are created again under it.
        // (a program made before, under another collation, counts as missing: installedPrograms)
        const [dbc] = await q.rows<{ co: string }>('SELECT @@collation_database AS co');
        if (dbc?.co !== DB_COLLATION) {
          await q.exec(`ALTER DATABASE \`${cfg.database.replace(/`/g, '``')}\` CHARACTER SET utf8mb4 COLLATE ${DB_COLLATION}`);
        }
        await q.exec(`CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (
            name VARCHAR(255) NOT NULL PRIMARY KEY,
            done INT UNSIGNED NOT NULL,
            -- the statement after those done failed while the run was there to see it (and so
            -- did not finish on the server)
            failed TINYINT(1) NOT NULL,
            started_at DATETIME(3) NOT NULL
          ) ENGINE=InnoDB`);
        // knex's own lock row outlives a migrate that was killed (every later one then stopped at
        // "Migration table is already locked"); migrations are serialised by GET_LOCK above, which
        // the server frees when a session ends, so a lock row left now is a dead run's. (The
        // statement that run's other connection was in may still be running on the server: the
        // same statement run again here waits for it on the table's metadata lock, and then
        // finds its work done.)
        const [knexLock] = await q.rows<{ n: number }>(
          'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [`${MIGRATIONS_TABLE}_lock`]);
        if (knexLock?.n) await q.exec(`UPDATE ${MIGRATIONS_TABLE}_lock SET is_locked = 0 WHERE is_locked <> 0`);
        // the open rules before the pending schema files run, to say which of them those close
        const openBefore = recorded.length && pending.length ? await openRuleIds(q) : new Set<number>();
        const knex = await knexFor(cfg);
        try {
          const [, applied] = (await knex.migrate.latest({
            migrationSource: migrationSource([
              ...files,
              ...RETIRED_SCHEMA_FILES.filter((n) => recorded.includes(n)).map((name) => ({ name, text: '' })),
            ].sort((a, b) => a.name.localeCompare(b.name))),
            tableName: MIGRATIONS_TABLE,
            disableTransactions: true,
          })) as [number, string[]];
          report.applied = applied;
          if (openBefore.size) report.notes.push(...(await closedSince(q, openBefore)));
          // (devices holding IPv6 rules ipms no longer touches there: schema 0023)
          if (applied.includes('0023_device_ipv6')) {
            for (const d of await ipv6Held(q)) report.notes.push(`device ${d.name}: its option ipv6 is false: ${ipv6StaysText(d.n)}`);
          }
          // the progress of files now recorded as applied is of no more use
          // (by name, as read: knex made its table under the collation of its day)
          const done = await recordedMigrations(q);
          if (done.length) await q.exec(`DELETE FROM ${PROGRESS_TABLE} WHERE name IN (${done.map(() => '?').join(',')})`, done);
        } catch (err) {
          throw explainDbError(err, cfg);
        } finally {
          await knex.destroy();
        }
        const installed = await installedPrograms(q, false, orphaned);
        // Procedures first: triggers call them.
        const ordered = [...programs.filter((p) => p.kind === 'PROCEDURE'), ...programs.filter((p) => p.kind === 'TRIGGER')];
        for (const p of ordered) {
          const have = installed.get(p.name);
          if (have && have.present && have.sha256 === p.sha256) {
            report.unchanged.push(p.name);
            continue;
          }
          try {
            await replaceProgram(q, p);
          } catch (err) {
            throw explainProgramError(err, p);
          }
          report.created.push(p.name);
        }
        const wanted = new Set(programs.map((p) => p.name));
        for (const have of installed.values()) {
          if (wanted.has(have.name) || have.kind === '?') continue;
          await q.exec(have.kind === 'TRIGGER' ? `DROP TRIGGER IF EXISTS \`${have.name}\`` : `DROP PROCEDURE IF EXISTS \`${have.name}\``);
          await q.exec('DELETE FROM ipms_object WHERE name = ?', [have.name]);
          report.dropped.push(have.name);
        }
        report.views = await redefineViews(q, orphaned);
        // The prefix lengths the whitelist uses (0009), listed again: an entry added while this
        // migration ran, before the Whitelist triggers that list them were in place, would be
        // missed by ipms_protected for good.
        if (files.some((f) => f.name.startsWith('0009_'))) {
          await q.exec(`INSERT IGNORE INTO WhitelistPrefix (len, prefix)
                        SELECT DISTINCT LENGTH(first_ip), prefix FROM Whitelist WHERE first_ip IS NOT NULL AND prefix IS NOT NULL`);
        }
        await q.exec(`INSERT INTO ${DONE_TABLE} (id, finished_at) VALUES (1, UTC_TIMESTAMP(3))`);
      }),
    );
  } finally {
    await db.end();
  }
  return report;
}

export interface DbStatus {
  server: string;
  binlog: boolean;
  trustFunctionCreators: boolean;
  applied: string[];
  pending: string[];
  programs: { name: string; kind: string; state: 'ok' | 'outdated' | 'missing' }[];
  /**
   * The accounts ipms's triggers, procedures and views run as (their definers, as far as this
   * account can see them), and whether each exists: false when opening one of its views failed
   * (error 1449, or 1045 for an account that may not name any definer), null when this account
   * cannot tell (no view of that definer).
   */
  definers: { account: string; objects: number; exists: boolean | null }[];
  /** schema files a migration began and did not finish: statements done of all (ipms_migration_progress) */
  halfway: { name: string; done: number; of: number }[];
}

/** What `ipms db status` shows: schema versions, triggers, and the server's relevant settings. */
export async function dbStatus(q: Queryable, opts: { schemaDir?: string; triggersDir?: string } = {}): Promise<DbStatus> {
  const [vars] = await q.rows<{ v: string; lb: number; tr: number }>(
    'SELECT VERSION() AS v, @@log_bin AS lb, @@log_bin_trust_function_creators AS tr',
  );
  const done = await recordedMigrations(q);
  const doneSet = new Set(done);
  const installed = await installedPrograms(q, true);
  const accounts = await definers(q);
  return {
    server: vars?.v ?? '?',
    binlog: Number(vars?.lb) === 1,
    trustFunctionCreators: Number(vars?.tr) === 1,
    applied: done,
    pending: schemaFiles(opts.schemaDir).map((f) => f.name).filter((n) => !doneSet.has(n)),
    programs: programFiles(opts.triggersDir).map((p) => {
      const have = installed.get(p.name);
      const state = !have || !have.present ? 'missing' : have.sha256 === p.sha256 ? 'ok' : 'outdated';
      return { name: p.name, kind: p.kind, state };
    }),
    definers: accounts,
    halfway: await halfway(q, opts.schemaDir, doneSet),
  };
}

/** Schema files begun and not recorded (a migration stopped in them); nothing where this account may not read it. */
async function halfway(q: Queryable, schemaDir: string | undefined, done: ReadonlySet<string>): Promise<DbStatus['halfway']> {
  let rows: { name: string; done: number }[];
  try {
    rows = await q.rows<{ name: string; done: number }>(`SELECT name, done FROM ${PROGRESS_TABLE} ORDER BY name`);
  } catch {
    return []; // (not made yet, or not this account's to read)
  }
  const files = new Map(schemaFiles(schemaDir).map((f) => [f.name, splitStatements(f.text).length]));
  return rows.filter((r) => !done.has(r.name) && files.has(r.name)).map((r) => ({ name: r.name, done: r.done, of: files.get(r.name)! }));
}

/**
 * Refuse a database whose last migration did not finish: its schema may be half there and
 * its triggers missing, and hits inserted then make no rules, silently. Every component checks
 * this once when it first uses the database (`ipms db ...` commands do not). An account
 * granted before this check existed may not read the mark: then nothing can be told.
 */
export async function assertMigrated(q: Queryable, database: string): Promise<void> {
  let rows: { finished_at: Date }[];
  try {
    rows = await q.rows<{ finished_at: Date }>(`SELECT finished_at FROM ${DONE_TABLE} WHERE id = 1`);
  } catch (err) {
    if ((err as { code?: string }).code === 'E_DB_PRIVILEGE') return;
    throw err;
  }
  if (!rows.length) {
    throw new DatabaseError(
      `the last \`ipms db migrate\` of database '${database}' did not finish: triggers may be missing, so hits would make no rules ` +
        '(see `ipms db status`); run it again', 'E_DB_SCHEMA');
  }
}
