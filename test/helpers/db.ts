/**
 * A database of its own for each test file, on the real server: created, migrated, and left
 * in place afterwards so a failing test's data can be inspected (the next run removes it).
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { parseDatabaseUrl, type DbConfig } from '../../lib/config.ts';
import { openDb, type Db } from '../../lib/db.ts';
import { grantStatements, ROLES } from '../../lib/grants.ts';
import { migrate } from '../../lib/migrate.ts';

export interface TestDb {
  db: Db;
  cfg: DbConfig;
  /** URL of the test database, admin account */
  url: string;
  /** open another pool on the same database (for concurrency tests) */
  open(poolSize?: number): Db;
  close(): Promise<void>;
}

export function adminUrl(): string {
  return inject('adminUrl');
}

export async function freshDatabase(label: string, opts: { migrate?: boolean } = {}): Promise<TestDb> {
  const admin = parseDatabaseUrl(adminUrl());
  // the minute of creation is in the name, so the next run's setup drops only old databases
  const name = `ipms_t_${label.replace(/[^a-z0-9]/gi, '_').slice(0, 24)}_${Math.floor(Date.now() / 60_000).toString(36)}_${randomBytes(3).toString('hex')}`;
  const root = openDb(admin, { poolSize: 1 });
  try {
    await root.exec(`CREATE DATABASE \`${name}\``);
  } finally {
    await root.end();
  }
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  const url = u.toString();
  const cfg = parseDatabaseUrl(url);
  if (opts.migrate !== false) await migrate(cfg);
  const db = openDb(cfg, { poolSize: 4 });
  const extra: Db[] = [];
  return {
    db,
    cfg,
    url,
    open(poolSize = 1) {
      const d = openDb(cfg, { poolSize });
      extra.push(d);
      return d;
    },
    async close() {
      await Promise.all([db.end(), ...extra.map((d) => d.end())]);
    },
  };
}

/**
 * Create (or re-create) a MySQL account with exactly the grants `ipms db grants` prints for
 * `role` on the test database, and return the test database's URL for it.
 */
export async function roleAccount(
  t: TestDb, role: string, user: string, password: string,
  /** the grants as another version gave them */
  edit?: (grants: readonly (readonly [string, string])[]) => [string, string][],
): Promise<string> {
  const found = ROLES.find((x) => x.user === role);
  if (!found) throw new Error(`no role ${role}`);
  const r = edit ? { ...found, grants: edit(found.grants) } : found;
  const root = openDb(parseDatabaseUrl(adminUrl()), { poolSize: 1 });
  try {
    await root.exec(`DROP USER IF EXISTS '${user}'@'127.0.0.1'`);
    for (const stmt of grantStatements(t.cfg.database, '127.0.0.1', [{ ...r, user }])) {
      if (!stmt.startsWith('--')) await root.exec(stmt.replace('CHANGE-ME', password));
    }
  } finally {
    await root.end();
  }
  const u = new URL(t.url);
  u.username = user;
  u.password = password;
  return u.toString();
}
