/**
 * The nftables adapter against the real nft (1.0.6 here) inside a throwaway network namespace:
 * check mode, apply, read back, the safe delete, nested networks, atomic failure, packets, 100k.
 * Nothing runs in the machine's own namespace. Without nft these tests fail (they do not skip).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ipToBytes, parseCidr } from '../../../lib/ip.ts';
import { keyText, toDeviceRule, type DeviceRule, type ExecStep } from '../../../worker/devices/index.ts';
import { nftables as nft } from '../../../worker/devices/nftables.ts';
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
const removed = mixed.filter((r) => fx.remove.includes(r.id));
const kept = mixed.filter((r) => !fx.remove.includes(r.id));

let ns: Netns;
beforeAll(() => {
  ns = createNetns();
});
afterAll(() => ns?.destroy());
beforeEach(() => {
  requireTool('nft');
  ns.ok(['nft', 'flush', 'ruleset']);
});

const stdinOf = (steps: readonly unknown[]) => steps.map((s) => (s as ExecStep).stdin ?? '').join('');
const state = () => nft.parseState(ns.runSteps(nft.readState().steps)).map(keyText);
const expected = (rules: readonly DeviceRule[]) => nft.expectedState(rules).map(keyText);
const apply = (add: DeviceRule[], remove: DeviceRule[], keep: DeviceRule[] = []) => ns.runSteps(nft.render({ add, remove }, undefined, { keep }).steps);

describe('nftables in a network namespace', () => {
  it('nft -c accepts setup with the mixed, remove and full batches', () => {
    const setup = stdinOf(nft.setup().steps);
    for (const plan of [nft.render({ add: mixed, remove: [] }), nft.render({ add: [], remove: removed }, undefined, { keep: kept }), nft.render({ add: mixed, remove: [] }, undefined, { mode: 'full' })]) {
      ns.ok(['nft', '-c', '-f', '-'], { stdin: setup + stdinOf(plan.steps) });
    }
    expect(ns.ok(['nft', 'list', 'ruleset']).trim()).toBe(''); // check mode changed nothing
  });

  it('teardown takes the table off with its hooks, and is harmless when it is gone', () => {
    ns.ok(['nft', 'add', 'table', 'inet', 'mine']);
    ns.runSteps(nft.setup().steps);
    apply(mixed, []);
    ns.runSteps(nft.teardown!().steps);
    expect(ns.ok(['nft', 'list', 'tables']).trim()).toBe('table inet mine');
    ns.runSteps(nft.teardown!().steps);
    ns.runSteps(nft.setup().steps);
    expect(ns.ok(['nft', 'list', 'tables'])).toContain('table inet ipms');
  });

  it('applies setup twice, a mixed batch and a removal, and reads back what it applied', () => {
    ns.runSteps(nft.setup().steps);
    ns.runSteps(nft.setup().steps);
    const table = ns.ok(['nft', 'list', 'table', 'inet', 'ipms']);
    expect(table.match(/jump block/g)).toHaveLength(2);
    expect(table.match(/@drop4 counter/g)).toHaveLength(1);

    apply(mixed, []);
    expect(state()).toEqual(expected(mixed));
    // timeouts are on the elements
    const json = ns.ok(['nft', '-j', 'list', 'set', 'inet', 'ipms', 'drop4_net']);
    expect(json).toMatch(/"prefix": \{"addr": "198\.51\.100\.64", "len": 26\}\}, "timeout": 3600/);
    expect(ns.ok(['nft', 'list', 'set', 'inet', 'ipms', 'reject6_net_port'])).toMatch(/2001:db8:3::\/64 \. udp \. 53 timeout 1d1h1m1s/);

    // the same batch again: adds of elements that are there are no-ops
    apply(mixed, []);
    expect(state()).toEqual(expected(mixed));

    apply([], removed, kept);
    expect(state()).toEqual(expected(kept));
    // removing again, and removing what never was there: `delete element` of a missing element
    // would abort the transaction, the add/delete pair does not
    apply([], [...removed, mk(999, '203.0.113.99/32'), mk(998, '2001:db8:77::/48')], kept);
    expect(state()).toEqual(expected(kept));
  });

  it('keeps nested networks apart (no auto-merge) and removes one without touching the others', () => {
    ns.runSteps(nft.setup().steps);
    const big = mk(1, '10.0.0.0/16');
    const mid = mk(2, '10.0.5.0/24', { expiresInS: 3600 });
    const host = mk(3, '10.0.5.7/32');
    const mid6 = mk(4, '2001:db8:10::/48');
    const big6 = mk(5, '2001:db8::/32');
    apply([big], []);
    apply([mid], [], [big]);
    expect(state()).toEqual(expected([big, mid]));
    apply([host, mid6], [], [big, mid]);
    apply([big6], [], [big, mid, host, mid6]); // a parent around an existing child
    expect(state()).toEqual(expected([big, mid, host, mid6, big6]));
    apply([], [mid], [big, host, mid6, big6]);
    expect(state()).toEqual(expected([big, host, mid6, big6]));
    apply([], [big, big6], [host, mid6]);
    expect(state()).toEqual(['DROP 10.0.5.7/32', 'DROP 2001:db8:10::/48']);
    // overlapping rules in one batch, with a shorter-lived child inside a longer-lived parent
    apply([mk(6, '192.168.0.0/16', { expiresInS: 100 }), mk(7, '192.168.1.0/24', { expiresInS: 900 })], []);
    // (the pieces of nested networks live two minutes longer: see the next test)
    expect(ns.ok(['nft', 'list', 'set', 'inet', 'ipms', 'drop4_net'])).toMatch(/192\.168\.1\.0\/24 timeout 17m/);
  });

  it('takes an expired network off a nest although its own lifetime on the device is over', () => {
    ns.runSteps(nft.setup().steps);
    const parent = mk(1, '10.20.0.0/16', { expiresInS: 1 });
    const child = mk(2, '10.20.5.0/24');
    apply([parent, child], []);
    // the parent's pieces carry its lifetime and the grace (1 s + 2 min)
    expect(ns.ok(['nft', 'list', 'set', 'inet', 'ipms', 'drop4_net'])).toMatch(/10\.20\.0\.0\/22 timeout 2m1s/);
    // the rule has expired; the worker takes it off a moment later, deleting exactly its pieces
    // (had the kernel timed them out, that delete would abort the whole transaction)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
    apply([], [parent], [child]);
    expect(state()).toEqual(expected([child]));
  });

  it('a delta that does not match the device fails whole and changes nothing; a full render repairs it', () => {
    ns.runSteps(nft.setup().steps);
    const big = mk(1, '10.0.0.0/16');
    const other = mk(2, '198.51.100.1/32');
    apply([big], []);
    const before = state();
    // the worker forgot to pass `big` in keep: the pieces cannot be cut, the transaction fails
    expect(() => apply([mk(3, '10.0.5.0/24'), other], [])).toThrow(/interval overlaps|exists/);
    expect(state()).toEqual(before);
    ns.runSteps(nft.render({ add: [big, mk(3, '10.0.5.0/24'), other], remove: [] }, undefined, { mode: 'full' }).steps);
    expect(state()).toEqual(expected([big, mk(3, '10.0.5.0/24'), other]));
  });

  it('adds fresh rules plainly, and still replaces what a rule that is not fresh may have left', () => {
    ns.runSteps(nft.setup().steps);
    const a = mk(1, '198.51.100.1/32', { expiresInS: 600 });
    const b = mk(2, '198.51.100.2/32');
    const plan = nft.render({ add: [a, b], remove: [] }, undefined, { fresh: new Set([1, 2]) });
    const text = stdinOf(plan.steps);
    expect(text).not.toMatch(/delete element/);
    expect(text.match(/198\.51\.100\.1/g)).toHaveLength(1);
    ns.runSteps(plan.steps);
    // a retry of the same fresh batch (the first one's answer was lost) is a no-op, not an error
    ns.runSteps(plan.steps);
    expect(state()).toEqual(expected([a, b]));
    // the same source again, not fresh (re-enabled, or an edited expiry): delete and add again,
    // so the element takes the new lifetime
    const again = mk(3, '198.51.100.1/32', { expiresInS: 7200 });
    const redo = nft.render({ add: [again], remove: [] }, undefined, { fresh: new Set() });
    expect(stdinOf(redo.steps)).toMatch(/delete element inet ipms drop4 \{\n\t198\.51\.100\.1\n\}/);
    ns.runSteps(redo.steps);
    expect(ns.ok(['nft', 'list', 'set', 'inet', 'ipms', 'drop4'])).toMatch(/198\.51\.100\.1 timeout 2h/);
    // fresh, but sharing its address with another rule of the batch: not a plain add
    const twin = nft.render({ add: [mk(4, '198.51.100.9/32')], remove: [mk(5, '198.51.100.9/32')] }, undefined, { fresh: new Set([4]) });
    expect(stdinOf(twin.steps)).toMatch(/delete element/);
  });

  it('enforces what it renders: DROP times out, REJECT is refused, ports and destinations count', () => {
    ns.ok(['ip', 'link', 'set', 'lo', 'up']);
    for (const a of ['2001:db8:9::1', '2001:db8:9::2', '2001:db8:9::3']) ns.ok(['ip', '-6', 'addr', 'add', `${a}/128`, 'dev', 'lo', 'nodad']);
    ns.runSteps(nft.setup().steps);
    apply(
      [
        mk(1, '127.0.0.2/32'),
        mk(2, '127.0.0.3/32', { action: 'REJECT' }),
        mk(3, '127.0.0.4/32', { dst: '127.0.0.1', proto: 'tcp', port: 18080 }),
        mk(4, '2001:db8:9::2/128'),
        mk(5, '2001:db8:9::3/128', { action: 'REJECT' }),
      ],
      [],
    );
    expect(ns.tcpProbe('127.0.0.2', '127.0.0.1', 18080)).toBe('timeout');
    expect(ns.tcpProbe('127.0.0.3', '127.0.0.1', 18080)).toMatch(/^E(HOSTUNREACH|ACCES|CONNREFUSED)$/);
    expect(ns.tcpProbe('127.0.0.4', '127.0.0.1', 18080)).toBe('timeout');
    expect(ns.tcpProbe('127.0.0.4', '127.0.0.1', 18081)).toBe('connected');
    expect(ns.tcpProbe('127.0.0.5', '127.0.0.1', 18080)).toBe('connected');
    expect(ns.tcpProbe('2001:db8:9::2', '2001:db8:9::1', 18080)).toBe('timeout');
    expect(ns.tcpProbe('2001:db8:9::3', '2001:db8:9::1', 18080)).toMatch(/^E(HOSTUNREACH|ACCES|CONNREFUSED)$/);
    expect(ns.tcpProbe('2001:db8:9::1', '2001:db8:9::1', 18080)).toBe('connected');
  });

  it('takes 100k elements in one transaction, delta and full, and removes them', { timeout: 240_000 }, () => {
    ns.runSteps(nft.setup().steps);
    const many = Array.from({ length: 100_000 }, (_, i) =>
      rule({ id: i + 1, src: `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, prefix: 32, action: 'DROP', ...(i % 3 ? {} : { expiresInS: 86400 }) }),
    );
    const nets = Array.from({ length: 500 }, (_, i) => rule({ id: 200_001 + i, src: `10.${i >> 8}.${i & 255}.0`, prefix: 24, action: 'DROP' }));
    const plan = nft.render({ add: [...many, ...nets], remove: [] });
    expect(plan.steps).toHaveLength(1);
    ns.runSteps(plan.steps, 120_000);
    // (a listing of this many elements once came back ~4% short on a loaded machine, not
    // reproduced since; reconcile reads again what seems missing, and so does this count)
    const count = (want: number) => {
      let n = -1;
      for (let i = 0; i < 3 && n !== want; i++) n = nft.parseState(ns.runSteps(nft.readState().steps, 120_000)).length;
      return n;
    };
    expect(count(100_500)).toBe(100_500);
    ns.runSteps(nft.render({ add: many, remove: [] }, undefined, { mode: 'full' }).steps, 120_000);
    expect(count(100_000)).toBe(100_000);
    ns.runSteps(nft.render({ add: [], remove: many }).steps, 120_000);
    expect(state()).toEqual([]);
  });
});
