/**
 * Every change made through the console runs here: the shared query and its AuditLog row in
 * one transaction, so a change is never without its record (nor a record without its change).
 */
import { withRetry, type Db, type Queryable } from '../lib/db.ts';
import { recordAudit } from '../lib/queries/audit.ts';
import type { App, Req } from './http.ts';

/**
 * A Db whose queries run inside an open transaction: the shared queries that take a Db to open
 * a transaction of their own (addWhitelist, addBlacklist) then join this one instead.
 */
export function inTransaction(db: Db, tx: Queryable): Db {
  return {
    config: db.config,
    rows: (sql, params) => tx.rows(sql, params),
    exec: (sql, params) => tx.exec(sql, params),
    transaction: (fn) => fn(tx),
    pinned: (fn) => fn(tx),
    end: async () => undefined,
  };
}

export interface ChangeNote<T> {
  action: string;
  target: string;
  /** the particulars to keep, from the outcome */
  detail?: (out: T) => unknown;
}

/** Run a change and record who made it; retried whole when InnoDB picks it as a deadlock victim. */
export async function audited<T>(app: App, req: Req, fn: (db: Db) => Promise<T>, note: ChangeNote<T>): Promise<T> {
  const who = req.session?.user;
  if (!who) throw new Error('audited: a change without a logged-in user');
  return withRetry(() =>
    app.db.transaction(async (tx) => {
      const out = await fn(inTransaction(app.db, tx));
      await recordAudit(tx, { who, via: 'web', ip: req.ip, action: note.action, target: note.target, detail: note.detail?.(out) });
      return out;
    }),
  );
}
