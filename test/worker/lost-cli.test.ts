/**
 * CLI routers that lost ipms's entries (an IOS router reloaded without its configuration saved,
 * a RouterOS router rebooted: entries with a timeout live in its RAM) get all their rules back
 * at the next connection, as nftables, ipset and pf devices do (test/e2e). Neither router can
 * exist here: a fake session answers the adapter's look with text in the router's documented
 * form and records every other session; the worker, its bookkeeping and the database are real
 * (the least-privilege `ipms_worker` account).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../lib/config.ts';
import { openDb, type Db } from '../../lib/db.ts';
import type { DeviceRow } from '../../lib/types.ts';
import { adapterFor } from '../../worker/adapters.ts';
import type { Step } from '../../worker/devices/types.ts';
import type { Transport } from '../../worker/transports/types.ts';
import { Worker } from '../../worker/worker.ts';
import { freshDatabase, roleAccount, type TestDb } from '../helpers/db.ts';

let t: TestDb;
let workerDb: Db;

beforeAll(async () => {
  t = await freshDatabase('lostcli');
  workerDb = openDb(parseDatabaseUrl(await roleAccount(t, 'ipms_worker', 'ipms_t_lostcli', 'lostcli-test-pw')), { poolSize: 2 });
});

afterAll(async () => {
  await workerDb?.end();
  await t?.close();
});

/**
 * A router session: `look` answers the step whose lines hold `marker` (the adapter's look);
 * every other session's lines are recorded in `sent`.
 */
function fakeRouter(marker: string, look: () => string, sent: string[][]): Transport {
  return {
    name: 'fake-router',
    async open() {
      return {
        async run(steps: readonly Step[]) {
          return steps.map((s) => {
            const lines = 'session' in s ? [...s.session] : [];
            if (lines.some((l) => l.includes(marker))) return { stdout: `${lines.join('\n')}\n${look()}\n`, stderr: '', code: 0 };
            sent.push(lines);
            return { stdout: '', stderr: '', code: 0 };
          });
        },
        async close() {},
      };
    },
  };
}

/** A device with two rules it holds (applied) and a third one pending. */
async function device(name: string, adapter: string, net: number) {
  await t.db.exec("INSERT INTO Device (name, host, adapter, transport, username, key_ref, host_key) VALUES (?, '192.0.2.254', ?, 'ssh', 'ipms', '/nonexistent', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')",
    [name, adapter]);
  const [dev] = await t.db.rows<DeviceRow>('SELECT * FROM Device WHERE name = ?', [name]);
  const ids: number[] = [];
  for (const host of [1, 2, 3]) {
    const id = await ruleFor(dev!.id, `198.51.${net}.${host}`);
    ids.push(id);
    // the first two were applied by an earlier batch
    if (host < 3) await t.db.exec("UPDATE RuleDevice SET state = 'applied', applied_at = UTC_TIMESTAMP(3) WHERE rule_id = ?", [id]);
  }
  return { dev: dev!, ids };
}

/** A manual rule for this device alone (chosen by hand: the other tests' devices do not take it). */
async function ruleFor(deviceId: number, src: string): Promise<number> {
  const r = await t.db.exec("INSERT INTO Rule (src_ip, origin, targeted) VALUES (INET6_ATON(?), 'manual', 1)", [src]);
  await t.db.exec('INSERT INTO RuleDevice (rule_id, device_id) VALUES (?, ?)', [r.insertId, deviceId]);
  return r.insertId;
}

async function tick(dev: DeviceRow, transport: Transport) {
  const w = new Worker(workerDb, { adapterFor, transportFor: () => transport }, { deviceId: dev.id });
  return (await w.tick()).outcomes;
}

describe('CLI routers that lost their entries', () => {
  it('cisco-ios: an ACL gone after a reload (no final permit) gets the setup and every rule again; an ACL in place gets the new rule only', async () => {
    const { dev, ids } = await device('ios-lost', 'cisco-ios', 100);
    const sent: string[][] = [];
    let acl = '';
    const router = fakeRouter('show ip access-lists IPMS-IN', () => acl, sent);
    const out = await tick(dev, router);
    expect(out).toMatchObject([{ device: 'ios-lost', applied: 1, failed: 0 }]);
    expect(out[0]!.errors).toEqual([expect.stringMatching(/^ios-lost: ipms's objects were gone from the device .*all its rules were put back$/)]);
    const lines = sent.flat();
    expect(lines).toContain(' 2147483647 permit ip any any');
    for (const [i, id] of ids.entries()) expect(lines).toContain(` ${id} deny ip host 198.51.100.${i + 1} any`);

    // the ACL is there (its permit renumbered by a reload still counts): the delta only
    await ruleFor(dev.id, '198.51.100.9');
    acl = ['Extended IP access list IPMS-IN', `    ${ids[0]} deny ip host 198.51.100.1 any (3 matches)`, '    40 permit ip any any (812 matches)'].join('\n');
    sent.length = 0;
    const again = await tick(dev, router);
    expect(again).toMatchObject([{ applied: 1, failed: 0, errors: [] }]);
    const delta = sent.flat().filter((l) => l.includes(' deny '));
    expect(delta).toEqual([' no deny ip host 198.51.100.9 any', expect.stringMatching(/^ \d+ deny ip host 198\.51\.100\.9 any$/)]);
  });

  it('routeros: a reboot (the marker entry gone) gets every rule again; with the marker there, the new rule only; the setup makes the marker again', async () => {
    const { dev, ids } = await device('ros-lost', 'routeros', 101);
    const sent: string[][] = [];
    let count = 0;
    const router = fakeRouter(':put ("ipms-alive="', () => `ipms-alive=${count}`, sent);
    const out = await tick(dev, router);
    expect(out).toMatchObject([{ device: 'ros-lost', applied: 1, failed: 0 }]);
    expect(out[0]!.errors).toEqual([expect.stringMatching(/^ros-lost: ipms's objects were gone from the device/)]);
    const lines = sent.flat();
    expect(lines).toContain('/ip firewall address-list add list=ipms-alive address=192.0.2.1 timeout=24d20h31m23s comment=ipms-alive');
    // every rule: removed first (some entries, those without a timeout, outlive a reboot), then added
    for (const [i, id] of ids.entries()) {
      expect(lines).toContain(`/ip firewall address-list remove [find list=ipms address=198.51.101.${i + 1}]`);
      expect(lines).toContain(`/ip firewall address-list add list=ipms address=198.51.101.${i + 1} comment=ipms-rule-${id}`);
    }

    await ruleFor(dev.id, '198.51.101.9');
    count = 1;
    sent.length = 0;
    const again = await tick(dev, router);
    expect(again).toMatchObject([{ applied: 1, failed: 0, errors: [] }]);
    const adds = sent.flat().filter((l) => l.includes('address-list add list=ipms '));
    expect(adds).toEqual([expect.stringMatching(/^\/ip firewall address-list add list=ipms address=198\.51\.101\.9 comment=ipms-rule-\d+$/)]);
    // the marker is made again by this connection's setup too
    expect(sent.flat()).toContain('/ip firewall address-list remove [find list=ipms-alive]');
  });

  it('a device that holds no rule yet is not looked at', async () => {
    await t.db.exec("INSERT INTO Device (name, host, adapter, transport, username, key_ref, host_key) VALUES ('ios-new', '192.0.2.253', 'cisco-ios', 'ssh', 'ipms', '/nonexistent', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')");
    const [dev] = await t.db.rows<DeviceRow>("SELECT * FROM Device WHERE name = 'ios-new'");
    await ruleFor(dev!.id, '198.51.102.1');
    const sent: string[][] = [];
    let looked = 0;
    const out = await tick(dev!, fakeRouter('show ip access-lists', () => String(++looked), sent));
    expect(out).toMatchObject([{ device: 'ios-new', applied: 1, failed: 0, errors: [] }]);
    expect(looked).toBe(0);
  });
});
