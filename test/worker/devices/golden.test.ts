/**
 * Golden files: what each adapter renders for the shared rules (test/fixtures/devices/rules.json)
 * must match test/fixtures/devices/<adapter>/*.txt exactly. After a deliberate change, run with
 * UPDATE_GOLDEN=1, read the diff, and commit the files.
 *
 * Cisco IOS, pf and RouterOS are tested here only: there is no Cisco router, no pf (a BSD
 * kernel) and no RouterOS on this machine, so their text and their state parsers are checked
 * against golden files and hand-written sample outputs, never against a device. nftables,
 * iptables and ipset are also applied for real in a network namespace (*.netns.test.ts).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ipToBytes } from '../../../lib/ip.ts';
import { IpmsError } from '../../../lib/errors.ts';
import { ADAPTERS, adapterFor, formatPlan, keyText, toDeviceRule, type DeviceRule } from '../../../worker/devices/index.ts';
import { joinPlans, type ExecStep, type SessionStep } from '../../../worker/devices/types.ts';
import { sessionError } from '../../../worker/transports/types.ts';

interface FxRule { id: number; src: string; prefix: number; dst?: string; proto?: string; port?: number; action: string; expiresInS?: number }
const fx = JSON.parse(readFileSync(new URL('../../fixtures/devices/rules.json', import.meta.url), 'utf8')) as { now: string; mixed: FxRule[]; remove: number[] };
const now = new Date(fx.now);
function rule(x: FxRule): DeviceRule {
  return toDeviceRule(
    { id: x.id, src_ip: ipToBytes(x.src), src_prefix: x.prefix, dst_ip: x.dst ? ipToBytes(x.dst) : null, dst_port: x.port ?? null, proto: x.proto ?? null, action: x.action, expires_at: x.expiresInS ? new Date(now.getTime() + x.expiresInS * 1000) : null },
    { protected: [], now },
  );
}
const mixed = fx.mixed.map(rule);

function golden(adapter: string, file: string, actual: string): void {
  const url = new URL(`../../fixtures/devices/${adapter}/${file}`, import.meta.url);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(url.pathname), { recursive: true });
    writeFileSync(url, actual);
    return;
  }
  if (!existsSync(url)) throw new Error(`golden file ${adapter}/${file} is missing; run with UPDATE_GOLDEN=1 and review it`);
  expect(actual).toBe(readFileSync(url, 'utf8'));
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof IpmsError ? e.code : `not an IpmsError: ${String(e)}`;
  }
  return undefined;
}

describe.each(Object.keys(ADAPTERS))('%s golden text', (name) => {
  const a = adapterFor(name);
  const supported = mixed.filter((r) => !a.unsupported(r));
  const removed = supported.filter((r) => fx.remove.includes(r.id));
  const kept = supported.filter((r) => !fx.remove.includes(r.id));
  const onlyFull = !a.modes.includes('delta');

  it('setup', () => golden(name, 'setup.txt', formatPlan(a.setup())));
  it('readState', () => golden(name, 'read-state.txt', formatPlan(a.readState())));

  it('mixed add batch', () => {
    const plan = a.render({ add: supported, remove: [] }, undefined, { mode: onlyFull ? 'full' : 'delta' });
    golden(name, 'add.txt', formatPlan(plan));
    // deterministic: the order rules arrive in does not matter
    const shuffled = [...supported].reverse();
    expect(formatPlan(a.render({ add: shuffled, remove: [] }, undefined, { mode: onlyFull ? 'full' : 'delta' }))).toBe(formatPlan(plan));
  });

  it('remove batch', () => {
    // full-state devices take the remaining rules instead of a removal
    const plan = onlyFull ? a.render({ add: kept, remove: [] }, undefined, { mode: 'full' }) : a.render({ add: [], remove: removed }, undefined, { keep: kept });
    golden(name, 'remove.txt', formatPlan(plan));
  });

  if (a.modes.includes('full') && !onlyFull) it('full render', () => {
    golden(name, 'full.txt', formatPlan(a.render({ add: supported, remove: [] }, undefined, { mode: 'full' })));
  });

  it('an empty delta renders nothing', () => {
    if (onlyFull) expect(code(() => a.render({ add: [], remove: [] }, undefined, { mode: 'delta' }))).toBe('E_RENDER');
    else expect(a.render({ add: [], remove: [] }).steps).toEqual([]);
  });

  it('refuses rules that did not come from toDeviceRule', () => {
    const forged = { ...mixed[0]! } as DeviceRule;
    expect(code(() => a.render({ add: [forged], remove: [] }, undefined, { mode: a.modes[0] }))).toBe('E_UNVALIDATED');
  });

  it('refuses bad names and unknown options', () => {
    const key = { nftables: 'table', iptables: 'chain', ipset: 'set', 'cisco-ios': 'acl', pf: 'table', routeros: 'list' }[name]!;
    for (const bad of ['ipms; flush ruleset', 'x y', '1abc', '', 'a'.repeat(40), 'ipms\nreboot', '$(id)']) {
      expect(code(() => a.setup({ [key]: bad }))).toBe('E_DEVICE_OPTION');
    }
    expect(code(() => a.setup({ [`${key}s`]: 'x' }))).toBe('E_DEVICE_OPTION');
  });

  it('names the objects it owns on a device, from its options', () => {
    const objs = a.objects();
    expect(objs.length).toBeGreaterThan(0);
    for (const o of objs) expect(o).toMatch(/^(table|chain|set|acl|list|anchor) [A-Za-z][A-Za-z0-9_-]*$/);
    const key = { nftables: 'table', iptables: 'chain', ipset: 'set', 'cisco-ios': 'acl', pf: 'table', routeros: 'list' }[name]!;
    expect(a.objects({ [key]: 'ipmsother' }).some((o) => o.includes('ipmsother'))).toBe(true);
    expect(a.objects({ [key]: 'ipmsother' })).not.toEqual(objs);
  });

  it('takes a list option from the CLI as names with commas between (--option hooks=INPUT,FORWARD)', () => {
    for (const name of ['iptables', 'ipset'] as const) {
      const a = ADAPTERS[name]!;
      expect(a.setup({ hooks: 'INPUT,FORWARD' })).toEqual(a.setup({ hooks: ['INPUT', 'FORWARD'] }));
      expect(a.setup({ hooks: 'INPUT' }).steps.length).toBeLessThan(a.setup().steps.length);
      expect(code(() => a.setup({ hooks: 'INPUT,$(reboot)' }))).toBe('E_DEVICE_OPTION');
    }
  });

  it('refuses to take over a built-in chain or another tool\'s table, which it would rewrite whole', () => {
    const taken = { nftables: ['filter', 'NAT', 'firewalld'], iptables: ['INPUT', 'FORWARD', 'DOCKER-USER', 'f2b-sshd'] }[name as 'nftables'] ?? [];
    for (const bad of taken) expect(code(() => a.setup({ [name === 'nftables' ? 'table' : 'chain']: bad }))).toBe('E_DEVICE_OPTION');
    if (name === 'iptables') expect(code(() => a.setup({ chain: 'MYCHAIN', hooks: ['INPUT', 'MYCHAIN'] }))).toBe('E_DEVICE_OPTION');
  });

  it('refuses what it cannot carry, with a reason', () => {
    for (const r of mixed.filter((x) => a.unsupported(x))) {
      expect(code(() => a.render({ add: [r], remove: [] }, undefined, { mode: a.modes[0] }))).toBe('E_UNSUPPORTED');
    }
  });
});

describe('adapters that exist only as golden text parse sample device output', () => {
  const sample = (adapter: string, file: string) => readFileSync(new URL(`../../fixtures/devices/${adapter}/${file}`, import.meta.url), 'utf8');

  it('cisco-ios: show ip access-lists / show ipv6 access-list (hand-written sample, not from a router)', () => {
    const a = ADAPTERS['cisco-ios']!;
    const got = a.parseState([sample('cisco-ios', 'state-v4.txt'), sample('cisco-ios', 'state-v6.txt')]);
    expect(got.map(({ id: _id, ...k }) => keyText(k))).toEqual(a.expectedState(mixed).map(keyText));
    expect(got.map((e) => e.id)).toEqual(expect.arrayContaining([101, 105, 109]));
    // an interactive session (a terminal) ends IOS lines with CR LF: the same entries
    const crlf = a.parseState([sample('cisco-ios', 'state-v4.txt'), sample('cisco-ios', 'state-v6.txt')].map((t) => t.replace(/\n/g, '\r\n')));
    expect(crlf).toEqual(got);
    // a reload renumbered the list (releases that do not keep sequence numbers): the final
    // permit is no longer last, which the state read says instead of reporting no drift
    const renumbered = sample('cisco-ios', 'state-v4.txt').replace('2147483647 permit ip any any', '70 permit ip any any');
    expect(() => a.parseState([renumbered, ''])).toThrow(/the final permit is entry 70, not 2147483647/);
    const renumbered6 = sample('cisco-ios', 'state-v6.txt').replace(/sequence 2147483647/, 'sequence 40');
    expect(() => a.parseState(['', renumbered6])).toThrow(/the final permit is entry 40/);
    // a final permit removed by hand: the list's implicit deny drops everything else
    const noPermit = sample('cisco-ios', 'state-v4.txt').replace(/^.*permit ip any any.*$/m, '');
    expect(() => a.parseState([noPermit, ''])).toThrow(/the IPv4 list has no final 'permit ip any any'/);
    expect(() => a.parseState(['', sample('cisco-ios', 'state-v6.txt').replace(/^.*permit ipv6 any any.*$/m, '')])).toThrow(/the IPv6 list has no final/);
    // (an empty or missing list is no entries at all, and no complaint)
    expect(a.parseState(['Router#show ip access-lists IPMS-IN\r\nRouter#', ''])).toEqual([]);
    // port names IOS-XE 16 prints (msrpc is 135; drip 3949 is in the tcp list), with the hit
    // count IOS adds in the singular too
    expect(a.parseState([' 110 deny tcp host 198.51.100.1 host 192.0.2.1 eq msrpc\r\n 2147483647 permit ip any any\r\n', ''])).toMatchObject([{ dstPort: 135, id: 110 }]);
    expect(a.parseState([' 111 deny tcp host 198.51.100.1 host 192.0.2.1 eq drip (1 match)\r\n 2147483647 permit ip any any (1 match)\r\n', ''])).toMatchObject([{ dstPort: 3949, id: 111 }]);
  });

  it("cisco-ios: the setup of a later connection takes IOS's duplicate-sequence answer for its final permit as done", () => {
    const steps = ADAPTERS['cisco-ios']!.setup().steps;
    expect(steps.length).toBe(1);
    const ok = 'okErrors' in steps[0]! ? steps[0].okErrors : undefined;
    expect(sessionError('Router(config-ext-nacl)#2147483647 permit ip any any\r\n% Duplicate sequence number\r\n', ok)).toBeUndefined();
    // any other complaint still fails the step, and without the exemption this one does too
    expect(sessionError('% Invalid input detected at \'^\' marker.\r\n% Duplicate sequence number', ok)).toBe("% Invalid input detected at '^' marker.");
    expect(sessionError('% Duplicate sequence number\r\n')).toBe('% Duplicate sequence number');
    // RouterOS's own words for a failed line
    for (const said of ['no such item', 'input does not match any value of list', 'invalid value for argument address']) {
      expect(sessionError(`[admin@MikroTik] > /ip firewall address-list remove 7\r\n${said}\r\n`)).toBe(said);
    }
  });

  it('pf: kills the states of a small batch\'s new sources only (option killStates)', () => {
    const a = ADAPTERS.pf!;
    const sup = mixed.filter((r) => !a.unsupported(r));
    const kills = (opts?: Record<string, unknown>) => a.render({ add: sup, remove: [] }, opts).steps
      .filter((st) => 'argv' in st && st.argv[1] === '-k').length;
    expect(kills()).toBe(new Set(sup.map((r) => keyText({ ...r, action: 'DROP' }))).size);
    expect(kills({ killStates: 0 })).toBe(0);
    expect(kills({ killStates: sup.length - 1 })).toBe(0);
    expect(code(() => a.render({ add: sup, remove: [] }, { killStates: -1 }))).toBe('E_DEVICE_OPTION');
  });

  it('pf: adds and deletes go at most 50,000 addresses a command (FreeBSD refuses a request over net.pf.request_maxcount, 65535)', () => {
    const a = ADAPTERS.pf!;
    const many = Array.from({ length: 120_000 }, (_, i) => rule({ id: i + 1, src: `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, prefix: 32, action: 'DROP' }));
    const steps = a.render({ add: many, remove: [] }, { killStates: 0 }).steps as ExecStep[];
    expect(steps.map((st) => [st.argv.slice(4).join(' '), st.stdin!.trim().split('\n').length])).toEqual([
      ['ipms -T add -f -', 50_000], ['ipms -T add -f -', 50_000], ['ipms -T add -f -', 20_000],
    ]);
    // every address once, in order
    expect(steps.flatMap((st) => st.stdin!.trim().split('\n'))).toEqual(many.map((r) => r.src.address));
    // a full render (a table lost in a reboot, a reconcile): the first chunk replaces, the rest is added
    const full = a.render({ add: many, remove: [] }, { killStates: 0 }, { mode: 'full' }).steps as ExecStep[];
    expect(full.map((st) => `${st.argv[4]} ${st.argv[6]} ${st.stdin ? st.stdin.trim().split('\n').length : 0}`)).toEqual([
      'ipms replace 50000', 'ipms add 50000', 'ipms add 20000', 'ipms_reject replace 0',
    ]);
    const del = a.render({ add: [], remove: many.slice(0, 60_000) }, { killStates: 0 }).steps as ExecStep[];
    expect(del.map((st) => `${st.argv[6]} ${st.stdin!.trim().split('\n').length}`)).toEqual(['delete 50000', 'delete 10000']);
  });

  it('cisco-ios and routeros: a feed\'s worth of entries goes as sessions of at most 1,000 entry lines, in order', () => {
    const many = Array.from({ length: 1499 }, (_, i) => rule({ id: i + 1, src: `11.0.${i >> 8}.${i & 255}`, prefix: 32, action: 'DROP' }));
    const v6 = rule({ id: 1501, src: '2001:db8::1', prefix: 128, action: 'DROP' });
    const ios = ADAPTERS['cisco-ios']!.render({ add: [...many, v6], remove: [] }, { writeMemory: true }).steps as { session: string[] }[];
    // 2 lines per add (no ..., then the entry): 3000 lines in sessions of 1000
    expect(ios.map((st) => st.session.filter((l) => l.startsWith(' ')).length)).toEqual([1000, 1000, 1000]);
    for (const st of ios) expect([st.session[0], st.session.at(-1)]).toEqual(['configure terminal', st === ios.at(-1) ? 'write memory' : 'end']);
    // the last session ends the IPv4 list and holds the IPv6 entry, each under its header
    expect(ios.at(-1)!.session.filter((l) => !l.startsWith(' '))).toEqual(['configure terminal', 'ip access-list extended IPMS-IN', 'exit',
      'ipv6 access-list IPMS6-IN', 'exit', 'end', 'write memory']);
    expect(ios.at(-1)!.session.slice(-6, -3)).toEqual(['ipv6 access-list IPMS6-IN', ' no deny ipv6 host 2001:db8::1 any', ' deny ipv6 host 2001:db8::1 any sequence 1501']);
    const entries = ios.flatMap((st) => st.session.filter((l) => /^ \d+ deny ip /.test(l)).map((l) => Number(l.trim().split(' ')[0])));
    expect(entries).toEqual(many.map((r) => r.id));
    const ros = ADAPTERS.routeros!.render({ add: many, remove: [] }).steps as { session: string[] }[];
    // (not fresh: each add may replace its entry, a walk of the list and an add, and counts twice)
    expect(ros.map((st) => st.session.length)).toEqual([500, 500, 499]);
    const fresh = ADAPTERS.routeros!.render({ add: many, remove: [] }, undefined, { mode: 'delta', fresh: new Set(many.map((r) => r.id)) }).steps as { session: string[] }[];
    expect(fresh.map((st) => st.session.length)).toEqual([1000, 499]);
    expect(ros.flatMap((st) => st.session).filter((l) => l.includes(' add ')).length).toBe(1499);
  });

  it('routeros: a fresh rule alone on its entry is a plain add; any other replaces the entry only when the router has it', () => {
    const a = ADAPTERS.routeros!;
    const [r1, r2, r3] = [1, 2, 3].map((id) => rule({ id, src: `198.51.100.${id}`, prefix: 32, action: 'DROP' }));
    const twin = rule({ id: 4, src: '198.51.100.2', prefix: 32, action: 'DROP' });
    const lines = (a.render({ add: [r1!, r2!, r3!], remove: [] }, undefined, { mode: 'delta', fresh: new Set([1, 2]), keep: [twin] }).steps[0] as { session: string[] }).session;
    // rule 2 shares its entry with a kept rule, rule 3 is not fresh: each is added, or replaces
    // the entry the router has (the add fails on it)
    expect(lines).toEqual([
      '/ip firewall address-list add list=ipms address=198.51.100.1 comment=ipms-rule-1',
      ':do {/ip firewall address-list add list=ipms address=198.51.100.2 comment=ipms-rule-2} on-error={' +
        '/ip firewall address-list remove [find list=ipms address=198.51.100.2]; /ip firewall address-list add list=ipms address=198.51.100.2 comment=ipms-rule-2}',
      ':do {/ip firewall address-list add list=ipms address=198.51.100.3 comment=ipms-rule-3} on-error={' +
        '/ip firewall address-list remove [find list=ipms address=198.51.100.3]; /ip firewall address-list add list=ipms address=198.51.100.3 comment=ipms-rule-3}',
    ]);
  });

  it('pf: a device whose anchor lost its rules (a reboot) is seen as lost', () => {
    const check = ADAPTERS.pf!.lostCheck!({ anchor: 'ipms' });
    expect(check.step).toEqual({ argv: ['pfctl', '-a', 'ipms', '-s', 'rules'] });
    expect(check.lost('')).toBe(true);
    expect(check.lost('No ALTQ support in kernel\nALTQ related functions disabled\n')).toBe(true);
    expect(check.lost('block drop in quick from <ipms> to any\nblock return in quick from <ipms_reject> to any\n')).toBe(false);
  });

  it('ipset: a device whose sets are gone (a reboot, ipset destroy) is seen as lost', () => {
    const check = ADAPTERS.ipset!.lostCheck!();
    expect(check.step).toEqual({ argv: ['ipset', 'list', '-n'] });
    expect(check.lost('ipms4\nipms6\nipms4-reject\nipms6-reject\nf2b-sshd\n')).toBe(false);
    expect(check.lost('f2b-sshd\n')).toBe(true);
    expect(check.lost('ipms4\nipms4-reject\n')).toBe(true);
    expect(ADAPTERS.ipset!.lostCheck!({ ipv6: false }).lost('ipms4\nipms4-reject\n')).toBe(false);
  });

  it('cisco-ios: an ACL without its final permit (gone after a reload) is seen as lost; a renumbered permit is not', () => {
    const check = ADAPTERS['cisco-ios']!.lostCheck!({ acl: 'IPMS-EDGE' });
    const show = 'show ip access-lists IPMS-EDGE | include permit ip any any';
    expect(check.step).toEqual({ session: ['terminal length 0', show] });
    // (IOS prints nothing for an ACL it does not have; the session echoes the commands)
    expect(check.lost(`edge#terminal length 0\r\nedge#${show}\r\nedge#exit\r\n`)).toBe(true);
    expect(check.lost(`edge#${show}\r\n    2147483647 permit ip any any (88 matches)\r\nedge#exit\r\n`)).toBe(false);
    // a permit a reload renumbered
    expect(check.lost(`edge#${show}\n    20 permit ip any any\n`)).toBe(false);
    // nothing came back: no sign of a loss
    expect(check.lost('')).toBe(false);
  });

  it("cisco-ios: the router's uptime from show version (a reload from a saved configuration)", () => {
    const uptime = ADAPTERS['cisco-ios']!.lostCheck!().uptime!;
    expect(uptime.step).toMatchObject({ session: ['terminal length 0', 'show version | include uptime is'] });
    // a login whose view or privilege does not allow show version: unknown, not a failed batch
    expect(sessionError("r1#show version | include uptime is\r\n                 ^\r\n% Invalid input detected at '^' marker.\r\nr1#", (uptime.step as SessionStep).okErrors)).toBeUndefined();
    expect(sessionError('r1#show version | include uptime is\r\nCommand authorization failed.\r\nr1#', (uptime.step as SessionStep).okErrors)).toBeUndefined();
    const up = uptime.seconds;
    expect(up('edge#show version | include uptime is\r\nedge uptime is 1 year, 22 weeks, 5 days, 3 hours, 41 minutes\r\nedge#')).toBe(
      365 * 86400 + 22 * 7 * 86400 + 5 * 86400 + 3 * 3600 + 41 * 60);
    expect(up('core-sw-2 uptime is 1 week, 1 day, 1 hour, 1 minute\n')).toBe(7 * 86400 + 86400 + 3600 + 60);
    expect(up('rtr uptime is 0 minutes\n')).toBe(0);
    // (IOS XR writes no commas)
    expect(up('RP/0/RSP0/CPU0:xr uptime is 1 week 2 days 3 hours 4 minutes\n')).toBe(9 * 86400 + 3 * 3600 + 240);
    // the echoed command alone, or no answer: unknown
    expect(up('edge#show version | include uptime is\r\nedge#')).toBeUndefined();
    expect(up('')).toBeUndefined();
  });

  it('routeros: a router without the marker entry (rebooted: it had a timeout) is seen as lost', () => {
    const check = ADAPTERS.routeros!.lostCheck!({ list: 'ipms-edge' });
    expect(check.step).toEqual({ session: [':put ("ipms-edge-alive=" . [:len [/ip firewall address-list find list=ipms-edge-alive]])'], logout: '/quit\n' });
    const echo = '[ipms@gw] > :put ("ipms-edge-alive=" . [:len [/ip firewall address-list find list=ipms-edge-alive]])\r\n';
    expect(check.lost(`${echo}ipms-edge-alive=0\r\n[ipms@gw] > /quit\r\n`)).toBe(true);
    expect(check.lost(`${echo}ipms-edge-alive=1\r\n`)).toBe(false);
    // an answer it cannot read is not taken as a loss (that would re-send everything)
    expect(check.lost(echo)).toBe(false);
    expect(check.lost('bad command name put (line 1 column 2)\n')).toBe(false);
  });

  it('pf: pfctl -T show (hand-written sample)', () => {
    const a = ADAPTERS.pf!;
    const sup = mixed.filter((r) => !a.unsupported(r));
    expect(a.parseState([sample('pf', 'state-drop.txt'), sample('pf', 'state-reject.txt')]).map(keyText)).toEqual(a.expectedState(sup).map(keyText));
  });

  it('routeros: :put of each address list (hand-written sample)', () => {
    const a = ADAPTERS.routeros!;
    const sup = mixed.filter((r) => !a.unsupported(r));
    const outs = ['state-drop4.txt', 'state-drop6.txt', 'state-reject4.txt', 'state-reject6.txt'].map((f) => sample('routeros', f));
    expect(a.parseState(outs).map(keyText)).toEqual(a.expectedState(sup).map(keyText));
  });
});

describe('joinPlans', () => {
  it('joins neighbouring steps of one command with their stdin, and nothing else', () => {
    const nft = ['nft', '-f', '-'];
    const p = joinPlans(
      { steps: [{ argv: nft, stdin: 'add table inet ipms\n' }] },
      { steps: [{ argv: nft, stdin: 'add element a\n' }, { argv: ['ipset', 'restore'], stdin: 'x\n' }, { argv: nft, stdin: 'b\n', okExit: [0, 1] }] },
    );
    expect(p.steps).toEqual([
      { argv: nft, stdin: 'add table inet ipms\nadd element a\n' },
      { argv: ['ipset', 'restore'], stdin: 'x\n' },
      { argv: nft, stdin: 'b\n', okExit: [0, 1] },
    ]);
  });
});
