/**
 * End to end, for real: hits in SensorLog cross the default threshold, the trigger writes the
 * rule, the worker applies it over SSH (real sshd, pinned host key) to real nftables inside a
 * network namespace, and a real TCP connection from the attacker's namespace is then dropped.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../helpers/lab.ts';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { ipms } from '../helpers/cli.ts';
import { burst, insertHits, nowTs } from '../helpers/hits.ts';
import { Worker } from '../../worker/worker.ts';
import { adapterFor } from '../../worker/adapters.ts';
import { transportFor } from '../../worker/target.ts';
import { sshTransport } from '../../worker/transports/ssh.ts';
import type { DeviceRow } from '../../lib/types.ts';

let lab: Lab;
let t: TestDb;

beforeAll(async () => {
  lab = await createLab();
  t = await freshDatabase('e2e_worker');
  await t.db.exec("INSERT INTO Sensor (name) VALUES ('s1')");
  const add = await ipms(t.url, 'devices', 'add', 'fw', '--adapter', 'nftables', ...lab.sshArgs(), '--applies-to', 'any');
  expect(add.code, add.err).toBe(0);
}, 60_000);

afterAll(async () => {
  await t?.close();
  lab?.close();
});

async function ruleOf(src: string) {
  const [r] = (await ipms(t.url, 'rules', 'list', '--src', src, '--json')).json<{ id: number; status: string; devices: { device: string; state: string; last_error: string | null }[] }[]>();
  return r;
}

describe('hits to a dropped packet and back', () => {
  it('tests the device: host key checked, nft present', async () => {
    const r = await ipms(t.url, 'devices', 'test', 'fw');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^device fw: connected \(host key SHA256:.{43}\); nftables v\d.*\ndevice fw: allowed to change the firewall \(nft list tables\)$/);
  });

  it('blocks the attacker after the threshold, and lets it in again when the rule is dropped', async () => {
    expect(lab.attackerCanConnect()).toBe(true);
    await insertHits(t.db, burst(50, { ts: nowTs(), src: lab.attacker, dst: lab.target, dstPort: 8080 }));
    const pending = await ruleOf(lab.attacker);
    expect(pending).toMatchObject({ status: 'pending', devices: [{ device: 'fw', state: 'pending' }] });

    const apply = await ipms(t.url, 'apply', '--once');
    expect(apply.code, apply.out + apply.err).toBe(0);
    expect(apply.out).toMatch(/fw: 1 applied, 0 removed, 0 failed/);
    expect(await ruleOf(lab.attacker)).toMatchObject({ status: 'active', devices: [{ device: 'fw', state: 'applied' }] });
    expect(lab.dev.ok(['nft', 'list', 'table', 'inet', 'ipms'])).toContain(lab.attacker);
    expect(lab.attackerCanConnect()).toBe(false);
    // the worker's own address as the device sees it is whitelisted from its first connection:
    // spoofed hits "from" it cannot cut it off the device
    const worker = lab.mgmt.replace(/\.\d+$/, '.1');
    expect(await t.db.rows('SELECT cidr, comment, created_by FROM Whitelist')).toEqual([
      { cidr: `${worker}/32`, comment: 'the ipms worker, as device fw sees it (added by the worker)', created_by: 'ipms-worker' },
    ]);
    await insertHits(t.db, burst(50, { ts: nowTs(), src: worker, dst: lab.target, dstPort: 22 }));
    expect(await ruleOf(worker)).toBeUndefined();

    // drift: someone deletes the element by hand; reconcile sees it and puts it back
    const listing = lab.dev.ok(['nft', 'list', 'table', 'inet', 'ipms']);
    const set = [...listing.matchAll(/set (\w+) \{[^}]*?elements = \{([^}]*)\}/g)].find((m) => m[2]!.includes(lab.attacker))?.[1];
    expect(set).toBeDefined();
    lab.dev.ok(['nft', 'delete', 'element', 'inet', 'ipms', set!, `{ ${lab.attacker} }`]);
    expect(lab.attackerCanConnect()).toBe(true);
    const dry = await ipms(t.url, 'devices', 'reconcile', 'fw', '--dry-run', '--json');
    expect(dry.code).toBe(1);
    expect(dry.json<{ missing: string[] }>().missing).toHaveLength(1);
    const fix = await ipms(t.url, 'devices', 'reconcile', 'fw');
    expect(fix.code, fix.err).toBe(0);
    expect(lab.attackerCanConnect()).toBe(false);
    // a range over the attacker's address: nftables merges the two into one interval, which is
    // what it should hold, not drift
    const net = lab.attacker.replace(/\.\d+$/, '.0/24');
    const wide = (await ipms(t.url, 'rules', 'add', net, '--device', 'fw', '--json')).json<{ id: number }>();
    expect((await ipms(t.url, 'apply', '--once')).code).toBe(0);
    const same = await ipms(t.url, 'devices', 'reconcile', 'fw', '--dry-run', '--json');
    expect([same.code, same.json<{ missing: string[]; unexpected: string[] }>()]).toMatchObject([0, { missing: [], unexpected: [] }]);
    // drift that a delta cannot take: the range set emptied by hand, then the narrower of two
    // nested ranges dropped. The delta (delete what was applied, add what stays), sent with the
    // new connection's setup as one transaction, fails whole; the worker sends the setup alone,
    // then the full render: the /24 is back
    const half = lab.attacker.replace(/\.\d+$/, '.0/25');
    const narrow = (await ipms(t.url, 'rules', 'add', half, '--device', 'fw', '--json')).json<{ id: number }>();
    expect((await ipms(t.url, 'apply', '--once')).code).toBe(0);
    const netSet = [...lab.dev.ok(['nft', 'list', 'table', 'inet', 'ipms']).matchAll(/set (\w+) \{[^}]*?elements = \{([^}]*)\}/g)]
      .find((m) => m[2]!.includes(half))?.[1];
    expect(netSet).toBeDefined();
    lab.dev.ok(['nft', 'flush', 'set', 'inet', 'ipms', netSet!]);
    expect((await ipms(t.url, 'rules', 'drop', String(narrow.id))).code).toBe(0);
    const repair = await ipms(t.url, 'apply', '--once');
    expect(repair.code, repair.out + repair.err).toBe(0);
    expect(lab.dev.ok(['nft', 'list', 'set', 'inet', 'ipms', netSet!])).toContain(net);
    await t.db.exec('DELETE FROM Rule WHERE id = ?', [narrow.id]);
    expect((await ipms(t.url, 'rules', 'drop', String(wide.id))).code).toBe(0);
    expect((await ipms(t.url, 'apply', '--once')).code).toBe(0);
    expect(lab.attackerCanConnect()).toBe(false);
    await t.db.exec('DELETE FROM Rule WHERE id = ?', [wide.id]);

    const drop = await ipms(t.url, 'rules', 'drop', String(pending!.id));
    expect(drop.code).toBe(0);
    const off = await ipms(t.url, 'apply', '--once');
    expect(off.out).toMatch(/fw: 0 applied, 1 removed, 0 failed/);
    expect(await ruleOf(lab.attacker)).toMatchObject({ status: 'dropped', devices: [{ device: 'fw', state: 'removed' }] });
    expect(lab.attackerCanConnect()).toBe(true);
  });

  it('moves an entry to the new action\'s set when a rule\'s action changes, and a whitelist then takes it off for good', async () => {
    const setsHolding = (addr: string) => [...lab.dev.ok(['nft', 'list', 'table', 'inet', 'ipms']).matchAll(/set (\w+) \{[^}]*?elements = \{([^}]*)\}/g)]
      .filter((m) => m[2]!.split(/[\s,]+/).includes(addr)).map((m) => m[1]);
    const rule = (await ipms(t.url, 'rules', 'add', lab.attacker, '--device', 'fw', '--json')).json<{ id: number }>();
    expect((await ipms(t.url, 'apply', '--once')).code).toBe(0);
    expect(setsHolding(lab.attacker)).toEqual(['drop4']);
    expect(lab.attackerCanConnect()).toBe(false);
    const edit = await ipms(t.url, 'rules', 'edit', String(rule.id), '--action', 'REJECT');
    expect(edit.code, edit.err).toBe(0);
    const moved = await ipms(t.url, 'apply', '--once');
    expect(moved.code, moved.out + moved.err).toBe(0);
    // in the reject set only (the drop sets come first: left there, it would still be dropped)
    expect(setsHolding(lab.attacker)).toEqual(['reject4']);
    expect(lab.attackerCanConnect()).toBe(false);
    expect(await t.db.rows('SELECT old_action FROM RuleDevice WHERE rule_id = ?', [rule.id])).toEqual([{ old_action: null }]);
    // changed back and whitelisted before the worker runs again: nothing of it stays
    expect((await ipms(t.url, 'rules', 'edit', String(rule.id), '--action', 'DROP')).code).toBe(0);
    expect((await ipms(t.url, 'whitelist', 'add', lab.attacker)).code).toBe(0);
    const off = await ipms(t.url, 'apply', '--once');
    expect(off.code, off.out + off.err).toBe(0);
    expect(setsHolding(lab.attacker)).toEqual([]);
    expect(lab.attackerCanConnect()).toBe(true);
    expect((await ipms(t.url, 'whitelist', 'remove', `${lab.attacker}/32`)).code).toBe(0);
    await t.db.exec('DELETE FROM Rule WHERE id = ?', [rule.id]);
  });

  it('works as a daemon: a new rule is applied within the poll, a dropped connection is made again, stop() waits for the batch', async () => {
    await t.db.exec("UPDATE Rule SET status = 'dropped' WHERE status IN ('pending','active','disabled')");
    const worker = new Worker(t.db, { adapterFor, transportFor: (d) => transportFor(d, { print: () => undefined }) });
    const running = worker.run(100);
    try {
      // the dropped rule's removal may be in flight; a direct UPDATE re-opens it like a DBA would
      const [r] = await t.db.rows<{ id: number }>('SELECT id FROM Rule WHERE src_ip = INET6_ATON(?)', [lab.attacker]);
      await t.db.exec("UPDATE Rule SET status = 'pending' WHERE id = ?", [r!.id]);
      const end = Date.now() + 15_000;
      while (Date.now() < end && (await ruleOf(lab.attacker))?.status !== 'active') await new Promise((res) => setTimeout(res, 100));
      expect((await ruleOf(lab.attacker))?.status).toBe('active');
      expect(lab.attackerCanConnect()).toBe(false);
      // the device drops the worker's kept SSH connection (sockets killed inside its namespace)
      expect(lab.dev.ok(['ss', '-K', '-t', 'sport = :22'])).toMatch(/ESTAB/);
      await t.db.exec("UPDATE Rule SET status = 'dropped' WHERE id = ?", [r!.id]);
      const end2 = Date.now() + 15_000;
      while (Date.now() < end2 && lab.attackerCanConnect() === false) await new Promise((res) => setTimeout(res, 100));
      expect(lab.attackerCanConnect()).toBe(true);
      // the worker connected again within the same batch: no failed attempt, no backoff
      const rd = async () => (await t.db.rows<{ state: string; attempts: number; last_error: string | null }>(
        'SELECT state, attempts, last_error FROM RuleDevice WHERE rule_id = ?', [r!.id]))[0];
      const end3 = Date.now() + 15_000;
      while (Date.now() < end3 && (await rd())?.state !== 'removed') await new Promise((res) => setTimeout(res, 100));
      expect(await rd()).toEqual({ state: 'removed', attempts: 1, last_error: null });
    } finally {
      await worker.stop();
      await running;
    }
  });

  it('refuses a device whose host key does not match the pin, leaving the rule failed and visible', async () => {
    const add = await ipms(t.url, 'devices', 'add', 'fw-wrongkey', '--adapter', 'nftables', '--transport', 'ssh', '--host', lab.mgmt,
      '--user', 'root', '--key', lab.clientKey, '--host-key', lab.otherFingerprint, '--option', 'table=ipmswrong');
    expect(add.code, add.err).toBe(0);
    const r = await ipms(t.url, 'rules', 'add', '198.51.100.66', '--device', 'fw-wrongkey', '--json');
    const id = r.json<{ id: number }>().id;
    const apply = await ipms(t.url, 'apply', '--once');
    expect(apply.code).toBe(1);
    const shown = (await ipms(t.url, 'rules', 'show', String(id), '--json')).json<{ status: string; devices: { device: string; state: string; last_error: string }[] }>();
    expect(shown.status).toBe('pending');
    expect(shown.devices).toHaveLength(1);
    expect(shown.devices[0]!.state).toBe('failed');
    expect(shown.devices[0]!.last_error).toContain(`host key of ${lab.mgmt}:22 is ${lab.hostKeyFingerprint}, not the pinned ${lab.otherFingerprint}: refused, nothing was sent`);
    expect((await ipms(t.url, 'devices', 'test', 'fw-wrongkey')).code).not.toBe(0);
    expect(lab.dev.ok(['nft', 'list', 'table', 'inet', 'ipms'])).not.toContain('198.51.100.66');
  });
});

describe('a command that hangs on the device', () => {
  it('types a device CLI session into the login shell and logs out with the step\'s own command (exit unless given)', { timeout: 30_000 }, async () => {
    // (the lab's login shell stands for the router's console: no router here; RouterOS's
    // /quit is not a shell command, so the shell's own `logout` shows the step's word is used)
    const [d] = await t.db.rows<DeviceRow>("SELECT * FROM Device WHERE name = 'fw'");
    const session = await sshTransport({
      name: d!.name, host: d!.host, port: d!.port, username: d!.username, keyRef: d!.key_ref, hostKey: d!.host_key, timeoutMs: 10_000,
    }).open();
    try {
      const [ios] = await session.run([{ session: ['echo ipms-$((6*7))', 'echo ipms-$((6*8))'] }]);
      expect(ios!.stdout).toMatch(/^ipms-42\r?$/m);
      expect(ios!.stdout).toMatch(/^ipms-48\r?$/m);
      const started = Date.now();
      const [ros] = await session.run([{ session: ['echo ipms-$((6*9))'], logout: 'logout\n' }]);
      expect(ros!.stdout).toMatch(/^ipms-54\r?$/m);
      // it ended there, not at the step's timeout
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await session.close();
    }
  });

  it('is killed there by the device-side timeout, not left to run after the worker gave up', { timeout: 30_000 }, async () => {
    const [d] = await t.db.rows<DeviceRow>("SELECT * FROM Device WHERE name = 'fw'");
    // the worker's deadline 7 s: the device's is 2 s (5 s shorter)
    const session = await transportFor(d!, { print: () => undefined, timeoutMs: 7000 }).open();
    const marker = `/tmp/ipms-hang-${process.pid}-${Date.now()}`;
    try {
      const started = Date.now();
      await expect(session.run([{ argv: ['sh', '-c', `sleep 5; touch ${marker}`] }])).rejects.toThrow(/exited 124/);
      expect(Date.now() - started).toBeLessThan(7000);
      // had it gone on, the file would be there 5 s after the start
      await new Promise((r) => setTimeout(r, 5500 - (Date.now() - started)));
      // (a network namespace shares this filesystem)
      expect(existsSync(marker)).toBe(false);
    } finally {
      await session.close();
    }
  });
});

describe('a device that lost ipms\'s table (rebooted without it saved, nft flush ruleset)', () => {
  it('gets every rule it should hold back at the next batch, not only the new one', { timeout: 60_000 }, async () => {
    for (const a of ['198.51.100.61', '198.51.100.62']) expect((await ipms(t.url, 'rules', 'add', a)).code).toBe(0);
    // (the wrong-key device of an earlier test is left out)
    const first = await ipms(t.url, 'apply', '--once', '--device', 'fw');
    expect(first.code, first.out + first.err).toBe(0);
    lab.dev.ok(['nft', 'delete', 'table', 'inet', 'ipms']);
    expect((await ipms(t.url, 'rules', 'add', '198.51.100.63')).code).toBe(0);
    const again = await ipms(t.url, 'apply', '--once', '--device', 'fw');
    expect(again.code, again.out + again.err).toBe(0);
    expect(again.out).toMatch(/ipms's objects were gone from the device .*: its \d+ rule\(s\) recorded as applied there are sent again/);
    const table = lab.dev.ok(['nft', 'list', 'table', 'inet', 'ipms']);
    for (const a of ['198.51.100.61', '198.51.100.62', '198.51.100.63']) expect(table).toContain(a);
    // the rows sent again (recorded as pending while they were) are recorded as applied again
    const [left] = await t.db.rows<{ n: number }>(
      "SELECT COUNT(*) AS n FROM RuleDevice rd JOIN Device d ON d.id = rd.device_id WHERE d.name = 'fw' AND rd.desired = 'present' AND rd.state <> 'applied'");
    expect(Number(left!.n)).toBe(0);
  });
});
