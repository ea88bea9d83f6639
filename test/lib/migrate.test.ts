import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../lib/config.ts';
import { openDb } from '../../lib/db.ts';
import { ROLES, grantStatements } from '../../lib/grants.ts';
import { dbStatus, migrate, programFiles, schemaFiles, SCHEMA_DIR, TRIGGERS_DIR } from '../../lib/migrate.ts';
import { splitStatements } from '../../lib/sql-split.ts';
import { ipms, ipmsProcess } from '../helpers/cli.ts';
import { adminUrl, freshDatabase, roleAccount, type TestDb } from '../helpers/db.ts';
import { schemaSnapshot } from '../helpers/snapshot.ts';

const SNAPSHOT = fileURLToPath(new URL('../fixtures/schema.snapshot.txt', import.meta.url));

/** The project's schema files and one more, in a directory of their own. */
function schemaDirWith(file: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ipms-schema-'));
  cpSync(SCHEMA_DIR, dir, { recursive: true });
  writeFileSync(join(dir, file), text);
  return dir;
}

let t: TestDb;
beforeAll(async () => {
  t = await freshDatabase('migrate');
});
afterAll(async () => t.close());

describe('ipms db migrate', () => {
  it('is idempotent: a second run changes nothing and re-creates no trigger', async () => {
    const before = await t.db.rows<{ name: string; installed_at: Date }>('SELECT name, installed_at FROM ipms_object ORDER BY name');
    const report = await migrate(t.cfg);
    expect(report.applied).toEqual([]);
    expect(report.created).toEqual([]);
    expect(report.unchanged.length).toBe(before.length);
    expect(await t.db.rows('SELECT name, installed_at FROM ipms_object ORDER BY name')).toEqual(before);
  });

  it('re-creates only the trigger whose text changed, and restores one dropped by hand', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipms-triggers-'));
    cpSync(TRIGGERS_DIR, dir, { recursive: true });
    const file = join(dir, 'Whitelist_after_insert.sql');
    writeFileSync(file, readFileSync(file, 'utf8').replace('BEGIN', 'BEGIN\n  -- changed\n  DO 0;'));
    await t.db.exec('DROP TRIGGER Blacklist_after_delete');
    const report = await migrate(t.cfg, { triggersDir: dir });
    expect(report.created.sort()).toEqual(['Blacklist_after_delete', 'Whitelist_after_insert']);
    // and back to the committed text
    const back = await migrate(t.cfg);
    expect(back.created).toEqual(['Whitelist_after_insert']);
  });

  it('serialises concurrent migrators on a fresh database', async () => {
    const fresh = await freshDatabase('migrate_concurrent', { migrate: false });
    try {
      const reports = await Promise.all([migrate(fresh.cfg), migrate(fresh.cfg), migrate(fresh.cfg)]);
      const applied = reports.map((r) => r.applied.length).sort();
      expect(applied).toEqual([0, 0, schemaFiles().length]);
      expect(reports.map((r) => r.created.length).sort((a, b) => a - b)).toEqual([0, 0, reports[0]!.unchanged.length + reports[0]!.created.length]);
    } finally {
      await fresh.close();
    }
  });

  it("gives its database the tables' collation, and creates its routines under it", async () => {
    // a database created with the server's default collation (MySQL 8: utf8mb4_0900_ai_ci):
    // routine parameters take it, and their CONCATs with table columns fail on MySQL
    const fresh = await freshDatabase('migrate_collation', { migrate: false });
    try {
      await fresh.db.exec(`ALTER DATABASE \`${fresh.cfg.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
      await migrate(fresh.cfg);
      const [s] = await fresh.db.rows<{ c: string }>(
        'SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [fresh.cfg.database]);
      expect(s!.c).toBe('utf8mb4_unicode_ci');
      const routines = await fresh.db.rows<{ c: string }>(
        'SELECT DISTINCT DATABASE_COLLATION AS c FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?', [fresh.cfg.database]);
      expect(routines).toEqual([{ c: 'utf8mb4_unicode_ci' }]);
      // a run that stopped after changing the collation left programs made under the old one:
      // the next run re-creates them (it does not go by the database's collation alone)
      await fresh.db.exec(`ALTER DATABASE \`${fresh.cfg.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
      const text = readFileSync(join(TRIGGERS_DIR, 'ipms_cidr_fill.sql'), 'utf8');
      await fresh.db.exec('DROP PROCEDURE ipms_cidr_fill');
      await fresh.db.exec(text.slice(text.indexOf('CREATE PROCEDURE')));
      await fresh.db.exec(`ALTER DATABASE \`${fresh.cfg.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
      const again = await migrate(fresh.cfg);
      expect(again.created).toEqual(['ipms_cidr_fill']);
      // a device given by host name: its name is no address (INET6_ATON warns on MySQL, an
      // error in a stored program under strict mode), and rules are still written
      await fresh.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('named', 'fw.example.net', 'nftables', 'dry-run')");
      await fresh.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.51.100.77'), 'manual')");
      await expect(fresh.db.exec("INSERT INTO Whitelist (cidr) VALUES ('fw.example.net')")).rejects.toThrow(/^not an IP address or CIDR: fw\.example\.net$/);
    } finally {
      await fresh.close();
    }
  });

  it('keeps every message its SQL signals within MySQL\'s 128 characters', () => {
    // (a longer MESSAGE_TEXT is another error on MySQL, which the CLI would not explain)
    for (const f of readdirSync(TRIGGERS_DIR)) {
      const text = readFileSync(join(TRIGGERS_DIR, f), 'utf8');
      for (const m of text.matchAll(/MESSAGE_TEXT = '([^']*)'/g)) expect(m[1]!.length, f).toBeLessThanOrEqual(128);
      // a message built at run time is cut to 128, or built from short parts only
      for (const m of text.matchAll(/SET v_msg = (.*?);\n/gs)) {
        const literal = [...m[1]!.matchAll(/'([^']*)'/g)].reduce((n, x) => n + x[1]!.length, 0);
        expect(m[1]!.startsWith('LEFT(') || literal <= 100, `${f}: ${m[1]!.slice(0, 60)}`).toBe(true);
      }
    }
  });

  it('0007 fixes data written by earlier versions: IPv4-mapped whitelist entries, open rules over protected addresses', async () => {
    const db = await freshDatabase('migrate_0007');
    try {
      // what an earlier version let in: triggers that now prevent it are out of the way meanwhile
      await db.db.exec('DROP TRIGGER Sensor_after_insert');
      // (the Whitelist trigger converts IPv4-mapped text now: written as an earlier version kept it)
      await db.db.exec('DROP TRIGGER Whitelist_before_insert');
      await db.db.exec(`INSERT INTO Whitelist (cidr, first_ip, last_ip, prefix) VALUES
        ('::ffff:10.1.0.0/112', INET6_ATON('::ffff:10.1.0.0'), INET6_ATON('::ffff:10.1.255.255'), 112),
        ('::ffff:10.2.0.0/112', INET6_ATON('::ffff:10.2.0.0'), INET6_ATON('::ffff:10.2.255.255'), 112),
        ('10.2.0.0/16', INET6_ATON('10.2.0.0'), INET6_ATON('10.2.255.255'), 16)`);
      expect((await db.db.rows<{ n: number }>('SELECT COUNT(*) AS n FROM Whitelist WHERE LENGTH(first_ip) = 16'))[0]!.n).toBe(2);
      await db.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('198.18.0.0'), 24, 'manual'), (INET6_ATON('198.18.1.0'), 24, 'manual')");
      await db.db.exec("INSERT INTO Sensor (name, address) VALUES ('old', INET6_ATON('198.18.0.5'))");
      // a rule wider than /8, from before the floor
      await db.db.exec('DROP TRIGGER Rule_before_insert');
      await db.db.exec("INSERT INTO Rule (src_ip, src_prefix, src_last, origin) VALUES (INET6_ATON('64.0.0.0'), 2, INET6_ATON('127.255.255.255'), 'manual')");
      const sql = readFileSync(join(SCHEMA_DIR, '0007_protected_data.sql'), 'utf8');
      for (const st of splitStatements(sql)) await db.db.exec(st);
      expect(await db.db.rows('SELECT cidr, LENGTH(first_ip) AS len FROM Whitelist ORDER BY cidr')).toEqual([
        { cidr: '10.1.0.0/16', len: 4 }, { cidr: '10.2.0.0/16', len: 4 },
      ]);
      expect(await db.db.rows('SELECT INET6_NTOA(src_ip) AS src, status FROM Rule ORDER BY src_ip')).toEqual([
        { src: '64.0.0.0', status: 'dropped' }, { src: '198.18.0.0', status: 'dropped' }, { src: '198.18.1.0', status: 'pending' },
      ]);
      expect((await migrate(db.cfg)).created.sort()).toEqual(['Rule_before_insert', 'Sensor_after_insert', 'Whitelist_before_insert']);
    } finally {
      await db.close();
    }
  });

  it('0006 puts right the thresholds an earlier version let in before it adds its constraints', async () => {
    const db = await freshDatabase('migrate_0006');
    try {
      await db.db.exec('ALTER TABLE Threshold DROP CONSTRAINT ck_threshold_port, DROP CONSTRAINT ck_threshold_window_max');
      await db.db.exec("INSERT INTO Threshold (name, proto, dst_port, window_s) VALUES ('pingport', 'icmp', 22, 60), ('long', NULL, NULL, 5184000)");
      for (const st of splitStatements(readFileSync(join(SCHEMA_DIR, '0006_threshold_checks.sql'), 'utf8'))) await db.db.exec(st);
      expect(await db.db.rows("SELECT name, enabled, dst_port, window_s, description FROM Threshold WHERE name IN ('pingport', 'long') ORDER BY name")).toEqual([
        { name: 'long', enabled: 1, dst_port: null, window_s: 2678400, description: null },
        { name: 'pingport', enabled: 0, dst_port: null, window_s: 60, description: ' [ipms: disabled by the upgrade: dst_port 22 with proto icmp counted nothing]' },
      ]);
    } finally {
      await db.close();
    }
  });

  it('0012 puts right thresholds of a protocol in capitals, an unknown protocol or a duration of 0 before it adds its constraints', async () => {
    const db = await freshDatabase('migrate_0012');
    try {
      await db.db.exec('ALTER TABLE Threshold DROP CONSTRAINT ck_threshold_proto, DROP CONSTRAINT ck_threshold_duration');
      await db.db.exec(`INSERT INTO Threshold (name, proto, dst_port, window_s, duration_s) VALUES
        ('caps', 'TCP', 22, 60, 0), ('ssh', 'ssh', NULL, 60, 3600)`);
      for (const st of splitStatements(readFileSync(join(SCHEMA_DIR, '0012_threshold_proto_duration.sql'), 'utf8'))) await db.db.exec(st);
      expect(await db.db.rows("SELECT name, enabled, proto, dst_port, duration_s, description FROM Threshold WHERE name IN ('caps', 'ssh') ORDER BY name")).toEqual([
        { name: 'caps', enabled: 1, proto: 'tcp', dst_port: 22, duration_s: null, description: null },
        { name: 'ssh', enabled: 0, proto: null, dst_port: null, duration_s: 3600, description: ' [ipms: disabled by the upgrade: proto ssh is no protocol a hit has]' },
      ]);
    } finally {
      await db.close();
    }
  });

  it('lists again the prefix lengths of whitelist entries added while a migration ran (before the Whitelist triggers were in place)', async () => {
    await t.db.exec('DROP TRIGGER Whitelist_after_insert');
    await t.db.exec("INSERT INTO Whitelist (cidr) VALUES ('198.18.64.0/19')");
    expect(await t.db.rows('SELECT * FROM WhitelistPrefix WHERE len = 4 AND prefix = 19')).toEqual([]);
    await migrate(t.cfg);
    expect(await t.db.rows('SELECT len, prefix FROM WhitelistPrefix WHERE len = 4 AND prefix = 19')).toEqual([{ len: 4, prefix: 19 }]);
    await expect(t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.18.70.1'), 'manual')")).rejects.toThrow(/protected by whitelist 198\.18\.64\.0\/19/);
    await t.db.exec("DELETE FROM Whitelist WHERE cidr = '198.18.64.0/19'");
  });

  it('db status is read-only: the admin account (no CREATE) can ask it', async () => {
    const url = await roleAccount(t, 'ipms_admin', 'ipms_t_status', 'status-test-pw');
    const r = await ipms(url, 'db', 'status', '--json');
    expect(r.code, r.err).toBe(0);
    expect(r.json<{ applied: string[] }>().applied).toContain('0007_protected_data');
  });

  it('goes on where a migrate stopped half way: the lock it left, the statements done, the one the server finished', async () => {
    const fresh = await freshDatabase('migrate_resume');
    try {
      const dir = schemaDirWith('0099_resume.sql', 'CREATE TABLE t99 (a INT PRIMARY KEY);\nINSERT INTO t99 (a) VALUES (1);\nALTER TABLE t99 ADD COLUMN b INT;\n');
      expect((await migrate(fresh.cfg, { schemaDir: dir })).applied).toEqual(['0099_resume']);
      const again = async (done: number | null) => {
        await fresh.db.exec("DELETE FROM ipms_migrations WHERE name = '0099_resume'");
        if (done !== null) await fresh.db.exec("INSERT INTO ipms_migration_progress (name, done, failed, started_at) VALUES ('0099_resume', ?, 0, UTC_TIMESTAMP(3))", [done]);
      };
      // a run killed in 0099, leaving knex's lock row set: the CREATE counted, the INSERT
      // finished by the server after the client was gone (not counted), the ALTER not run
      await fresh.db.exec('ALTER TABLE t99 DROP COLUMN b');
      await again(1);
      await fresh.db.exec('UPDATE ipms_migrations_lock SET is_locked = 1');
      // (db status says where it stopped)
      expect((await dbStatus(fresh.db, { schemaDir: dir })).halfway).toEqual([{ name: '0099_resume', done: 1, of: 3 }]);
      expect((await migrate(fresh.cfg, { schemaDir: dir })).applied).toEqual(['0099_resume']);
      expect((await dbStatus(fresh.db, { schemaDir: dir })).halfway).toEqual([]);
      expect(await fresh.db.rows('SELECT a, b FROM t99')).toEqual([{ a: 1, b: null }]);
      expect(await fresh.db.rows('SELECT name FROM ipms_migration_progress')).toEqual([]);
      // stopped with every statement done, before it was recorded: none runs again
      await again(3);
      expect((await migrate(fresh.cfg, { schemaDir: dir })).applied).toEqual(['0099_resume']);
      // a file that was not begun, and whose statement fails, is a failure; and so it stays on
      // the next run (a statement seen to fail did not finish on the server)
      await again(null);
      for (let i = 0; i < 2; i++) {
        await expect(migrate(fresh.cfg, { schemaDir: dir })).rejects.toThrow("schema/0099_resume.sql failed: CREATE TABLE t99 (a INT PRIMARY KEY) - Table 't99' already exists");
      }
    } finally {
      await fresh.close();
    }
  });

  it('takes a statement its connection was lost in as done, once the server has finished it', { timeout: 60_000 }, async () => {
    const fresh = await freshDatabase('migrate_cut');
    const proxy = createServer();
    try {
      const dir = schemaDirWith('0098_cut.sql', 'CREATE TABLE t98 AS SELECT SLEEP(2) AS s;\nALTER TABLE t98 ADD COLUMN b INT;\n');
      // the migrate talks to the server through a proxy (loopback), which cuts every connection
      // while the CREATE runs: the client sees a lost connection, the server finishes the CREATE
      const sockets = new Set<Socket>();
      proxy.on('connection', (c) => {
        const up = connect(fresh.cfg.port, fresh.cfg.host);
        for (const x of [c, up]) {
          sockets.add(x);
          x.on('error', () => undefined);
        }
        c.pipe(up);
        up.pipe(c);
      });
      await new Promise<void>((res) => proxy.listen(0, '127.0.0.1', res));
      const u = new URL(fresh.url);
      u.port = String((proxy.address() as AddressInfo).port);
      const run = migrate(parseDatabaseUrl(u.toString()), { schemaDir: dir }).then(() => 'finished', (e: Error) => e.message);
      const until = Date.now() + 30_000;
      while (!(await fresh.db.rows("SELECT 1 FROM ipms_migration_progress WHERE name = '0098_cut'")).length && Date.now() < until) {
        await new Promise((res) => setTimeout(res, 20));
      }
      await new Promise((res) => setTimeout(res, 500));
      for (const x of sockets) x.destroy();
      expect(await run).not.toBe('finished');
      while (!(await fresh.db.rows("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 't98'")).length && Date.now() < until) {
        await new Promise((res) => setTimeout(res, 50));
      }
      expect(await fresh.db.rows("SELECT done, failed FROM ipms_migration_progress WHERE name = '0098_cut'")).toEqual([{ done: 0, failed: 0 }]);
      // run again, straight to the server: the CREATE answers "exists" and counts as done
      expect((await migrate(fresh.cfg, { schemaDir: dir })).applied).toEqual(['0098_cut']);
      expect((await fresh.db.rows<{ c: string }>("SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 't98' ORDER BY ORDINAL_POSITION")).map((r) => r.c)).toEqual(['s', 'b']);
    } finally {
      proxy.close();
      await fresh.close();
    }
  });

  it('completes a migrate that was killed, in its schema files or in its triggers', { timeout: 120_000 }, async () => {
    const want = readFileSync(SNAPSHOT, 'utf8');
    for (const [label, reached] of [
      ['schema', 'SELECT COUNT(*) AS n FROM ipms_migration_progress WHERE name >= \'0006\''],
      ['triggers', 'SELECT COUNT(*) AS n FROM ipms_object'],
    ] as const) {
      const fresh = await freshDatabase(`migrate_kill_${label}`, { migrate: false });
      try {
        const run = ipmsProcess(fresh.url, 'db', 'migrate');
        const exited = new Promise((r) => run.child.on('exit', r));
        // killed (SIGKILL: no clean-up) once it is that far; the look is bounded in time
        const until = Date.now() + 60_000;
        for (;;) {
          const [r] = await fresh.db.rows<{ n: number }>(reached).catch(() => [{ n: 0 }]);
          if (r!.n > 0 || Date.now() > until) break;
          await new Promise((res) => setTimeout(res, 10));
        }
        run.child.kill('SIGKILL');
        await exited;
        const r = await ipms(fresh.url, 'db', 'migrate');
        expect([r.code, r.err], label).toEqual([0, '']);
        expect(await schemaSnapshot(fresh.db), label).toBe(want);
        expect((await ipms(fresh.url, 'db', 'status')).code, label).toBe(0);
      } finally {
        await fresh.close();
      }
    }
  });

  it('matches the committed schema snapshot', async () => {
    const snap = await schemaSnapshot(t.db);
    if (process.env.UPDATE_SNAPSHOT || !existsSync(SNAPSHOT)) writeFileSync(SNAPSHOT, snap);
    expect(snap).toBe(readFileSync(SNAPSHOT, 'utf8'));
  });
});

describe('the accounts of `ipms db grants`', () => {
  it('lets the admin account see every trigger and procedure in `db status`', async () => {
    const url = await roleAccount(t, 'ipms_admin', 'ipms_t_admin', 'admin-test-pw');
    const st = await ipms(url, 'db', 'status');
    expect([st.code, st.out]).toEqual([0, expect.stringMatching(/triggers and procedures: \d+ ok, 0 missing or outdated/)]);
    // (it may not see the triggers' definers: only the accounts it can see are named)
    expect(st.out).toMatch(/^runs as: \S+@\S+ \(\d+ triggers, procedures and views\)$/m);
    expect(st.out).not.toMatch(/null/);
  });

  it('says which account was refused what, as a database error (exit 3; UNKNOWN to a monitor)', async () => {
    // the worker's account reads rules and devices, not the hits a status counts
    const url = await roleAccount(t, 'ipms_worker', 'ipms_t_worker2', 'worker-test-pw');
    const st = await ipms(url, 'status');
    expect([st.code, st.err]).toEqual([3, expect.stringMatching(/^ipms: the database refused this to account 'ipms_t_worker2': .*denied.* \(each component has its own account: see `ipms db grants`\)$/)]);
    const check = await ipms(url, 'check');
    expect([check.code, check.out]).toEqual([3, expect.stringMatching(/^IPMS UNKNOWN - the database refused this to account 'ipms_t_worker2'/)]);
  });
});

describe('privileges with the binary log on', () => {
  const pw = 'migrator-test-pw';
  const admin = () => openDb(parseDatabaseUrl(adminUrl()), { poolSize: 1 });

  it('runs on a server with the binary log on', async () => {
    const [r] = await t.db.rows<{ lb: number }>('SELECT @@log_bin AS lb');
    expect(Number(r!.lb)).toBe(1);
  });

  it('migrates as the documented least-privilege migrator, and says what is missing when it cannot', async () => {
    const fresh = await freshDatabase('migrate_priv', { migrate: false });
    const root = admin();
    try {
      const role = ROLES.find((r) => r.user === 'ipms_migrator')!;
      const stmts = grantStatements(fresh.cfg.database, '127.0.0.1', [{ ...role, user: 'ipms_t_migrator' }])
        .filter((s) => !s.startsWith('--'))
        .map((s) => s.replace('CHANGE-ME', pw));
      await root.exec("DROP USER IF EXISTS 'ipms_t_migrator'@'127.0.0.1'");
      for (const s of stmts) await root.exec(s);
      const u = new URL(fresh.url);
      u.username = 'ipms_t_migrator';
      u.password = pw;
      const cfg = parseDatabaseUrl(u.toString());
      // Without SUPER and with log_bin_trust_function_creators off, the server refuses
      // triggers: the migrator must say so and how to fix it.
      await root.exec('SET GLOBAL log_bin_trust_function_creators = 0');
      try {
        await expect(migrate(cfg)).rejects.toThrow(/binary logging is on and the migrating user lacks SUPER; set log_bin_trust_function_creators=1/);
      } finally {
        await root.exec('SET GLOBAL log_bin_trust_function_creators = 1');
      }
      // half migrated (tables, no triggers): nothing works on it, and says why; db status tells what is missing
      const log = join(mkdtempSync(join(tmpdir(), 'ipms-half-')), 'honeyd.log');
      writeFileSync(log, '2026-01-01-10:00:00.0000 tcp(6) S 198.51.100.9 4000 192.168.2.1 22 [Linux 2.6]\n');
      for (const args of [['rules', 'list'], ['ingest', '--sensor', 'half', '--tz', 'UTC', '--state-dir', join(log, '..'), log], ['apply', '--once']]) {
        const r = await ipms(fresh.url, ...args);
        expect([r.code, r.err], args[0]).toEqual([3, expect.stringMatching(/the last `ipms db migrate` of database '.*' did not finish: triggers may be missing/)]);
      }
      const half = await ipms(fresh.url, 'db', 'status');
      expect([half.code, half.out]).toEqual([3, expect.stringMatching(/triggers and procedures: \d+ ok, [1-9]\d* missing or outdated/)]);
      const report = await migrate(cfg);
      expect(report.created.length).toBeGreaterThan(10);
      const st = await fresh.db.rows<{ n: number }>(
        'SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()',
      );
      expect(st[0]!.n).toBeGreaterThan(10);
      expect((await ipms(fresh.url, 'rules', 'list')).code).toBe(0);
    } finally {
      await root.exec("DROP USER IF EXISTS 'ipms_t_migrator'@'127.0.0.1'");
      await root.end();
      await fresh.close();
    }
  });

  it('makes triggers, procedures and views again under the migrating account when their definer is gone (a restore onto another server)', async () => {
    const fresh = await freshDatabase('migrate_definer', { migrate: false });
    const root = admin();
    try {
      await root.exec("DROP USER IF EXISTS 'ipms_t_gone'@'127.0.0.1'");
      await root.exec("CREATE USER 'ipms_t_gone'@'127.0.0.1' IDENTIFIED BY 'gone-test-pw'");
      await root.exec(`GRANT ALL ON \`${fresh.cfg.database}\`.* TO 'ipms_t_gone'@'127.0.0.1'`);
      const u = new URL(fresh.url);
      u.username = 'ipms_t_gone';
      u.password = 'gone-test-pw';
      await migrate(parseDatabaseUrl(u.toString()));
      await root.exec("DROP USER 'ipms_t_gone'@'127.0.0.1'");
      // every insert into a table with triggers fails now, and says what to do
      await expect(fresh.db.exec("INSERT INTO Sensor (name) VALUES ('s1')"))
        .rejects.toThrow(/'ipms_t_gone'@'127\.0\.0\.1'.* does not exist: .*`ipms db migrate` as the migrating account makes them again/);
      // db status tells, also as the least-privilege admin account (which the server answers
      // with "access denied", not 1449), and so does that account's own refused statement
      const adminUrl2 = await roleAccount(fresh, 'ipms_admin', 'ipms_t_adm_def', 'adm-def-test-pw');
      for (const url of [fresh.url, adminUrl2]) {
        const st = await ipms(url, 'db', 'status');
        expect([st.code, st.out, st.err]).toEqual([3, expect.stringMatching(/runs as: ipms_t_gone@127\.0\.0\.1 \(\d+ triggers, procedures and views\) — this account does not exist here/),
          expect.stringMatching(/^ipms: triggers, procedures and views run as ipms_t_gone@127\.0\.0\.1, which this server does not have/)]);
      }
      const asAdmin = openDb(parseDatabaseUrl(adminUrl2), { poolSize: 1 });
      try {
        await expect(asAdmin.rows('SELECT * FROM ProtectedRange')).rejects.toMatchObject({
          code: 'E_DB_DEFINER', message: expect.stringMatching(/^Access denied .*: ipms's triggers, procedures or views may have been made by an account this server does not have/),
        });
      } finally {
        await asAdmin.end();
      }

      // with a schema version still to run (it would fire them), the migration refuses, changing nothing
      await root.exec("DELETE FROM `" + fresh.cfg.database + "`.ipms_migrations WHERE name = '0016_upgrade_repairs'");
      await expect(migrate(fresh.cfg)).rejects.toThrow(/run as ipms_t_gone@127\.0\.0\.1, which this server does not have, and schema versions are pending \(0016_upgrade_repairs\)/);
      expect(await fresh.db.rows('SELECT id FROM ipms_migrated')).toEqual([{ id: 1 }]);
      // as the message says: the account again, migrate, drop it, migrate once more
      await root.exec("CREATE USER 'ipms_t_gone'@'127.0.0.1' IDENTIFIED BY 'gone-test-pw'");
      await root.exec(`GRANT ALL ON \`${fresh.cfg.database}\`.* TO 'ipms_t_gone'@'127.0.0.1'`);
      expect((await migrate(fresh.cfg)).applied).toEqual(['0016_upgrade_repairs']);
      await root.exec("DROP USER 'ipms_t_gone'@'127.0.0.1'");

      const report = await migrate(fresh.cfg);
      expect(report.applied).toEqual([]);
      expect([report.unchanged, report.created.length > 40]).toEqual([[], true]);
      expect(report.views).toEqual(expect.arrayContaining(['RuleView', 'ProtectedRange', 'SensorLogView']));
      const [{ n } = { n: 0 }] = await fresh.db.rows<{ n: number }>(
        `SELECT COUNT(*) AS n FROM (SELECT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()
           UNION ALL SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()
           UNION ALL SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()) d WHERE d.DEFINER LIKE 'ipms\\_t\\_gone@%'`);
      expect(Number(n)).toBe(0);
      // hits count again: the 50th in a second makes the rule
      await fresh.db.exec("INSERT INTO Sensor (name) VALUES ('s1')");
      const hits = Array.from({ length: 50 }, () => "(1, '2026-01-01 10:00:00.250', 'tcp', INET6_ATON('203.0.113.77'), 40000, INET6_ATON('192.168.2.1'), 22)");
      await fresh.db.exec(`INSERT INTO SensorLog (sensor_id, ts, proto, src_ip, src_port, dst_ip, dst_port) VALUES ${hits.join(',')}`);
      expect(await fresh.db.rows("SELECT INET6_NTOA(src_ip) AS src, status FROM Rule")).toEqual([{ src: '203.0.113.77', status: 'pending' }]);
      expect((await ipms(fresh.url, 'db', 'status')).code).toBe(0);
      const again = await migrate(fresh.cfg);
      expect([again.created, again.views]).toEqual([[], []]);
    } finally {
      await root.exec("DROP USER IF EXISTS 'ipms_t_gone'@'127.0.0.1'");
      await root.exec("DROP USER IF EXISTS 'ipms_t_adm_def'@'127.0.0.1'");
      await root.end();
      await fresh.close();
    }
  });
});

describe('databases of earlier development versions', () => {
  it('a procedure missing (a dump restored without --routines) is a database not fully migrated: exit 3, run migrate', async () => {
    const fresh = await freshDatabase('migrate_no_routines');
    try {
      await fresh.db.exec('DROP PROCEDURE ipms_sensor_name');
      const r = await ipms(fresh.url, 'sensors', 'add', 'dmz-9');
      expect([r.code, r.err]).toEqual([3, expect.stringMatching(/^ipms: database '.*' is not fully migrated \(PROCEDURE .*ipms_sensor_name does not exist: restored without --routines\?\): run `ipms db migrate`$/)]);
      expect((await migrate(fresh.cfg)).created).toEqual(['ipms_sensor_name']);
      expect((await ipms(fresh.url, 'sensors', 'add', 'dmz-9')).code).toBe(0);
    } finally {
      await fresh.close();
    }
  });

  it('migrates a database that applied a schema file since taken back (0014_mysql_strict), and refuses one a newer ipms migrated, changing nothing', async () => {
    const fresh = await freshDatabase('migrate_versions');
    try {
      await fresh.db.exec("INSERT INTO ipms_migrations (name, batch, migration_time) VALUES ('0014_mysql_strict', 1, NOW())");
      const report = await migrate(fresh.cfg);
      expect([report.applied, report.created]).toEqual([[], []]);
      expect((await ipms(fresh.url, 'db', 'status')).code).toBe(0);

      await fresh.db.exec("INSERT INTO ipms_migrations (name, batch, migration_time) VALUES ('0099_future', 9, NOW())");
      await expect(migrate(fresh.cfg)).rejects.toThrow(
        /^database '.*' has schema versions this ipms does not know \(0099_future\): a newer version of ipms migrated it; use that version \(nothing was changed\)$/);
      const r = await ipms(fresh.url, 'db', 'migrate');
      expect([r.code, r.err]).toEqual([3, expect.stringMatching(/does not know \(0099_future\)/)]);
      // the version that migrated it keeps working: the finished mark is still there
      expect(await fresh.db.rows('SELECT id FROM ipms_migrated')).toEqual([{ id: 1 }]);
      expect((await ipms(fresh.url, 'rules', 'list')).code).toBe(0);
    } finally {
      await fresh.close();
    }
  });

  it('0016 repairs what earlier versions left: PrefixLength without netmasks, approved honeypot ranges not whitelisted, IPv4-mapped whitelist entries, open rules over ranges no packet comes from', async () => {
    const fresh = await freshDatabase('migrate_repairs');
    const db = fresh.db;
    try {
      // the states those versions left, made by hand on a current database
      await db.exec("INSERT INTO Sensor (name) VALUES ('hp')");
      await db.exec("INSERT INTO SensorNet (sensor_id, cidr) SELECT id, '10.99.1.0/24' FROM Sensor WHERE name = 'hp'");
      await db.exec("DELETE FROM Whitelist WHERE created_by = 'ipms-honeypots'");
      // a range wider than a whitelist entry may be, written in SQL before SensorNet was checked
      await db.exec('DROP TRIGGER SensorNet_before_insert');
      await db.exec('DROP TRIGGER SensorNet_after_insert');
      await db.exec(`INSERT INTO SensorNet (sensor_id, cidr, first_ip, last_ip, prefix)
                     SELECT id, '2000::/12', INET6_ATON('2000::'), INET6_ATON('200f:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 12 FROM Sensor WHERE name = 'hp'`);
      await db.exec('DROP TRIGGER Whitelist_before_insert');
      await db.exec(`INSERT INTO Whitelist (cidr, first_ip, last_ip, prefix)
                     VALUES ('::ffff:203.0.114.0/120', INET6_ATON('::ffff:203.0.114.0'), INET6_ATON('::ffff:203.0.114.255'), 120)`);
      await db.exec(programFiles().find((p) => p.name === 'Whitelist_before_insert')!.text);
      await db.exec('DROP TRIGGER Rule_before_insert');
      for (const a of ['10.99.1.0/24', '0.0.0.9/32', '127.0.0.5/32', '203.0.114.7/32', '198.18.7.7/32']) {
        const [addr, len] = a.split('/');
        await db.exec(`INSERT INTO Rule (src_ip, src_prefix, src_last, origin)
                       VALUES (INET6_ATON(?), ?, INET6_ATON(?), 'manual')`, [addr, Number(len), addr === '10.99.1.0' ? '10.99.1.255' : addr]);
      }
      // (last: the current triggers read the netmasks)
      await db.exec('DROP TABLE PrefixLength');
      await db.exec('CREATE TABLE PrefixLength (n TINYINT UNSIGNED NOT NULL PRIMARY KEY) ENGINE=InnoDB');
      await db.exec(`INSERT INTO PrefixLength (n) VALUES ${Array.from({ length: 129 }, (_, i) => `(${i})`).join(',')}`);
      await db.exec("DELETE FROM ipms_migrations WHERE name = '0016_upgrade_repairs'");

      const report = await migrate(fresh.cfg);
      expect(report.applied).toEqual(['0016_upgrade_repairs']);
      expect(report.created.sort()).toEqual(['Rule_before_insert', 'SensorNet_after_insert', 'SensorNet_before_insert']);

      expect(await db.rows('SELECT n, mask4, CAST(mask_hi AS CHAR) AS hi, CAST(mask_lo AS CHAR) AS lo FROM PrefixLength WHERE n IN (0, 8, 24, 32, 64, 65, 127, 128) ORDER BY n')).toEqual([
        { n: 0, mask4: 0, hi: '0', lo: '0' },
        { n: 8, mask4: 4278190080, hi: '18374686479671623680', lo: '0' },
        { n: 24, mask4: 4294967040, hi: '18446742974197923840', lo: '0' },
        { n: 32, mask4: 4294967295, hi: '18446744069414584320', lo: '0' },
        { n: 64, mask4: 4294967295, hi: '18446744073709551615', lo: '0' },
        { n: 65, mask4: 4294967295, hi: '18446744073709551615', lo: '9223372036854775808' },
        { n: 127, mask4: 4294967295, hi: '18446744073709551615', lo: '18446744073709551614' },
        { n: 128, mask4: 4294967295, hi: '18446744073709551615', lo: '18446744073709551615' },
      ]);
      const rules = await db.rows<{ src: string; status: string; reason: string | null }>(
        'SELECT CONCAT(INET6_NTOA(src_ip), \'/\', src_prefix) AS src, status, reason FROM Rule ORDER BY id');
      expect(rules).toEqual([
        { src: '10.99.1.0/24', status: 'dropped', reason: ' [dropped: whitelisted 10.99.1.0/24]' },
        { src: '0.0.0.9/32', status: 'dropped', reason: ' [dropped: no packet comes from this range]' },
        { src: '127.0.0.5/32', status: 'dropped', reason: ' [dropped: no packet comes from this range]' },
        { src: '203.0.114.7/32', status: 'dropped', reason: ' [dropped: whitelisted 203.0.114.0/24]' },
        { src: '198.18.7.7/32', status: 'pending', reason: null },
      ]);
      expect(await db.rows("SELECT cidr FROM Whitelist WHERE cidr = '2000::/12'")).toEqual([]);
      expect(await db.rows("SELECT cidr, created_by FROM Whitelist WHERE cidr IN ('10.99.1.0/24', '203.0.114.0/24') ORDER BY cidr"))
        .toEqual([{ cidr: '10.99.1.0/24', created_by: 'ipms-honeypots' }, { cidr: '203.0.114.0/24', created_by: null }]);
      // and the triggers work with the new PrefixLength: 50 hits in a second make a rule
      const hits = Array.from({ length: 50 }, () => "(1, '2026-01-01 10:00:00.250', 'tcp', INET6_ATON('198.51.100.77'), 40000, INET6_ATON('192.168.2.1'), 22)");
      await db.exec(`INSERT INTO SensorLog (sensor_id, ts, proto, src_ip, src_port, dst_ip, dst_port) VALUES ${hits.join(',')}`);
      expect(await db.rows("SELECT origin FROM Rule WHERE src_ip = INET6_ATON('198.51.100.77')")).toEqual([{ origin: 'threshold' }]);
      expect((await migrate(fresh.cfg)).applied).toEqual([]);
    } finally {
      await fresh.close();
    }
  });

  it('0018, 0020 and 0021 put right what earlier versions left: mapped management addresses, feed rules over the shared range, port rules on source-only devices', async () => {
    const fresh = await freshDatabase('migrate_0018');
    const db = fresh.db;
    try {
      // the states those versions left, made by hand on a current database
      await db.exec('DROP TRIGGER Sensor_before_insert');
      await db.exec('DROP TRIGGER Device_before_insert');
      await db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('192.0.2.0'), 24, 'manual')");
      await db.exec("INSERT INTO Sensor (name, address) VALUES ('mapped', INET6_ATON('::ffff:192.0.2.10'))");
      await db.exec(`INSERT INTO Device (name, host, adapter, transport, applies_to) VALUES
        ('fw-m', '::ffff:198.18.0.1', 'nftables', 'dry-run', 'external'), ('core', 'core.example.net', 'nftables', 'dry-run', 'internal'),
        ('ips', 'ips.example.net', 'ipset', 'dry-run', 'any')`);
      await db.exec("DELETE FROM Network WHERE cidr = '100.64.0.0/10'");
      await db.exec("INSERT INTO Blacklist (cidr, source) VALUES ('100.64.0.0/10', 'firehol_level1')");
      await db.exec("INSERT INTO Rule (src_ip, proto, dst_port, origin) VALUES (INET6_ATON('203.0.113.41'), 'tcp', 22, 'manual')");
      const [port] = await db.rows<{ id: number }>("SELECT id FROM Rule WHERE src_ip = INET6_ATON('203.0.113.41')");
      await db.exec("UPDATE RuleDevice SET state = 'applied', applied_at = UTC_TIMESTAMP(3) WHERE rule_id = ?", [port!.id]);
      // (an earlier version gave the ipset device its row, which failed there for good)
      await db.exec("INSERT INTO RuleDevice (rule_id, device_id, state, attempts, last_error) SELECT ?, id, 'failed', 3, 'ipset matches source addresses only' FROM Device WHERE name = 'ips'", [port!.id]);
      await db.exec("UPDATE Rule SET status = 'pending' WHERE id = ?", [port!.id]);
      expect(await db.rows('SELECT status FROM Rule WHERE id = ?', [port!.id])).toEqual([{ status: 'pending' }]);
      for (const m of ['0018_canonical_addresses', '0020_shared_address_space', '0021_source_only_devices']) {
        await db.exec('DELETE FROM ipms_migrations WHERE name = ?', [m]);
      }
      const report = await migrate(fresh.cfg);
      expect(report.applied).toEqual(['0018_canonical_addresses', '0020_shared_address_space', '0021_source_only_devices']);
      expect(report.created.sort()).toEqual(['Device_before_insert', 'Sensor_before_insert']);
      // 0018: the IPv4 forms, and the rule over the sensor dropped
      expect(await db.rows("SELECT INET6_NTOA(address) AS a FROM Sensor WHERE name = 'mapped'")).toEqual([{ a: '192.0.2.10' }]);
      expect(await db.rows("SELECT host FROM Device WHERE name = 'fw-m'")).toEqual([{ host: '198.18.0.1' }]);
      expect(await db.rows("SELECT status FROM Rule WHERE src_ip = INET6_ATON('192.0.2.0')")).toEqual([{ status: 'dropped' }]);
      // 0020: the feed entry over the shared range is gone with its rule; the range is inside
      expect(await db.rows("SELECT cidr FROM Blacklist WHERE cidr = '100.64.0.0/10'")).toEqual([]);
      expect(await db.rows("SELECT status FROM Rule WHERE src_ip = INET6_ATON('100.64.0.0')")).toEqual([{ status: 'dropped' }]);
      expect(await db.rows("SELECT cidr FROM Network WHERE cidr = '100.64.0.0/10'")).toEqual([{ cidr: '100.64.0.0/10' }]);
      // 0021: the ipset device's row is gone, and the rule active on the devices that hold it
      expect((await db.rows<{ name: string }>('SELECT d.name FROM RuleDevice rd JOIN Device d ON d.id = rd.device_id WHERE rd.rule_id = ? ORDER BY d.name', [port!.id])).map((r) => r.name))
        .toEqual(['fw-m']);
      expect(await db.rows('SELECT status FROM Rule WHERE id = ?', [port!.id])).toEqual([{ status: 'active' }]);
    } finally {
      await fresh.close();
    }
  });

  it('0024 never blocks link-local sources, and drops the open rules over them that earlier versions made', async () => {
    const fresh = await freshDatabase('migrate_0024');
    const db = fresh.db;
    try {
      await db.exec("DELETE FROM NoSourceRange WHERE cidr IN ('169.254.0.0/16', 'fe80::/10')");
      await db.exec(`INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('fe80::1'), 128, 'threshold'),
        (INET6_ATON('169.254.169.254'), 32, 'manual'), (INET6_ATON('169.0.0.0'), 8, 'manual'), (INET6_ATON('2001:db8::'), 32, 'manual')`);
      await db.exec("DELETE FROM ipms_migrations WHERE name = '0024_link_local'");
      const report = await migrate(fresh.cfg);
      expect(report.applied).toEqual(['0024_link_local']);
      // each rule it closed is named, with why (the admin may want the rest of a network back)
      const ids = (await db.rows<{ id: number }>('SELECT id FROM Rule ORDER BY id')).map((r) => r.id);
      expect(report.notes).toEqual([
        `rule ${ids[0]} (fe80::1/128) is dropped now: link-local addresses are never blocked; it comes off the devices`,
        `rule ${ids[1]} (169.254.169.254/32) is dropped now: link-local addresses are never blocked; it comes off the devices`,
        `rule ${ids[2]} (169.0.0.0/8) is dropped now: link-local addresses are never blocked; it comes off the devices`]);
      // many of one kind: their number and the first ones
      await db.exec("DELETE FROM NoSourceRange WHERE cidr = '169.254.0.0/16'");
      for (let i = 1; i <= 11; i++) await db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON(?), 'manual')", [`169.254.7.${i}`]);
      await db.exec("DELETE FROM ipms_migrations WHERE name = '0024_link_local'");
      const many = (await migrate(fresh.cfg)).notes;
      expect(many).toHaveLength(1);
      expect(many[0]).toMatch(/^11 rules are dropped now: link-local addresses are never blocked; they come off the devices \(the first: \d+ 169\.254\.7\.1\/32, (\d+ 169\.254\.7\.\d+\/32, ){9}\.\.\.\)$/);
      const cli = await ipms(fresh.url, 'db', 'migrate');
      expect([cli.code, cli.out]).toEqual([0, expect.stringMatching(/^schema: up to date; triggers and procedures: 0 installed, \d+ unchanged$/)]);
      expect(await db.rows("SELECT src, status FROM RuleView WHERE src NOT LIKE '169.254.7.%' ORDER BY id")).toEqual([
        { src: 'fe80::1', status: 'dropped' }, { src: '169.254.169.254', status: 'dropped' },
        // (a network around them too: it would block them)
        { src: '169.0.0.0/8', status: 'dropped' }, { src: '2001:db8::/32', status: 'pending' }]);
      await expect(db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('fe80::99'), 'manual')")).rejects.toThrow(/protected by link-local/);
    } finally {
      await fresh.close();
    }
  });

  it('0025 drops the open IPv6 rules for ah, which devices applied and which blocked nothing', async () => {
    const fresh = await freshDatabase('migrate_0025');
    const db = fresh.db;
    try {
      // (the Rule triggers of the version before took them)
      await db.exec('DROP TRIGGER Rule_before_insert');
      await db.exec(`INSERT INTO Rule (src_ip, src_prefix, src_last, proto, origin, scope) VALUES
        (INET6_ATON('2001:db8:5::1'), 128, INET6_ATON('2001:db8:5::1'), 'ah', 'manual', 'external'),
        (INET6_ATON('198.51.100.5'), 32, INET6_ATON('198.51.100.5'), 'ah', 'manual', 'external'),
        (INET6_ATON('2001:db8:5::2'), 128, INET6_ATON('2001:db8:5::2'), 'esp', 'manual', 'external')`);
      await db.exec("DELETE FROM ipms_migrations WHERE name = '0025_ipv6_ah'");
      const report = await migrate(fresh.cfg);
      expect([report.applied, report.created]).toEqual([['0025_ipv6_ah'], ['Rule_before_insert']]);
      expect(await db.rows('SELECT src, proto, status FROM RuleView ORDER BY id')).toEqual([
        { src: '2001:db8:5::1', proto: 'ah', status: 'dropped' }, { src: '198.51.100.5', proto: 'ah', status: 'pending' },
        { src: '2001:db8:5::2', proto: 'esp', status: 'pending' }]);
    } finally {
      await fresh.close();
    }
  });

  it('0023 reads the ipv6 option of existing devices and takes away the IPv6 rows that failed on those without IPv6', async () => {
    const fresh = await freshDatabase('migrate_0023');
    const db = fresh.db;
    try {
      // a database as the version before left it: no Device.ipv6, and triggers that gave
      // every device every rule (made here by dropping the triggers that read the column)
      const readers = ['Device_before_insert', 'Device_before_update', 'Device_after_insert', 'Device_after_update', 'Rule_after_insert', 'Rule_before_update'];
      for (const tr of readers) await db.exec(`DROP TRIGGER ${tr}`);
      await db.exec('ALTER TABLE Device DROP COLUMN ipv6');
      await db.exec(`INSERT INTO Device (name, host, adapter, transport, options) VALUES
        ('fw', 'fw.example.net', 'nftables', 'dry-run', NULL), ('v4only', 'v4.example.net', 'iptables', 'dry-run', '{"ipv6":false}'),
        ('odd', 'odd.example.net', 'ipset', 'dry-run', '{not json')`);
      await db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('2001:db8:1::1'), 'manual'), (INET6_ATON('2001:db8:1::2'), 'manual'), (INET6_ATON('203.0.113.5'), 'manual')");
      const ids = (await db.rows<{ id: number }>('SELECT id FROM Rule ORDER BY id')).map((r) => r.id);
      // every device got every rule; the IPv6 ones failed on v4only for good, except one that
      // an earlier setting (ipv6 on) had put there
      await db.exec(`INSERT INTO RuleDevice (rule_id, device_id, state, applied_at, attempts, last_error)
        SELECT r.id, d.id, IF(d.name = 'v4only' AND r.id = ?, 'failed', 'applied'), IF(d.name = 'v4only' AND r.id = ?, NULL, UTC_TIMESTAMP(3)),
               IF(d.name = 'v4only' AND r.id = ?, 7, 0), IF(d.name = 'v4only' AND r.id = ?, 'IPv6 is turned off for this device (option ipv6)', NULL)
        FROM Rule r CROSS JOIN Device d`, [ids[0], ids[0], ids[0], ids[0]]);
      expect(await db.rows('SELECT status FROM Rule ORDER BY id')).toEqual([{ status: 'pending' }, { status: 'pending' }, { status: 'pending' }]);
      await db.exec("DELETE FROM ipms_migrations WHERE name = '0023_device_ipv6'");
      const report = await migrate(fresh.cfg);
      expect(report.applied).toEqual(['0023_device_ipv6']);
      expect(report.created.sort()).toEqual(readers.sort());
      expect(await db.rows('SELECT name, ipv6 FROM Device ORDER BY name')).toEqual([{ name: 'fw', ipv6: 1 }, { name: 'odd', ipv6: 1 }, { name: 'v4only', ipv6: 0 }]);
      const held = async (id: number) => (await db.rows<{ name: string }>('SELECT d.name FROM RuleDevice rd JOIN Device d ON d.id = rd.device_id WHERE rd.rule_id = ? ORDER BY d.name', [id])).map((r) => r.name);
      // the failed row is gone and its rule active; the row of an entry that is there stays
      expect(await held(ids[0]!)).toEqual(['fw', 'odd']);
      expect(await held(ids[1]!)).toEqual(['fw', 'odd', 'v4only']);
      // the one it holds is no longer wanted there (an iptables device refused every batch for
      // it), and the admin is told its entry stays
      expect(await db.rows("SELECT rd.desired, rd.state FROM RuleDevice rd JOIN Device d ON d.id = rd.device_id WHERE d.name = 'v4only' AND rd.rule_id = ?", [ids[1]]))
        .toEqual([{ desired: 'absent', state: 'pending' }]);
      expect(report.notes).toEqual(['device v4only: its option ipv6 is false: the 1 IPv6 rule(s) ipms put there stay on the device (ipms no longer touches IPv6 on it); take them off by hand, or turn ipv6 on again']);
      expect(await held(ids[2]!)).toEqual(['fw', 'odd', 'v4only']);
      expect(await db.rows('SELECT status FROM Rule ORDER BY id')).toEqual([{ status: 'active' }, { status: 'active' }, { status: 'active' }]);
    } finally {
      await fresh.close();
    }
  });
});
