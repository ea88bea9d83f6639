/**
 * The least-privilege `ipms_sensor` account, with exactly the grants `ipms db grants` prints:
 * it registers its sensor, records its honeyd.conf, inserts its logs (the triggers still make
 * rules: they run with their definer's rights), keeps its checkpoints, and can do nothing
 * else: no reading SensorLog or Data, no changing or deleting anything.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../lib/config.ts';
import { openDb } from '../../lib/db.ts';
import { ipms } from '../helpers/cli.ts';
import { freshDatabase, roleAccount, type TestDb } from '../helpers/db.ts';
import { ingestJson, runCli } from './helpers/cli.ts';

const CONTACT = fileURLToPath(new URL('../fixtures/ingest/contact/', import.meta.url));
const USER = 'ipms_t_sensor';
const PW = 'sensor-test-pw';
let t: TestDb;
let sensorUrl: string;

beforeAll(async () => {
  t = await freshDatabase('ingest_account');
  sensorUrl = await roleAccount(t, 'ipms_sensor', USER, PW);
});

afterAll(async () => t?.close());

describe('the ipms_sensor account', () => {
  it('`ipms db grants` prints its grants', async () => {
    const r = await runCli(['--database-url', t.url, 'db', 'grants']);
    expect(r.code).toBe(0);
    for (const g of [
      'GRANT SELECT (id, name), INSERT (name) ON `DB`.`Sensor`', 'GRANT INSERT ON `DB`.`SensorLog`', 'GRANT INSERT ON `DB`.`Data`',
      'GRANT SELECT (id, sensor_id, name), INSERT ON `DB`.`Profile`', 'GRANT INSERT ON `DB`.`ProfilePort`', 'GRANT SELECT (sensor_id, approved), INSERT (sensor_id, address, profile_id) ON `DB`.`VirtHost`',
      'GRANT SELECT, INSERT, UPDATE ON `DB`.`IngestCheckpoint`',
    ]) {
      expect(r.out).toContain(`${g.replace('DB', t.cfg.database)} TO 'ipms_sensor'@'%';`);
    }
    // before any database exists (nothing is contacted): the README's name, ipms
    const none = await ipms(undefined, 'db', 'grants', '--host', '10.0.0.%');
    expect(none.code, none.err).toBe(0);
    expect(none.out).toContain("GRANT INSERT ON `ipms`.`SensorLog` TO 'ipms_sensor'@'10.0.0.%';");
    // one account per sensor, with the same grants: dropped alone when that host is not trusted
    const own = await runCli(['--database-url', t.url, 'db', 'grants', '--sensor', 'dmz-1', '--host', '192.0.2.44']);
    expect(own.code).toBe(0);
    expect(own.out).toContain("CREATE USER IF NOT EXISTS 'ipms_sensor_dmz-1'@'192.0.2.44' IDENTIFIED BY 'CHANGE-ME';");
    expect(own.out).toContain(`GRANT INSERT ON \`${t.cfg.database}\`.\`SensorLog\` TO 'ipms_sensor_dmz-1'@'192.0.2.44';`);
    expect(own.out).not.toContain('ipms_admin');
    expect(own.out.match(/^GRANT /gm)).toHaveLength(r.out.split('\n').filter((l) => l.startsWith('GRANT ') && l.includes("TO 'ipms_sensor'@")).length);
    // one account alone, by name
    const mig = await ipms(undefined, 'db', 'grants', '--role', 'ipms_migrator');
    expect(mig.out.split('\n')[0]).toBe('-- Run as a privileged account (first CREATE DATABASE `ipms`;); replace CHANGE-ME with a real password.');
    expect(mig.out.match(/^GRANT /gm)).toHaveLength(1);
    expect(mig.out).not.toContain('ipms_worker');
    expect((await ipms(undefined, 'db', 'grants', '--role', 'root')).err).toMatch(/^ipms: --role: no account 'root' \(ipms_migrator, ipms_sensor, ipms_worker, ipms_admin\)$/);
    // a name too long for MySQL's 32 characters: its first 11 and 8 hex digits of its SHA-1
    const long = await runCli(['--database-url', t.url, 'db', 'grants', '--sensor', 'a-very-long-sensor-name-x']);
    const hash = createHash('sha1').update('a-very-long-sensor-name-x').digest('hex').slice(0, 8);
    expect([long.code, long.err]).toEqual([0, '']);
    expect(long.out).toContain(`CREATE USER IF NOT EXISTS 'ipms_sensor_a-very-long_${hash}'@'%'`);
  });

  it('is enough to ingest everything, again, and with its honeyd.conf', async () => {
    const st = mkdtempSync(join(tmpdir(), 'ipms-account-'));
    const args = ['--sensor', 'least', '--tz', 'UTC', '--honeyd-config', `${CONTACT}honeyd.conf`, '--state-dir', st];
    const files = [`${CONTACT}honeyd.log`, `${CONTACT}service.log`, `${CONTACT}mydoom.log`, `${CONTACT}honeyd-stderr.txt`];
    const first = await runCli(['--database-url', sensorUrl, 'ingest', '--json', ...args, ...files]);
    expect(first.code).toBe(0);
    const a = JSON.parse(first.out) as { counts: Record<string, number> };
    expect(a.counts.inserted).toBeGreaterThan(30);
    expect(a.counts.rejected).toBe(0);
    // its honeypots are registered, not approved: it says so, and they protect nothing yet
    expect(first.err).toMatch(/2 honeypot address\(es\) of sensor least wait for an admin's approval .*ipms sensors approve least CIDR/);
    const b = await ingestJson(sensorUrl, [...args, '--from-start', ...files]);
    expect(b.counts).toMatchObject({ inserted: 0, already_present: a.counts.inserted });
    const hp = await t.db.rows<{ address: string; approved: number }>("SELECT address, approved FROM VirtHostView WHERE sensor = 'least' ORDER BY address");
    expect(hp.map((h) => h.approved)).toEqual([0, 0]);
    // an admin approves their range: then they are protected, and the ingest is quiet about it
    expect(hp.map((h) => h.address)).toEqual(['10.99.1.10', '10.99.1.11']);
    const ok = await runCli(['--database-url', t.url, 'sensors', 'approve', 'least', '10.99.1.0/24', '--json']);
    expect(ok.err).toBe('');
    expect(JSON.parse(ok.out)).toEqual({ approved: ['10.99.1.0/24'], already: [], honeypots: 2 });
    // (a run for a sensor and templates already there takes no sensor or profile id: ids do
    // not jump at every run)
    const probe = async (n: string) => (await t.db.exec('INSERT INTO Sensor (name) VALUES (?)', [n])).insertId;
    const profile = async (n: string) => (await t.db.exec('INSERT INTO Profile (sensor_id, name) VALUES (?, ?)', [before, n])).insertId;
    const before = await probe('probe-a');
    const p1 = await profile('probe-p1');
    const again = await runCli(['--database-url', sensorUrl, 'ingest', '--json', ...args, ...files]);
    expect(again.code).toBe(0);
    expect(again.err).not.toMatch(/approval/);
    expect([await probe('probe-b'), await profile('probe-p2')]).toEqual([before + 1, p1 + 1]);
    await t.db.exec("DELETE FROM Sensor WHERE name IN ('probe-a', 'probe-b')");
    const shown = await runCli(['--database-url', t.url, 'sensors', 'show', 'least', '--json']);
    expect(JSON.parse(shown.out)).toMatchObject({ honeypots: 2, honeypots_unapproved: 0, honeypot_nets: ['10.99.1.0/24'] });
  });

  it("as a sensor's own account (ipms_sensor_NAME), keeps that sensor's checkpoints only", async () => {
    const ownUrl = await roleAccount(t, 'ipms_sensor', 'ipms_sensor_own1', 'own1-pw');
    const st = mkdtempSync(join(tmpdir(), 'ipms-own-'));
    const mine = await runCli(['--database-url', ownUrl, 'ingest', '--json', '--sensor', 'own1', '--tz', 'UTC', '--state-dir', st, `${CONTACT}honeyd.log`]);
    expect(mine.code, mine.err).toBe(0);
    // another sensor's ingest (or checkpoint) is refused to it
    await t.db.exec("INSERT IGNORE INTO Sensor (name) VALUES ('other1')");
    const theirs = await runCli(['--database-url', ownUrl, 'ingest', '--sensor', 'other1', '--tz', 'UTC', '--state-dir', st, `${CONTACT}honeyd.log`]);
    expect(theirs.code).not.toBe(0);
    expect(theirs.err).toMatch(/account ipms_sensor_own1 writes for its own sensor only/);
    const own = openDb(parseDatabaseUrl(ownUrl), { poolSize: 1 });
    try {
      const [ids] = await t.db.rows<{ other: number }>("SELECT id AS other FROM Sensor WHERE name = 'other1'");
      const [me] = await t.db.rows<{ id: number }>("SELECT id FROM Sensor WHERE name = 'own1'");
      expect((await own.exec('UPDATE IngestCheckpoint SET path = path WHERE sensor_id = ?', [me!.id])).affectedRows).toBeGreaterThanOrEqual(0);
      await t.db.exec("INSERT INTO IngestCheckpoint (sensor_id, file_key, fp, fp_len) VALUES (?, 'k-other', 'f', 1)", [ids!.other]);
      await expect(own.exec('UPDATE IngestCheckpoint SET byte_offset = byte_offset + 20000 WHERE sensor_id = ?', [ids!.other])).rejects.toThrow(/writes for its own sensor only/);
    } finally {
      await own.end();
    }
  });

  it('as the cut and hashed account of a sensor with a long name, ingests for it', async () => {
    const name = 'honeypot-frankfurt-dc2-rack7';
    const user = `ipms_sensor_${name.slice(0, 11)}_${createHash('sha1').update(name).digest('hex').slice(0, 8)}`;
    expect(user.length).toBeLessThanOrEqual(32);
    const url = await roleAccount(t, 'ipms_sensor', user, 'long-pw');
    const st = mkdtempSync(join(tmpdir(), 'ipms-long-'));
    const r = await runCli(['--database-url', url, 'ingest', '--sensor', name, '--tz', 'UTC', '--state-dir', st, `${CONTACT}honeyd.log`]);
    expect(r.code, r.err).toBe(0);
    const other = await runCli(['--database-url', url, 'ingest', '--sensor', 'own1', '--tz', 'UTC', '--state-dir', st, `${CONTACT}honeyd.log`]);
    expect(other.err).toMatch(/writes for its own sensor only/);
  });

  it('can read and change nothing else', async () => {
    const db = openDb(parseDatabaseUrl(sensorUrl), { poolSize: 1 });
    try {
      for (const sql of [
        'SELECT * FROM SensorLog LIMIT 1', 'SELECT * FROM Data LIMIT 1', 'SELECT * FROM Rule LIMIT 1', 'SELECT * FROM SensorLogView LIMIT 1',
        'UPDATE Sensor SET description = 1', 'DELETE FROM SensorLog', 'UPDATE SensorLog SET kind = kind', 'DELETE FROM IngestCheckpoint',
        "INSERT INTO Whitelist (cidr) VALUES ('10.0.0.0/8')", 'UPDATE Threshold SET max_hits = 1',
        // a sensor's management address is never blocked: an admin gives it, not the sensor
        "INSERT INTO Sensor (name, address) VALUES ('mine', INET6_ATON('198.51.100.66'))",
        // nor an approved honeypot: it may not approve ranges, nor read honeypot addresses
        "INSERT INTO SensorNet (sensor_id, cidr) VALUES (1, '0.0.0.0/1')", 'DELETE FROM SensorNet', 'SELECT address FROM VirtHost',
        "INSERT INTO VirtHost (sensor_id, address, approved) VALUES (1, INET6_ATON('198.51.100.67'), 1)", 'UPDATE VirtHost SET approved = 1',
        // nor other sensors' management addresses and descriptions, or their templates' details
        'SELECT address FROM Sensor', 'SELECT description FROM Sensor', 'SELECT * FROM Sensor', 'SELECT personality FROM Profile',
      ]) {
        await expect(db.exec(sql), sql).rejects.toThrow(/denied/i);
      }
    } finally {
      await db.end();
    }
  });
});
