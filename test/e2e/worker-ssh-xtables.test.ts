/**
 * End to end for the xtables family, for real: the same lab as the nftables test (a real sshd
 * with a pinned host key inside a device namespace, an attacker namespace), with an iptables
 * device and an ipset device on the same host. Hits cross the threshold, the worker applies
 * the rule over SSH, a real TCP connection from the attacker is dropped, and passes again once
 * the rule is dropped. Then four workers at once feed the iptables device (whose adapter
 * rewrites its chain whole on every batch): no rule may be lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceRow } from '../../lib/types.ts';
import { adapterFor } from '../../worker/adapters.ts';
import { transportFor } from '../../worker/target.ts';
import { Worker } from '../../worker/worker.ts';
import { ipms } from '../helpers/cli.ts';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { burst, insertHits, nowTs } from '../helpers/hits.ts';
import { createLab, type Lab } from '../helpers/lab.ts';

let lab: Lab;
let t: TestDb;

beforeAll(async () => {
  lab = await createLab();
  t = await freshDatabase('e2e_xtables');
  await t.db.exec("INSERT INTO Sensor (name) VALUES ('s1')");
  for (const [name, adapter, extra] of [['ipt', 'iptables', []], ['ips', 'ipset', ['--disabled']]] as const) {
    const add = await ipms(t.url, 'devices', 'add', name, '--adapter', adapter, ...lab.sshArgs(), ...extra);
    expect(add.code, add.err).toBe(0);
  }
}, 60_000);

afterAll(async () => {
  await t?.close();
  lab?.close();
});

interface RuleJson { id: number; status: string; devices: { device: string; state: string; last_error: string | null }[] }

async function openRuleOf(src: string): Promise<RuleJson | undefined> {
  const [r] = (await ipms(t.url, 'rules', 'list', '--src', src, '--status', 'pending,active', '--json')).json<RuleJson[]>();
  return r;
}

/** 50 hits from the attacker: the rule comes out pending for `device` alone, and one pass applies it. */
async function attackAndApply(device: string): Promise<RuleJson> {
  await insertHits(t.db, burst(50, { ts: nowTs(), src: lab.attacker, dst: lab.target, dstPort: 8080 }));
  const rule = await openRuleOf(lab.attacker);
  expect(rule).toMatchObject({ status: 'pending', devices: [{ device, state: 'pending' }] });
  const apply = await ipms(t.url, 'apply', '--once');
  expect(apply.code, apply.out + apply.err).toBe(0);
  expect(apply.out).toMatch(new RegExp(`${device}: 1 applied, 0 removed, 0 failed`));
  return rule!;
}

describe('iptables and ipset over SSH', () => {
  it('iptables: blocks the attacker after the threshold, repairs drift, and lets it in again on drop', async () => {
    expect((await ipms(t.url, 'devices', 'test', 'ipt')).out).toMatch(/^device ipt: connected \(host key SHA256:.{43}\); iptables v\d.*\ndevice ipt: allowed to change the firewall \(iptables -w 10 -S INPUT\)$/);
    // the tool answers --version to anyone: what the batches need is checked too (here the
    // chain to hook is not there; a login without root rights fails the same read)
    const addBad = await ipms(t.url, 'devices', 'add', 'ipt-nochain', '--adapter', 'iptables', ...lab.sshArgs(), '--option', 'hooks=NOSUCHCHAIN', '--option', 'chain=IPMS_NC', '--disabled');
    expect(addBad.code, addBad.err).toBe(0);
    const bad = await ipms(t.url, 'devices', 'test', 'ipt-nochain');
    expect([bad.code, bad.err]).toEqual([1, expect.stringMatching(/^ipms: device ipt-nochain: connected, but `iptables -w 10 -S NOSUCHCHAIN` failed, which every batch needs the rights for .*: /)]);
    expect((await ipms(t.url, 'devices', 'remove', 'ipt-nochain')).code).toBe(0);
    expect(lab.attackerCanConnect()).toBe(true);
    // spoofed hits "from" the worker made a rule before its first connection: the connection
    // tells the worker its address, which is whitelisted, and the rule is not sent (it is dropped)
    const worker = lab.mgmt.replace(/\.\d+$/, '.1');
    await insertHits(t.db, burst(50, { ts: nowTs(), src: worker, dst: lab.target, dstPort: 22 }));
    expect(await openRuleOf(worker)).toMatchObject({ status: 'pending' });
    // (another rule in the same batch is not held back)
    expect((await ipms(t.url, 'rules', 'add', '198.51.100.200')).code).toBe(0);
    const first = await ipms(t.url, 'apply', '--once');
    expect([first.code, first.out]).toEqual([1, expect.stringMatching(new RegExp(`would block ${worker.replace(/\./g, '\\.')}/32, which the worker reaches the device from \\(now whitelisted\\): not sent`))]);
    expect(await openRuleOf(worker)).toBeUndefined();
    expect(lab.dev.ok(['iptables-save'])).not.toContain(worker);
    // (the dropped rule's removal goes through as usual: nothing of it was there)
    expect(await openRuleOf('198.51.100.200')).toMatchObject({ status: 'pending', devices: [{ device: 'ipt', state: 'pending', last_error: null }] });
    const clear = await ipms(t.url, 'apply', '--once');
    expect([clear.code, clear.out]).toEqual([0, expect.stringMatching(/ipt: 1 applied, 1 removed, 0 failed/)]);
    expect(lab.dev.ok(['iptables-save'])).toContain('198.51.100.200');
    const other = await openRuleOf('198.51.100.200');
    expect((await ipms(t.url, 'rules', 'drop', String(other!.id))).code).toBe(0);
    expect((await ipms(t.url, 'apply', '--once')).out).toMatch(/ipt: 0 applied, 1 removed, 0 failed/);
    // (the disabled ipset device gets nothing)
    const rule = await attackAndApply('ipt');
    expect(lab.dev.ok(['iptables', '-S', 'IPMS'])).toContain(`-A IPMS -s ${lab.attacker}/32 -m comment --comment ipms-rule-${rule.id} -j DROP`);
    expect(lab.dev.ok(['iptables', '-S', 'INPUT'])).toContain('-A INPUT -j IPMS');
    expect(lab.attackerCanConnect()).toBe(false);

    // someone flushes the chain by hand: reconcile reports it and puts the rule back
    lab.dev.ok(['iptables', '-F', 'IPMS']);
    expect(lab.attackerCanConnect()).toBe(true);
    const dry = await ipms(t.url, 'devices', 'reconcile', 'ipt', '--dry-run', '--json');
    expect(dry.code).toBe(1);
    expect(dry.json<{ missing: string[] }>().missing).toHaveLength(1);
    expect((await ipms(t.url, 'devices', 'reconcile', 'ipt')).code).toBe(0);
    expect(lab.attackerCanConnect()).toBe(false);

    expect((await ipms(t.url, 'rules', 'drop', String(rule.id))).code).toBe(0);
    const off = await ipms(t.url, 'apply', '--once');
    expect(off.out).toMatch(/ipt: 0 applied, 1 removed, 0 failed/);
    expect(lab.dev.ok(['iptables', '-S', 'IPMS'])).not.toContain(lab.attacker);
    expect(lab.attackerCanConnect()).toBe(true);
  });

  it('ipset: the same with a hash:net set and one match-set rule', async () => {
    expect((await ipms(t.url, 'devices', 'disable', 'ipt')).code).toBe(0);
    expect((await ipms(t.url, 'devices', 'enable', 'ips')).code).toBe(0);
    const rule = await attackAndApply('ips');
    expect(lab.dev.ok(['ipset', 'list', 'ipms4'])).toMatch(new RegExp(`^${lab.attacker.replace(/\./g, '\\.')} timeout 0$`, 'm'));
    expect(lab.attackerCanConnect()).toBe(false);

    expect((await ipms(t.url, 'rules', 'drop', String(rule.id))).code).toBe(0);
    expect((await ipms(t.url, 'apply', '--once')).out).toMatch(/ips: 0 applied, 1 removed, 0 failed/);
    expect(lab.dev.ok(['ipset', 'list', 'ipms4'])).not.toContain(lab.attacker);
    expect(lab.attackerCanConnect()).toBe(true);
  });

  it('ipset: a device rebooted without its sets saved gets every rule back at the next batch', { timeout: 60_000 }, async () => {
    const held = ['198.51.100.71', '198.51.100.72'];
    for (const a of held) expect((await ipms(t.url, 'rules', 'add', a)).code).toBe(0);
    const first = await ipms(t.url, 'apply', '--once');
    expect(first.out).toMatch(/ips: 2 applied, 0 removed, 0 failed/);
    // what a reboot leaves: no hook rules, no sets (the disabled iptables device's hooks go too;
    // its own setup puts them back when it is enabled again)
    for (const cmd of ['iptables', 'ip6tables']) for (const hook of ['INPUT', 'FORWARD']) lab.dev.ok([cmd, '-F', hook]);
    lab.dev.ok(['ipset', 'destroy']);
    expect((await ipms(t.url, 'rules', 'add', '198.51.100.73')).code).toBe(0);
    const again = await ipms(t.url, 'apply', '--once');
    expect(again.code, again.out + again.err).toBe(0);
    expect(again.out).toMatch(/ipms's objects were gone from the device .*: its \d+ rule\(s\) recorded as applied there are sent again/);
    const set = lab.dev.ok(['ipset', 'list', 'ipms4']);
    for (const a of [...held, '198.51.100.73']) expect(set).toMatch(new RegExp(`^${a.replace(/\./g, '\\.')} timeout 0$`, 'm'));
    expect(lab.dev.ok(['iptables', '-S', 'INPUT'])).toContain('-A INPUT -m set --match-set ipms4 src -j DROP');
    // (taken off again: the tests below start from an empty device)
    for (const a of [...held, '198.51.100.73']) {
      const r = await openRuleOf(a);
      expect((await ipms(t.url, 'rules', 'drop', String(r!.id))).code).toBe(0);
    }
    expect((await ipms(t.url, 'apply', '--once')).out).toMatch(/ips: 0 applied, 3 removed, 0 failed/);
  });

  it('four workers at once on one iptables device lose no rule (one worker per device at a time)', { timeout: 120_000 }, async () => {
    expect((await ipms(t.url, 'devices', 'disable', 'ips')).code).toBe(0);
    expect((await ipms(t.url, 'devices', 'enable', 'ipt')).code).toBe(0);
    const workers = [0, 1, 2, 3].map(() => new Worker(t.open(2), {
      adapterFor, transportFor: (d: DeviceRow) => transportFor(d, { print: () => undefined }),
    }, { batchLimit: 15 }));
    // four daemons polling side by side while three waves of rules arrive
    const running = workers.map((w) => w.run(20));
    const addrs: string[] = [];
    const appliedCount = async () => {
      const [{ n } = { n: 0 }] = await t.db.rows<{ n: number }>(
        "SELECT COUNT(*) AS n FROM RuleDevice rd JOIN Rule r ON r.id = rd.rule_id WHERE r.reason = 'e2e concurrency' AND rd.state = 'applied'");
      return Number(n);
    };
    try {
      for (let wave = 0; wave < 3; wave++) {
        for (let i = 1; i <= 20; i++) {
          const a = `198.18.${wave}.${i}`;
          addrs.push(a);
          await t.db.exec("INSERT INTO Rule (src_ip, origin, reason) VALUES (INET6_ATON(?), 'manual', 'e2e concurrency')", [a]);
          if (i % 5 === 0) await new Promise((r) => setTimeout(r, 60));
        }
      }
      const end = Date.now() + 60_000;
      while (Date.now() < end && (await appliedCount()) < 60) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await Promise.all(running);
    }
    expect(await appliedCount()).toBe(60);
    const chain = lab.dev.ok(['iptables', '-S', 'IPMS']);
    expect(addrs.filter((a) => !chain.includes(`-s ${a}/32 `))).toEqual([]);
    const [{ n } = { n: -1 }] = await t.db.rows<{ n: number }>(
      "SELECT COUNT(*) AS n FROM RuleDevice rd JOIN Rule r ON r.id = rd.rule_id WHERE r.reason = 'e2e concurrency' AND rd.state = 'applied' AND rd.attempts = 1");
    expect(Number(n)).toBe(60);
    const dry = await ipms(t.url, 'devices', 'reconcile', 'ipt', '--dry-run', '--json');
    expect(dry.code, dry.out).toBe(0);
    expect(dry.json<{ expected: number; missing: string[]; unexpected: string[] }>()).toMatchObject({ expected: 60, missing: [], unexpected: [] });
  });

  it('through sudo: the login runs every command as sudo -n -- ...', { timeout: 60_000 }, async () => {
    // (root logs in here, for whom sudo needs no sudoers line: the lab has no other user;
    // what this shows is that every command and check works through sudo on a real device)
    expect((await ipms(t.url, 'devices', 'disable', 'ipt')).code).toBe(0);
    const add = await ipms(t.url, 'devices', 'add', 'ipt-sudo', '--adapter', 'iptables', ...lab.sshArgs(), '--sudo');
    expect(add.code, add.err).toBe(0);
    expect((await ipms(t.url, 'devices', 'test', 'ipt-sudo')).out).toMatch(/^device ipt-sudo: connected \(host key SHA256:.{43}\); iptables v\d/);
    const r = await ipms(t.url, 'rules', 'add', '198.18.9.9', '--device', 'ipt-sudo', '--json');
    expect(r.code, r.err).toBe(0);
    const apply = await ipms(t.url, 'apply', '--once');
    expect(apply.code, apply.out + apply.err).toBe(0);
    // (it also takes the rules still open from the test before)
    expect(apply.out).toMatch(/ipt-sudo: 61 applied, 0 removed, 0 failed/);
    expect(lab.dev.ok(['iptables', '-S', 'IPMS'])).toContain('-A IPMS -s 198.18.9.9/32');
  });
});
