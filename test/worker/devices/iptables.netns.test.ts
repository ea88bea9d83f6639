/**
 * The iptables adapter against the real iptables/ip6tables (1.8.9, nf_tables backend here)
 * inside a throwaway network namespace: `-restore --test`, setup hooking once, full-state
 * replacement of the chain, reading it back, packets. Without the tools these tests fail.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ipToBytes, parseCidr } from '../../../lib/ip.ts';
import { keyText, toDeviceRule, type DeviceRule, type ExecStep } from '../../../worker/devices/index.ts';
import { iptables as ipt } from '../../../worker/devices/iptables.ts';
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
const mixed = fx.mixed.map(rule);
const kept = mixed.filter((r) => !fx.remove.includes(r.id));

let ns: Netns;
beforeAll(() => {
  ns = createNetns();
});
afterAll(() => ns?.destroy());
beforeEach(() => {
  for (const t of ['iptables', 'ip6tables', 'iptables-restore', 'ip6tables-restore']) requireTool(t);
  // a clean filter table in the namespace
  for (const t of ['iptables', 'ip6tables']) {
    ns.ok([t, '-w', '10', '-F']);
    ns.ok([t, '-w', '10', '-X']);
  }
});

const state = () => ipt.parseState(ns.runSteps(ipt.readState().steps)).map(keyText);
const expected = (rules: readonly DeviceRule[]) => ipt.expectedState(rules).map(keyText);
const full = (rules: DeviceRule[]) => ipt.render({ add: rules, remove: [] }, undefined, { mode: 'full' });

describe('iptables in a network namespace', () => {
  it('iptables-restore --test accepts what render writes, for both families', () => {
    for (const s of full(mixed).steps as ExecStep[]) {
      ns.ok([s.argv[0]!, '--test', ...s.argv.slice(1)], { stdin: s.stdin });
    }
    expect(ns.run(['iptables', '-S', 'IPMS']).status).toBe(1); // --test created nothing
  });

  it('teardown takes the jumps and the chain off, leaving the rest, and is harmless when they are gone', () => {
    ns.ok(['iptables', '-w', '10', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
    ns.runSteps(ipt.setup().steps);
    ns.runSteps(full(mixed).steps);
    ns.runSteps(ipt.teardown!().steps);
    expect(ns.ok(['iptables', '-S']).trim().split('\n')).toEqual(['-P INPUT ACCEPT', '-P FORWARD ACCEPT', '-P OUTPUT ACCEPT', '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT']);
    expect(ns.ok(['ip6tables', '-S']).trim().split('\n')).toEqual(['-P INPUT ACCEPT', '-P FORWARD ACCEPT', '-P OUTPUT ACCEPT']);
    ns.runSteps(ipt.teardown!().steps);
  });

  it('hooks the chain once however often setup runs', () => {
    ns.runSteps(ipt.setup().steps);
    ns.runSteps(ipt.setup().steps);
    ns.runSteps(ipt.setup().steps);
    for (const t of ['iptables', 'ip6tables']) {
      const rules = ns.ok([t, '-S']);
      expect(rules.match(/^-A INPUT -j IPMS$/gm)).toHaveLength(1);
      expect(rules.match(/^-A FORWARD -j IPMS$/gm)).toHaveLength(1);
      expect(rules).toMatch(/^-N IPMS$/m);
    }
  });

  it('replaces the whole chain on each render and reads back what it wrote', () => {
    ns.runSteps(ipt.setup().steps);
    ns.runSteps(full(mixed).steps);
    expect(state()).toEqual(expected(mixed));
    // iptables -S prints our lines back unchanged (comment included)
    const v4 = (full(mixed).steps[0] as ExecStep).stdin!.split('\n').filter((l) => l.startsWith('-A '));
    expect(ns.ok(['iptables', '-S', 'IPMS']).split('\n').filter((l) => l.startsWith('-A '))).toEqual(v4);
    const ids = ipt.parseState(ns.runSteps(ipt.readState().steps)).map((e) => e.id);
    expect(ids).toEqual(expect.arrayContaining([101, 105, 108, 109]));

    ns.runSteps(full(kept).steps); // a rule gone = the chain without it, not a -D
    expect(state()).toEqual(expected(kept));
    ns.runSteps(full(kept).steps); // idempotent: no duplicates
    expect(ns.ok(['iptables', '-S', 'IPMS']).split('\n').filter((l) => l.startsWith('-A '))).toHaveLength(kept.filter((r) => r.family === 4).length);
    ns.runSteps(full([]).steps);
    expect(state()).toEqual([]);
    // the hooks survive a render
    expect(ns.ok(['iptables', '-S', 'INPUT'])).toMatch(/^-A INPUT -j IPMS$/m);
  });

  it('writes every protocol of the fixed list in a form iptables takes', () => {
    ns.runSteps(ipt.setup().steps);
    const protos: [string, number | undefined][] = [['tcp', 22], ['udp', 53], ['sctp', 9], ['udplite', 7], ['dccp', 6], ['icmp', undefined], ['gre', undefined], ['esp', undefined], ['ah', undefined], ['igmp', undefined]];
    const rules = protos.map(([proto, port], i) => mk(10 + i, `198.51.100.${10 + i}/32`, { proto, ...(port ? { port } : {}) }));
    rules.push(mk(30, '2001:db8::1/128', { proto: 'icmpv6', action: 'REJECT' }), mk(31, '2001:db8::2/128', { proto: 'udplite', port: 5 }));
    ns.runSteps(full(rules).steps);
    expect(state()).toEqual(expected(rules));
  });

  it('enforces what it renders: DROP times out, REJECT is refused', () => {
    ns.ok(['ip', 'link', 'set', 'lo', 'up']);
    ns.runSteps(ipt.setup().steps);
    ns.runSteps(full([mk(1, '127.0.0.2/32'), mk(2, '127.0.0.3/32', { action: 'REJECT' }), mk(3, '127.0.0.4/32', { dst: '127.0.0.1', proto: 'tcp', port: 18080 })]).steps);
    expect(ns.tcpProbe('127.0.0.2', '127.0.0.1', 18080)).toBe('timeout');
    expect(ns.tcpProbe('127.0.0.3', '127.0.0.1', 18080)).toMatch(/^E(HOSTUNREACH|ACCES|CONNREFUSED)$/);
    expect(ns.tcpProbe('127.0.0.4', '127.0.0.1', 18080)).toBe('timeout');
    expect(ns.tcpProbe('127.0.0.4', '127.0.0.1', 18081)).toBe('connected');
  });

  it('rewrites a chain of a few thousand rules in one restore', { timeout: 120_000 }, () => {
    ns.runSteps(ipt.setup().steps);
    const many = Array.from({ length: 3000 }, (_, i) => mk(i + 1, `100.64.${i >> 8}.${i & 255}/32`));
    ns.runSteps(full(many).steps, 60_000);
    expect(ipt.parseState(ns.runSteps(ipt.readState().steps))).toHaveLength(3000);
  });
});
