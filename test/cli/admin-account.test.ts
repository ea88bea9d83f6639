/**
 * The `ipms_admin` account exactly as `ipms db grants` prints it is enough for what the CLI
 * (and the console, through the same queries) does, and no more: it writes the tables it
 * manages, not what the migrations keep or the triggers derive.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../lib/config.ts';
import { openDb } from '../../lib/db.ts';
import { ADMIN_WRITES } from '../../lib/grants.ts';
import { ipms } from '../helpers/cli.ts';
import { freshDatabase, roleAccount, type TestDb } from '../helpers/db.ts';

const SAMPLE = fileURLToPath(new URL('../../samples/honeyevse-honeyd.log', import.meta.url));
let t: TestDb;
let url: string;

beforeAll(async () => {
  t = await freshDatabase('admin_account');
  url = await roleAccount(t, 'ipms_admin', 'ipms_t_adminlp', 'adminlp-pw');
});

afterAll(async () => t?.close());

describe('the ipms_admin account of db grants', () => {
  it('runs the CLI: sensors, ingest, thresholds, rules, lists, devices, apply, prune', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipms-adminlp-'));
    const ok = async (...args: string[]) => {
      const r = await ipms(url, ...args);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
      return r;
    };
    await ok('sensors', 'add', 'dmz-1', '--address', '192.0.2.10', '--honeypot-net', '185.213.114.29/32');
    await ok('ingest', '--sensor', 'dmz-1', '--tz', 'UTC', '--state-dir', dir, SAMPLE);
    await ok('thresholds', 'add', 'low', 'window=1s', 'max_hits=30');
    await ok('thresholds', 'set', 'default', 'max_hits=40');
    await ok('devices', 'add', 'fw', '--adapter', 'nftables', '--transport', 'dry-run');
    const rule = (await ok('rules', 'add', '198.51.100.9', '--json')).json<{ id: number }>();
    await ok('rules', 'disable', String(rule.id));
    await ok('rules', 'enable', String(rule.id));
    await ok('whitelist', 'add', '198.51.100.0/25', '--comment', 'partner');
    writeFileSync(join(dir, 'feed.txt'), '203.0.113.0/24\n');
    await ok('blacklist', 'import', join(dir, 'feed.txt'), '--format', 'plain', '--source', 'test', '--expire', '1d');
    await ok('sensors', 'approve', 'dmz-1', '10.99.1.0/24');
    await ok('apply', '--once');
    await ok('devices', 'set', 'fw', '--option', 'table=ipms_other');
    await ok('devices', 'remove', 'fw', '--leave-rules');
    await ok('whitelist', 'remove', '198.51.100.0/25');
    await ok('db', 'prune', '--logs', '1d', '--rules', '1d', '--audit', '1d');
    await ok('status');
    await ok('db', 'status');
  });

  it('cannot change what the migrations keep or the triggers derive', async () => {
    const db = openDb(parseDatabaseUrl(url), { poolSize: 1 });
    try {
      for (const sql of [
        "DELETE FROM NoSourceRange WHERE cidr LIKE '127.%'",
        'DELETE FROM PrefixLength',
        'DELETE FROM WhitelistPrefix',
        'DELETE FROM ThresholdCounter',
        'DELETE FROM ipms_migrated',
        'DELETE FROM ipms_object',
      ]) await expect(db.exec(sql), sql).rejects.toThrow(/denied/);
      // loopback stays refused, whoever asks
      expect((await ipms(url, 'rules', 'add', '127.0.0.5')).code).toBe(5);
    } finally {
      await db.end();
    }
  });

  it('lists every table of the schema as written by it or kept from it', async () => {
    const kept = ['ipms_migrated', 'ipms_migration_progress', 'ipms_migrations', 'ipms_migrations_lock', 'ipms_object', 'NoSourceRange', 'PrefixLength', 'ThresholdCounter', 'WhitelistPrefix'];
    const tables = await t.db.rows<{ n: string }>(
      "SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1");
    // (a new table is one or the other, on purpose)
    expect(tables.map((r) => r.n).sort()).toEqual([...ADMIN_WRITES, ...kept].sort());
  });
});
