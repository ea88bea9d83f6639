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
import { TransportError, type Transport } from '../../worker/transports/types.ts';
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
 * A router session: a step holding a line with one of `answers`' texts is answered with the
 * step's lines (the echo) and that answer; every other session's lines are recorded in `sent`.
 */
function fakeRouter(answers: Record<string, () => string>, sent: string[][]): Transport {
  return {
    name: 'fake-router',
    async open() {
      return {
        async run(steps: readonly Step[]) {
          return steps.map((s) => {
            const lines = 'session' in s ? [...s.session] : [];
            const answer = Object.entries(answers).find(([text]) => lines.some((l) => l.includes(text)))?.[1];
            if (answer) return { stdout: `${lines.join('\n')}\n${answer()}\n`, stderr: '', code: 0 };
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
async function device(name: string, adapter: string, net: number, expiresInS: (number | null)[] = [null, null, null]) {
  await t.db.exec("INSERT INTO Device (name, host, adapter, transport, username, key_ref, host_key) VALUES (?, '192.0.2.254', ?, 'ssh', 'ipms', '/nonexistent', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')",
    [name, adapter]);
  const [dev] = await t.db.rows<DeviceRow>('SELECT * FROM Device WHERE name = ?', [name]);
  const ids: number[] = [];
  for (const host of [1, 2, 3]) {
    const id = await ruleFor(dev!.id, `198.51.${net}.${host}`, expiresInS[host - 1] ?? null);
    ids.push(id);
    // the first two were applied by an earlier batch
    if (host < 3) await t.db.exec("UPDATE RuleDevice SET state = 'applied', applied_at = UTC_TIMESTAMP(3) WHERE rule_id = ?", [id]);
  }
  return { dev: dev!, ids };
}

/** A manual rule for this device alone (chosen by hand: the other tests' devices do not take it). */
async function ruleFor(deviceId: number, src: string, expiresInS: number | null = null): Promise<number> {
  const r = await t.db.exec(
    "INSERT INTO Rule (src_ip, origin, targeted, expires_at) VALUES (INET6_ATON(?), 'manual', 1, UTC_TIMESTAMP(3) + INTERVAL ? SECOND)", [src, expiresInS]);
  await t.db.exec('INSERT INTO RuleDevice (rule_id, device_id) VALUES (?, ?)', [r.insertId, deviceId]);
  return r.insertId;
}

/** The device's rows' states, by rule id. */
async function states(deviceId: number): Promise<string[]> {
  return (await t.db.rows<{ state: string }>('SELECT state FROM RuleDevice WHERE device_id = ? ORDER BY rule_id', [deviceId])).map((r) => r.state);
}

/**
 * A RouterOS router's `ipms` address list, the `ipms-alive` marker and what a reboot does to
 * them (entries with a timeout live in RAM: the manual's address-list page), answering the
 * lines the adapter writes as the RouterOS console would: an add of an address the list has
 * fails ('already have such entry'), unless wrapped in `:do {...} on-error={...}`.
 */
class FakeRouterOs {
  /** address -> has a timeout */
  readonly entries = new Map<string, boolean>();
  marker = false;
  /** every line the router ran */
  readonly lines: string[] = [];
  /** every command the router ran, those inside a line's `:do` and `on-error` one by one */
  readonly ran: string[] = [];
  /** the number (1-based, over the router's life) of a session that times out */
  failSession = 0;
  /** something that happens elsewhere while the session of that number runs */
  during?: { session: number; run: () => Promise<unknown> };
  private sessions = 0;

  reboot(): void {
    for (const [a, timed] of this.entries) if (timed) this.entries.delete(a);
    this.marker = false;
  }

  transport(): Transport {
    return {
      name: 'fake-routeros',
      open: async () => ({
        run: async (steps: readonly Step[]) => {
          const out = [];
          for (const s of steps) {
            const lines = 'session' in s ? s.session : [];
            if (++this.sessions === this.failSession) {
              // the router got through the first line when the step timed out
              this.line(lines[0]!);
              throw new TransportError('E_TIMEOUT', 'device session did not finish within 30000 ms');
            }
            if (this.during?.session === this.sessions) await this.during.run();
            out.push({ stdout: lines.map((l) => this.line(l)).join(''), stderr: '', code: 0 });
          }
          return out;
        },
        close: async () => undefined,
      }),
    };
  }

  private line(l: string): string {
    this.lines.push(l);
    const out = `[ipms@gw] > ${l}\r\n`;
    if (l.startsWith(':put ("ipms-alive="')) return `${out}ipms-alive=${this.marker ? 1 : 0}\r\n`;
    // `:do {A} on-error={B; C}`: B and C run only when A fails, and the failure is not printed
    const d = /^:do \{(.*)\} on-error=\{(.*)\}$/.exec(l);
    if (d) {
      if (this.command(d[1]!) && d[2]) for (const c of d[2].split('; ')) if (this.command(c)) return `${out}failure: already have such entry\r\n`;
      return out;
    }
    return this.command(l) ? `${out}failure: already have such entry\r\n` : out;
  }

  /** Runs one command; true when it failed. */
  private command(l: string): boolean {
    this.ran.push(l);
    let m = /^\/ip firewall address-list remove \[find list=(\S+?)(?: address=(\S+))?\]$/.exec(l);
    if (m) {
      if (m[1] === 'ipms-alive') this.marker = false;
      else if (m[1] === 'ipms') this.entries.delete(m[2]!);
      return false;
    }
    m = /^\/ip firewall address-list add list=(\S+) address=(\S+)( timeout=\S+)?/.exec(l);
    if (m) {
      if (m[1] === 'ipms-alive') this.marker = true;
      else if (this.entries.has(m[2]!)) return true;
      else this.entries.set(m[2]!, Boolean(m[3]));
    }
    return false;
  }
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
    const router = fakeRouter({ 'show ip access-lists IPMS-IN': () => acl || 'r1#', 'show version': () => 'r1 uptime is 2 weeks, 1 day, 3 minutes' }, sent);
    const out = await tick(dev, router);
    expect(out).toMatchObject([{ device: 'ios-lost', applied: 1, failed: 0 }]);
    expect(out[0]!.errors).toEqual([expect.stringMatching(/^ios-lost: ipms's objects were gone from the device .*: its 2 rule\(s\) recorded as applied there are sent again$/)]);
    const lines = sent.flat();
    // the final permit before any deny (no moment where the bound ACL drops everything)
    expect(lines.indexOf(' 2147483647 permit ip any any')).toBeGreaterThan(-1);
    expect(lines.indexOf(' 2147483647 permit ip any any')).toBeLessThan(lines.findIndex((l) => l.includes(' deny ')));
    for (const [i, id] of ids.entries()) expect(lines).toContain(` ${id} deny ip host 198.51.100.${i + 1} any`);
    expect(await states(dev.id)).toEqual(['applied', 'applied', 'applied']);

    // the ACL is there (its permit renumbered by a reload still counts): the delta only
    await ruleFor(dev.id, '198.51.100.9');
    acl = ['Extended IP access list IPMS-IN', `    ${ids[0]} deny ip host 198.51.100.1 any (3 matches)`, '    40 permit ip any any (812 matches)'].join('\n');
    sent.length = 0;
    const again = await tick(dev, router);
    expect(again).toMatchObject([{ applied: 1, failed: 0, errors: [] }]);
    const delta = sent.flat().filter((l) => l.includes(' deny '));
    expect(delta).toEqual([' no deny ip host 198.51.100.9 any', expect.stringMatching(/^ \d+ deny ip host 198\.51\.100\.9 any$/)]);
  });

  it('cisco-ios: a reload from an older saved configuration (ACL and permit there, uptime shorter than the time since the last look) sends every rule again and takes off what was removed since', async () => {
    const { dev, ids } = await device('ios-boot', 'cisco-ios', 105);
    const sent: string[][] = [];
    let acl = ['Extended IP access list IPMS-IN', '    2147483647 permit ip any any (812 matches)'];
    let uptime = '3 weeks, 2 days, 1 hour, 5 minutes';
    const router = fakeRouter({ 'show ip access-lists IPMS-IN': () => `${acl.join('\n')}\nr1#`, 'show version': () => `r1 uptime is ${uptime}\nr1#` }, sent);
    const lookedAgo = async () => (await t.db.rows<{ s: number | null }>('SELECT TIMESTAMPDIFF(SECOND, looked_at, UTC_TIMESTAMP()) AS s FROM Device WHERE id = ?', [dev.id]))[0]!.s;
    // the first look: noted, nothing known to be lost
    expect(await lookedAgo()).toBeNull();
    expect(await tick(dev, router)).toMatchObject([{ applied: 1, failed: 0, errors: [] }]);
    expect(Number(await lookedAgo())).toBeLessThan(60);
    expect(sent.flat().filter((l) => l.includes(' deny ') && !l.startsWith(' no '))).toHaveLength(1);

    // an hour on, the router reloaded four minutes ago from a configuration saved before the
    // latest rules: rule 1 is there, rule 2 and 3 are not, and 203.0.113.99 (taken off since) is
    await t.db.exec('UPDATE Device SET looked_at = UTC_TIMESTAMP() - INTERVAL 1 HOUR WHERE id = ?', [dev.id]);
    acl = ['Extended IP access list IPMS-IN', `    ${ids[0]} deny ip host 198.51.105.1 any`, '    90 deny ip host 203.0.113.99 any', '    2147483647 permit ip any any'];
    uptime = '4 minutes';
    await ruleFor(dev.id, '198.51.105.8');
    sent.length = 0;
    const out = await tick(dev, router);
    expect(out).toMatchObject([{ applied: 1, failed: 0 }]);
    expect(out[0]!.errors).toEqual([expect.stringMatching(/^ios-boot: the device started again since the last look .*: its 3 rule\(s\) recorded as applied there are sent again$/)]);
    const lines = sent.flat();
    for (const [i, id] of ids.entries()) expect(lines).toContain(` ${id} deny ip host 198.51.105.${i + 1} any`);
    expect(lines).toContain(' no deny ip host 203.0.113.99 any');
    expect(Number(await lookedAgo())).toBeLessThan(60);
    expect(await states(dev.id)).toEqual(['applied', 'applied', 'applied', 'applied']);

    // the next look, minutes later, with an uptime longer than that: no restart
    await ruleFor(dev.id, '198.51.105.9');
    uptime = '9 minutes';
    sent.length = 0;
    expect(await tick(dev, router)).toMatchObject([{ applied: 1, failed: 0, errors: [] }]);
    expect(sent.flat().filter((l) => l.includes(' deny ') && !l.startsWith(' no '))).toEqual([expect.stringMatching(/^ \d+ deny ip host 198\.51\.105\.9 any$/)]);
  });

  it('cisco-ios: what the look cannot read fails no batch, and a restore that did not finish is made again at the next look', async () => {
    const { dev } = await device('ios-odd', 'cisco-ios', 106);
    const sent: string[][] = [];
    const acl = ['Extended IP access list IPMS-IN', '    10 deny ip object-group CUSTOMERS any', '    2147483647 permit ip any any'];
    let version = (): string => {
      throw new TransportError('E_STEP', 'device said: % Ambiguous command:  "show version | include uptime is"');
    };
    let failRestore = false;
    const router = fakeRouter({
      'show ip access-lists IPMS-IN': () => `${acl.join('\n')}\nr1#`,
      'show version': () => version(),
      // (the restore's session: this batch's new rule among every other)
      '198.51.106.3 any': () => {
        if (failRestore) throw new TransportError('E_TIMEOUT', 'device session did not finish within 30000 ms');
        return 'r1#';
      },
    }, sent);
    // show version refused: the uptime is unknown, the batch goes on
    expect(await tick(dev, router)).toMatchObject([{ applied: 1, failed: 0, errors: [] }]);

    // a restart, and an ACL entry ipms does not write (an object-group): read as far as it goes
    await t.db.exec('UPDATE Device SET looked_at = UTC_TIMESTAMP() - INTERVAL 1 HOUR WHERE id = ?', [dev.id]);
    version = () => 'r1 uptime is 2 minutes\nr1#';
    await ruleFor(dev.id, '198.51.106.4');
    failRestore = true;
    const failed = await tick(dev, router);
    expect(failed).toMatchObject([{ applied: 0, failed: 1 }]);
    expect(failed[0]!.errors.join('\n')).toMatch(/its entries could not be read after its restart.*object-group/);
    expect(failed[0]!.errors.join('\n')).toMatch(/did not finish/);
    // the next look sees the restart again (it was not noted), and the restore is made
    failRestore = false;
    await t.db.exec('UPDATE RuleDevice SET next_attempt_at = UTC_TIMESTAMP(3) WHERE device_id = ?', [dev.id]);
    const again = await tick(dev, router);
    expect(again).toMatchObject([{ failed: 0 }]);
    expect(again[0]!.errors.join('\n')).toMatch(/the device started again since the last look/);
    expect(await states(dev.id)).toEqual(['applied', 'applied', 'applied', 'applied']);
  });

  it('routeros: a reboot (the marker gone) sends every rule again, adding only the entries it lost; with the marker there, the new rule only', async () => {
    const { dev, ids } = await device('ros-lost', 'routeros', 101, [null, 86400, null]);
    const ros = new FakeRouterOs();
    // what the earlier batch put there: rule 1 for good, rule 2 with a timeout
    ros.entries.set('198.51.101.1', false).set('198.51.101.2', true);
    ros.reboot();
    expect([...ros.entries.keys()]).toEqual(['198.51.101.1']);
    const out = await tick(dev, ros.transport());
    expect(out).toMatchObject([{ device: 'ros-lost', applied: 1, failed: 0 }]);
    expect(out[0]!.errors).toEqual([expect.stringMatching(/^ros-lost: ipms's objects were gone from the device .*: its 2 rule\(s\) recorded as applied there are sent again$/)]);
    expect([...ros.entries.keys()].sort()).toEqual(['198.51.101.1', '198.51.101.2', '198.51.101.3']);
    expect(ros.marker).toBe(true);
    // the rules sent again are added where missing: no walk of the list to take each off first
    expect(ros.lines.filter((l) => l.includes('remove [find list=ipms address='))).toEqual([]);
    expect(ros.lines).toContain(`:do {/ip firewall address-list add list=ipms address=198.51.101.1 comment=ipms-rule-${ids[0]}} on-error={}`);
    expect(await states(dev.id)).toEqual(['applied', 'applied', 'applied']);

    // the marker there: this batch's rule only
    await ruleFor(dev.id, '198.51.101.9');
    ros.lines.length = 0;
    const again = await tick(dev, ros.transport());
    expect(again).toMatchObject([{ applied: 1, failed: 0, errors: [] }]);
    expect(ros.lines.filter((l) => l.includes('address-list add list=ipms '))).toEqual([
      expect.stringMatching(/^\/ip firewall address-list add list=ipms address=198\.51\.101\.9 comment=ipms-rule-\d+$/),
    ]);
  });

  it('routeros: a restore that fails half way leaves its rules due, not applied: the next batch sends them', async () => {
    const { dev, ids } = await device('ros-half', 'routeros', 103, [86400, 86400, null]);
    const ros = new FakeRouterOs();
    ros.entries.set('198.51.103.1', true).set('198.51.103.2', true);
    ros.reboot();
    // the session that carries the rules (after the look and the setup) times out
    ros.failSession = 3;
    const out = await tick(dev, ros.transport());
    expect(out).toMatchObject([{ device: 'ros-half', applied: 0, failed: 1 }]);
    expect(out[0]!.errors.join(' ')).toMatch(/recorded as applied there are sent again.*did not finish/);
    // the setup made the marker again: the next look sees nothing lost, yet nothing is forgotten
    expect(ros.marker).toBe(true);
    expect(await states(dev.id)).toEqual(['pending', 'pending', 'failed']);
    // the first of the two restored entries made it before the timeout
    expect([...ros.entries.keys()]).toEqual(['198.51.103.1']);
    ros.ran.length = 0;
    const next = await tick(dev, ros.transport());
    expect(next).toMatchObject([{ applied: 2, failed: 0 }]);
    expect([...ros.entries.keys()].sort()).toEqual(['198.51.103.1', '198.51.103.2']);
    // each is tried as an add; only the entry the router has is looked for in the list
    // (removed and added again, with the timeout sent now)
    expect(ros.ran.filter((c) => c.includes(' remove [find list=ipms '))).toEqual(['/ip firewall address-list remove [find list=ipms address=198.51.103.1]']);
    expect(ros.ran.filter((c) => c.includes(' add list=ipms ')).map((c) => c.split(' ')[5])).toEqual(
      ['address=198.51.103.1', 'address=198.51.103.1', 'address=198.51.103.2']);
    // the batch's own rule comes back after its backoff
    await t.db.exec('UPDATE RuleDevice SET next_attempt_at = UTC_TIMESTAMP(3) WHERE rule_id = ?', [ids[2]]);
    expect(await tick(dev, ros.transport())).toMatchObject([{ applied: 1, failed: 0 }]);
    expect(await states(dev.id)).toEqual(['applied', 'applied', 'applied']);
    expect([...ros.entries.keys()].sort()).toEqual(['198.51.103.1', '198.51.103.2', '198.51.103.3']);
  });

  it("a rule whose other device records it while this one's restore runs becomes active once the restore is done", async () => {
    for (const name of ['ros-a', 'ros-b']) {
      await t.db.exec("INSERT INTO Device (name, host, adapter, transport, username, key_ref, host_key) VALUES (?, '192.0.2.252', 'routeros', 'ssh', 'ipms', '/nonexistent', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')", [name]);
    }
    const [a, b] = await t.db.rows<DeviceRow>("SELECT * FROM Device WHERE name IN ('ros-a', 'ros-b') ORDER BY name");
    // one rule on both: applied on A, not yet on B, so it is still pending
    const rule = await ruleFor(a!.id, '198.51.104.1');
    await t.db.exec('INSERT INTO RuleDevice (rule_id, device_id) VALUES (?, ?)', [rule, b!.id]);
    await t.db.exec("UPDATE RuleDevice SET state = 'applied', applied_at = UTC_TIMESTAMP(3) WHERE rule_id = ? AND device_id = ?", [rule, a!.id]);
    // and a new rule for A, which makes a batch (and a connection) there
    await ruleFor(a!.id, '198.51.104.2');
    const status = async () => (await t.db.rows<{ status: string }>('SELECT status FROM Rule WHERE id = ?', [rule]))[0]!.status;
    expect(await status()).toBe('pending');
    const rosA = new FakeRouterOs();
    const rosB = new FakeRouterOs();
    rosB.marker = true;
    // A lost its entries; B's batch is recorded while A's restore (session 3) is on the router
    let bOut: unknown;
    rosA.during = { session: 3, run: async () => (bOut = await tick(b!, rosB.transport())) };
    const out = await tick(a!, rosA.transport());
    expect(bOut).toMatchObject([{ device: 'ros-b', applied: 1, failed: 0 }]);
    expect(out).toMatchObject([{ device: 'ros-a', applied: 1, failed: 0 }]);
    expect(out[0]!.errors).toEqual([expect.stringMatching(/^ros-a: ipms's objects were gone .*its 1 rule\(s\) recorded as applied there are sent again$/)]);
    expect([...rosA.entries.keys()].sort()).toEqual(['198.51.104.1', '198.51.104.2']);
    expect(await status()).toBe('active');
  });

  it('a device that holds no rule yet is not looked at', async () => {
    await t.db.exec("INSERT INTO Device (name, host, adapter, transport, username, key_ref, host_key) VALUES ('ios-new', '192.0.2.253', 'cisco-ios', 'ssh', 'ipms', '/nonexistent', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')");
    const [dev] = await t.db.rows<DeviceRow>("SELECT * FROM Device WHERE name = 'ios-new'");
    await ruleFor(dev!.id, '198.51.102.1');
    const sent: string[][] = [];
    let looked = 0;
    const out = await tick(dev!, fakeRouter({ 'show ': () => String(++looked) }, sent));
    expect(out).toMatchObject([{ device: 'ios-new', applied: 1, failed: 0, errors: [] }]);
    expect(looked).toBe(0);
  });
});
