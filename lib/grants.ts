/**
 * Least-privilege MySQL accounts, one per component. `ipms db grants` prints these statements
 * for the DBA to run (with real passwords). Triggers run with their definer's rights (the
 * migrating user), so a sensor that may only INSERT into SensorLog still gets its hits counted
 * and rules created without being able to read or change a rule itself.
 */
import { createHash } from 'node:crypto';

/** The tables the CLI and the console write (and a DBA tunes: Network, Setting, Threshold). */
export const ADMIN_WRITES = [
  'AuditLog', 'Blacklist', 'Data', 'Device', 'IngestCheckpoint', 'Network', 'Profile', 'ProfilePort', 'Rule',
  'RuleDevice', 'Sensor', 'SensorLog', 'SensorNet', 'Setting', 'Threshold', 'VirtHost', 'WebSecret', 'WebSession',
  'WebUser', 'Whitelist',
];

export interface Role {
  user: string;
  purpose: string;
  /** [privileges, table or '*'] */
  grants: [string, string][];
}

export const ROLES: readonly Role[] = [
  {
    user: 'ipms_migrator',
    purpose: 'runs `ipms db migrate`: creates tables, views, procedures and triggers',
    grants: [
      [
        'SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP, INDEX, REFERENCES, CREATE VIEW, SHOW VIEW, ' +
          'TRIGGER, CREATE ROUTINE, ALTER ROUTINE, EXECUTE, LOCK TABLES',
        '*',
      ],
    ],
  },
  {
    user: 'ipms_sensor',
    purpose: 'runs `ipms ingest` on a sensor: registers itself and inserts its logs, nothing else',
    // It cannot read SensorLog or Data: links between rows are made by event id (schema 0003).
    // SELECT on Sensor and Profile only to learn the ids of its own sensor and templates;
    // UPDATE only on its checkpoints (written in the transaction of each batch).
    grants: [
      // (its name only: a management address is never blocked, and an admin gives it; it reads
      // sensors' ids and names only, not their management addresses or descriptions)
      ['SELECT (id, name), INSERT (name)', 'Sensor'],
      ['INSERT', 'SensorLog'],
      ['INSERT', 'Data'],
      ['SELECT (id, sensor_id, name), INSERT', 'Profile'],
      ['INSERT', 'ProfilePort'],
      // (its honeypots protect their addresses only inside ranges an admin approved: SensorNet,
      // which it cannot write; `approved` is derived by the triggers. It may count its honeypots
      // that wait for approval, never read their addresses, its own or other sensors')
      ['SELECT (sensor_id, approved), INSERT (sensor_id, address, profile_id)', 'VirtHost'],
      ['SELECT, INSERT, UPDATE', 'IngestCheckpoint'],
      // "the last migration finished" (see assertMigrated)
      ['SELECT', 'ipms_migrated'],
    ],
  },
  {
    user: 'ipms_worker',
    purpose: 'runs `ipms worker` / `ipms apply --once`: reads rules and devices, records outcomes',
    grants: [
      ['SELECT', 'Rule'],
      // (reason: a rule superseded by a wider one says so; see supersedeNarrower)
      ['UPDATE (status, reason)', 'Rule'],
      ['SELECT', 'Device'],
      // (looked_at: when it last read the device's uptime; see schema 0017)
      ['UPDATE (last_ok_at, last_error, claimed_by, claimed_until, looked_at)', 'Device'],
      // (what a batch records: never which rule or device a row is for, nor what it should be;
      // old_action: an entry under a rule's old action is off the device, see schema 0019)
      ['SELECT, UPDATE (state, attempts, last_error, next_attempt_at, applied_at, removed_at, claimed_by, claimed_until, updated_at, old_action)', 'RuleDevice'],
      ['SELECT', 'Whitelist'],
      // (its own address as a device sees it, whitelisted: see rememberPeers in worker/apply.ts)
      ['INSERT (cidr, comment, created_by)', 'Whitelist'],
      ['SELECT', 'Sensor'],
      ['SELECT', 'VirtHost'],
      ['SELECT', 'ProtectedRange'],
      ['SELECT', 'Setting'],
      ['SELECT', 'ipms_migrated'],
    ],
  },
  {
    user: 'ipms_admin',
    purpose: 'the `ipms` CLI and web console of administrators',
    // (EXECUTE: the routines are listed only to accounts that may run them, and `db status`
    // checks that each is there; running one gives nothing its table rights do not.) It writes
    // the tables it manages, not what the migrations keep (their marks, the fixed
    // NoSourceRange and PrefixLength lists) nor what the triggers derive (WhitelistPrefix,
    // ThresholdCounter): with those, deleting 127.0.0.0/8 from NoSourceRange let a rule for
    // loopback through.
    grants: [
      ['SELECT, SHOW VIEW, EXECUTE', '*'],
      ...ADMIN_WRITES.map((t): [string, string] => ['INSERT, UPDATE, DELETE', t]),
    ],
  },
];

/**
 * The sensor account for one sensor, `ipms_sensor_NAME`, with the grants of ipms_sensor: its own
 * password on that host only, dropped alone when that sensor is no longer trusted. (The grants
 * cannot tie it to its sensor's rows: a sensor account may write rows for any sensor id.)
 */
export function sensorRole(sensor: string): Role {
  const base = ROLES.find((r) => r.user === 'ipms_sensor')!;
  return { ...base, user: sensorAccount(sensor), purpose: `runs \`ipms ingest --sensor ${sensor}\` on that sensor only` };
}

/**
 * A sensor's own account: ipms_sensor_NAME, within the 32 characters MySQL allows in a user
 * name; a name of 20 characters or more keeps its first 11 and 8 hex digits of its SHA-1
 * (`ipms_sensor_honeypot-fr_1a2b3c4d`: always 32 characters, so never the account of a shorter
 * name, at most 31). triggers/ipms_sensor_account.sql makes the same name.
 */
export function sensorAccount(sensor: string): string {
  if (sensor.length < 20) return `ipms_sensor_${sensor}`;
  return `ipms_sensor_${sensor.slice(0, 11)}_${createHash('sha1').update(sensor, 'utf8').digest('hex').slice(0, 8)}`;
}

/** An SQL identifier, quoted. */
export function quoteIdent(s: string): string {
  return `\`${s.replace(/`/g, '``')}\``;
}

function quoteString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** The SQL for every role, for database `database` and client host `host` ('%' = anywhere). */
export function grantStatements(database: string, host = '%', roles: readonly Role[] = ROLES): string[] {
  const out: string[] = [];
  for (const role of roles) {
    const account = `${quoteString(role.user)}@${quoteString(host)}`;
    out.push(`-- ${role.user}: ${role.purpose}`);
    out.push(`CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY 'CHANGE-ME';`);
    for (const [privs, table] of role.grants) {
      const target = `${quoteIdent(database)}.${table === '*' ? '*' : quoteIdent(table)}`;
      out.push(`GRANT ${privs} ON ${target} TO ${account};`);
    }
  }
  return out;
}
