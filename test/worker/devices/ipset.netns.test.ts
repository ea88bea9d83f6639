/**
 * The ipset adapter against the real ipset (7.17 here) and iptables inside a throwaway network
 * namespace (ipset sets are per namespace): `ipset restore`, `ipset list`, the iptables hooks,
 * the atomic swap of a full render, capacity refusal, packets, 100k entries.
 * Without the tools these tests fail.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ipToBytes, parseCidr } from '../../../lib/ip.ts';
import { RefusedError } from '../../../lib/errors.ts';
import { keyText, toDeviceRule, type DeviceRule } from '../../../worker/devices/index.ts';
import { ipset } from '../../../worker/devices/ipset.ts';
import { createNetns, requireTool, type Netns } from '../../helpers/netns.ts';

interface FxRule { id: number; src: string; prefix: number; dst?: string; proto?: string; port?: number; action: string; expiresInS?: number }
const fx = JSON.parse(readFileSync(new URL('../../fixtures/devices/rules.json', import.meta.url), 'utf8')) as { now: string; mixed: FxRule[]; remove: number[] };
const now = new Date(fx.now);
function rule(x: FxRule): DeviceRule {
  return toDeviceRule(
    { id: x.id, src_ip: ipToBytes(x.src), src_prefix: x.prefix, dst_ip: x.dst ? ipToBytes(x.dst) : null, dst_port: x.port ?? null, proto: x.proto ?? null, action: x.action, expires_at: x.expiresInS ? new Date(now.getTime() + x.expiresInS * 1000) : null },
    { protected: [], now },
  );
}
function mk(id: number, cidr: string, extra: Partial<FxRule> = {}): DeviceRule {
  const c = parseCidr(cidr);
  return rule({ id, src: c.address, prefix: c.prefix, action: 'DROP', ...extra });
}
// ipset carries source-only rules; the others are refused (see golden.test.ts)
const mixed = fx.mixed.map(rule).filter((r) => !ipset.unsupported(r));
const removed = mixed.filter((r) => fx.remove.includes(r.id));
const kept = mixed.filter((r) => !fx.remove.includes(r.id));

let ns: Netns;
beforeAll(() => {
  ns = createNetns();
});
afterAll(() => ns?.destroy());
beforeEach(() => {
  for (const t of ['ipset', 'iptables', 'ip6tables']) requireTool(t);
  for (const t of ['iptables', 'ip6tables']) ns.ok([t, '-w', '10', '-F']); // drop the set references
  ns.ok(['ipset', 'destroy']);
});

const state = (opts?: Record<string, unknown>) => ipset.parseState(ns.runSteps(ipset.readState(opts).steps), opts).map(keyText);
const expected = (rules: readonly DeviceRule[]) => ipset.expectedState(rules).map(keyText);
const apply = (add: DeviceRule[], remove: DeviceRule[], keep: DeviceRule[] = []) => ns.runSteps(ipset.render({ add, remove }, undefined, { keep }).steps);

describe('ipset in a network namespace', () => {
  it('setup creates the sets and hooks each one once, however often it runs', () => {
    ns.runSteps(ipset.setup().steps);
    ns.runSteps(ipset.setup().steps);
    expect(ns.ok(['ipset', 'list', '-n']).trim().split('\n').sort()).toEqual(['ipms4', 'ipms4-reject', 'ipms6', 'ipms6-reject']);
    expect(ns.ok(['ipset', 'list', '-t', 'ipms4'])).toMatch(/maxelem 262144 timeout 0/);
    const v4 = ns.ok(['iptables', '-S']);
    expect(v4.match(/^-A INPUT -m set --match-set ipms4 src -j DROP$/gm)).toHaveLength(1);
    expect(v4.match(/^-A FORWARD -m set --match-set ipms4-reject src -j REJECT --reject-with icmp-admin-prohibited$/gm)).toHaveLength(1);
    expect(ns.ok(['ip6tables', '-S']).match(/--match-set ipms6 src -j DROP/g)).toHaveLength(2);
  });

  it('teardown takes the iptables rules and the sets off, leaving the rest, and is harmless when they are gone', () => {
    ns.ok(['iptables', '-w', '10', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
    ns.ok(['ipset', 'create', 'mine', 'hash:ip']);
    ns.runSteps(ipset.setup().steps);
    apply(mixed, []);
    ns.runSteps(ipset.teardown!().steps);
    expect(ns.ok(['ipset', 'list', '-n']).trim()).toBe('mine');
    expect(ns.ok(['iptables', '-S']).trim().split('\n')).toEqual(['-P INPUT ACCEPT', '-P FORWARD ACCEPT', '-P OUTPUT ACCEPT', '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT']);
    expect(ns.ok(['ip6tables', '-S'])).not.toMatch(/match-set/);
    ns.runSteps(ipset.teardown!().steps);
    ns.ok(['ipset', 'destroy', 'mine']);
  });

  it('applies a batch, reads it back, removes (also what is not there)', () => {
    ns.runSteps(ipset.setup().steps);
    apply(mixed, []);
    expect(state()).toEqual(expected(mixed));
    const list4 = ns.ok(['ipset', 'list', 'ipms4']);
    expect(list4).toMatch(/^198\.51\.100\.64\/26 timeout (3600|359\d)$/m);
    expect(list4).toMatch(/^203\.0\.113\.0\/24 timeout 0$/m);
    expect(ns.ok(['ipset', 'list', 'ipms6-reject'])).toMatch(/^2001:db8:4::9 timeout (600|59\d)$/m);

    apply([], removed, kept);
    expect(state()).toEqual(expected(kept));
    apply([], [...removed, mk(999, '192.0.2.99/32')], kept);
    expect(state()).toEqual(expected(kept));
  });

  it('holds nested networks side by side and refreshes a timeout on re-add', () => {
    ns.runSteps(ipset.setup().steps);
    const big = mk(1, '10.0.0.0/16');
    const mid = mk(2, '10.0.5.0/24', { expiresInS: 100 });
    const host = mk(3, '10.0.5.7/32');
    apply([big, mid, host], []);
    expect(state()).toEqual(expected([big, mid, host]));
    apply([mk(2, '10.0.5.0/24', { expiresInS: 5000 })], [], [big, host]);
    expect(ns.ok(['ipset', 'list', 'ipms4'])).toMatch(/^10\.0\.5\.0\/24 timeout (5000|499\d)$/m);
    apply([], [mid], [big, host]);
    expect(state()).toEqual(expected([big, host]));
  });

  it('a full render swaps the sets in, while iptables uses them', () => {
    ns.runSteps(ipset.setup().steps);
    apply(mixed, []);
    ns.runSteps(ipset.render({ add: kept, remove: [] }, undefined, { mode: 'full' }).steps);
    expect(state()).toEqual(expected(kept));
    expect(ns.ok(['ipset', 'list', '-n']).trim().split('\n').sort()).toEqual(['ipms4', 'ipms4-reject', 'ipms6', 'ipms6-reject']);
    expect(ns.ok(['iptables', '-S', 'INPUT'])).toMatch(/--match-set ipms4 src -j DROP/);
  });

  it('refuses a batch that would overflow maxelem, with a typed error', () => {
    const opts = { maxelem: 1024 };
    const many = Array.from({ length: 30 }, (_, i) => mk(i + 1, `100.64.0.${i}/32`));
    expect(() => ipset.render({ add: many, remove: [] }, opts, { counts: { ipms4: 1000 } })).toThrow(RefusedError);
    try {
      ipset.render({ add: many, remove: [] }, opts, { counts: { ipms4: 1000 } });
    } catch (e) {
      expect((e as RefusedError).code).toBe('E_CAPACITY');
      expect((e as RefusedError).message).toMatch(/ipms4 would hold 1030 entries/);
    }
    expect(() => ipset.render({ add: many, remove: [] }, opts, { counts: { ipms4: 990 } })).not.toThrow();
    // and the kernel agrees on the limit: a set made with this maxelem refuses entry 1025
    ns.runSteps(ipset.setup(opts).steps);
    const full = Array.from({ length: 1024 }, (_, i) => mk(i + 1, `100.65.${i >> 8}.${i & 255}/32`));
    ns.runSteps(ipset.render({ add: full, remove: [] }, opts).steps);
    expect(() => ns.runSteps(ipset.render({ add: [mk(5000, '100.66.0.1/32')], remove: [] }, opts).steps)).toThrow(/full|maxelem/i);
  });

  it('enforces what it renders: DROP times out, REJECT is refused', () => {
    ns.ok(['ip', 'link', 'set', 'lo', 'up']);
    ns.runSteps(ipset.setup().steps);
    apply([mk(1, '127.0.0.2/32'), mk(2, '127.0.0.3/32', { action: 'REJECT' })], []);
    expect(ns.tcpProbe('127.0.0.2', '127.0.0.1', 18080)).toBe('timeout');
    expect(ns.tcpProbe('127.0.0.3', '127.0.0.1', 18080)).toMatch(/^E(HOSTUNREACH|ACCES|CONNREFUSED)$/);
    expect(ns.tcpProbe('127.0.0.4', '127.0.0.1', 18080)).toBe('connected');
  });

  it('takes 100k entries in one restore', { timeout: 180_000 }, () => {
    ns.runSteps(ipset.setup().steps);
    const many = Array.from({ length: 100_000 }, (_, i) => rule({ id: i + 1, src: `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, prefix: 32, action: 'DROP' }));
    ns.runSteps(ipset.render({ add: many, remove: [] }).steps, 120_000);
    expect(ns.ok(['ipset', 'list', '-t', 'ipms4'])).toMatch(/Number of entries: 100000/);
    expect(ipset.parseState(ns.runSteps(ipset.readState().steps, 120_000))).toHaveLength(100_000);
    ns.runSteps(ipset.render({ add: [], remove: many }).steps, 120_000);
    expect(ns.ok(['ipset', 'list', '-t', 'ipms4'])).toMatch(/Number of entries: 0/);
  });
});
