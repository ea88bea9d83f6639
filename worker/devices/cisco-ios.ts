/**
 * Cisco IOS: a named extended ACL (IPMS-IN) and an IPv6 ACL (IPMS6-IN), edited in configuration
 * mode. Each rule is one `deny` entry whose sequence number is the rule id; the last entry,
 * sequence 2147483647 (the largest IOS takes), permits everything else. Binding the ACLs to an
 * interface is the administrator's call (Plan.manual).
 *
 * Output is CLI lines (SessionStep). Behaviour relied on, from Cisco's "IP Access List Entry
 * Sequence Numbering" documentation (not tried on a router: there is none here, so the tests are
 * golden text only): an entry is removed by repeating it after `no`, which also works after a
 * reload renumbered the entries on releases that do not save sequence numbers; a sequence
 * number already present is refused ('% Duplicate sequence number'), so every add clears its
 * entry by text first. Known limit: on releases that do not keep sequence numbers across a
 * reload, the renumbered final permit comes before the entries of rules added afterwards, which
 * then match nothing; the state read refuses such a list (reconcile fails, saying so), and
 * moving the permit back to the end is the administrator's step (see the README).
 * IOS has no per-entry timeout (the worker removes expired rules) and `deny` is the only verdict
 * (REJECT becomes deny; IOS itself answers with ICMP unreachable when `ip unreachables` is on).
 */
import { InputError, RefusedError } from '../../lib/errors.ts';
import { assertDeviceRules, familyBits, notWanted, sortedUnique } from './canonical.ts';
import { OptionReader } from './options.ts';
import { PROTO_NUMBER } from './protocols.ts';
import { IOS_LAST_SEQ, iosParseState } from './cisco-ios-state.ts';
import type { Adapter, Batch, DeviceKey, DeviceOptions, DeviceRule, Plan, RenderCall } from './types.ts';

export { IOS_LAST_SEQ };

export interface IosOptions {
  acl: string;
  acl6: string;
  writeMemory: boolean;
}

export function iosOptions(raw?: DeviceOptions): IosOptions {
  const r = new OptionReader('cisco-ios', raw, ['acl', 'acl6', 'writeMemory']);
  return { acl: r.name('acl', 'IPMS-IN'), acl6: r.name('acl6', 'IPMS6-IN'), writeMemory: r.bool('writeMemory', false) };
}

const V4_KEYWORDS: Partial<Record<string, string>> = { tcp: 'tcp', udp: 'udp', icmp: 'icmp', igmp: 'igmp', gre: 'gre', esp: 'esp', ah: 'ahp' };
const V6_KEYWORDS: Partial<Record<string, string>> = { tcp: 'tcp', udp: 'udp', icmpv6: 'icmp', esp: 'esp', ah: 'ahp', sctp: 'sctp' };

function wildcard(prefix: number): string {
  const mask = prefix === 0 ? 0xffffffff : (2 ** (32 - prefix) - 1) >>> 0;
  return [24, 16, 8, 0].map((s) => (mask >>> s) & 255).join('.');
}

function srcText(k: DeviceKey): string {
  const bits = familyBits(k.family);
  if (k.src.prefix === 0) return 'any';
  if (k.src.prefix === bits) return `host ${k.src.address}`;
  return k.family === 4 ? `${k.src.address} ${wildcard(k.src.prefix)}` : `${k.src.address}/${k.src.prefix}`;
}

/** `deny <proto> <src> <dst> [eq <port>]`: the entry without its sequence number. */
export function iosEntry(k: DeviceKey): string {
  const kw = k.family === 4 ? V4_KEYWORDS : V6_KEYWORDS;
  const proto = k.proto ? (kw[k.proto] ?? String(PROTO_NUMBER[k.proto])) : k.family === 4 ? 'ip' : 'ipv6';
  const dst = k.dst ? `host ${k.dst.address}` : 'any';
  const port = k.dstPort !== undefined ? ` eq ${k.dstPort}` : '';
  return `deny ${proto} ${srcText(k)} ${dst}${port}`;
}

function unsupported(r: DeviceRule, raw?: DeviceOptions): string | undefined {
  iosOptions(raw);
  if (r.id >= IOS_LAST_SEQ) return `rule id ${r.id} does not fit an ACL sequence number (1-${IOS_LAST_SEQ - 1})`;
  if (r.dstPort !== undefined && r.proto !== 'tcp' && r.proto !== 'udp') return 'IOS ACLs match ports for tcp and udp only';
  return undefined;
}

/**
 * Entry lines per session. Each session is typed line by line and echoed back, under the
 * transport's timeout per step: a feed's worth of entries goes as several sessions on the one
 * connection, in order.
 */
export const SESSION_LINES = 1000;

function session(o: IosOptions, blocks: { 4: string[]; 6: string[] }): Plan {
  const steps: { session: string[] }[] = [];
  let lines: string[] = [];
  let room = 0;
  for (const [header, entries] of [[`ip access-list extended ${o.acl}`, blocks[4]], [`ipv6 access-list ${o.acl6}`, blocks[6]]] as const) {
    for (let i = 0; i < entries.length;) {
      if (room === 0) {
        lines = ['configure terminal'];
        steps.push({ session: lines });
        room = SESSION_LINES;
      }
      const part = entries.slice(i, i + room);
      lines.push(header, ...part.map((l) => ` ${l}`), 'exit');
      i += part.length;
      room -= part.length;
    }
  }
  for (const st of steps) st.session.push('end');
  if (steps.length && o.writeMemory) steps[steps.length - 1]!.session.push('write memory');
  return { steps };
}

function setup(raw?: DeviceOptions): Plan {
  const o = iosOptions(raw);
  const base = session(o, { 4: [`${IOS_LAST_SEQ} permit ip any any`], 6: [`permit ipv6 any any sequence ${IOS_LAST_SEQ}`] });
  // Setup runs on every new connection: from the second on, IOS answers the final permit with
  // '% Duplicate sequence number' (the entry is there: rules never take that number). Removing
  // it first instead would leave the ACL without its permit, dropping all traffic, in between.
  const plan = { steps: base.steps.map((st) => ({ ...st, okErrors: ['Duplicate sequence number'] })) };
  const manual = [
    '! ipms does not bind its ACLs to interfaces; on the outside interface(s):',
    '! (an interface takes one inbound ACL per address family: one bound there now would be',
    '! replaced, and what it denied let through by the final permit; check with',
    '! show ip interface <outside-interface> | include Inbound, and first copy its entries into',
    `! ${o.acl} numbered from 2000000000 up: ipms numbers its own by rule id, below those)`,
    'interface <outside-interface>',
    ` ip access-group ${o.acl} in`,
    ` ipv6 traffic-filter ${o.acl6} in`,
    'end',
    '! and save it (a reload forgets an unsaved binding; ipms saves its ACLs with --option writeMemory=true):',
    'write memory',
  ].join('\n');
  return { ...plan, manual };
}

function render(batch: Batch, raw?: DeviceOptions, call: RenderCall = {}): Plan {
  const o = iosOptions(raw);
  if ((call.mode ?? 'delta') !== 'delta') throw new InputError('cisco-ios renders deltas only (mode delta)', 'E_RENDER');
  const keep = call.keep ?? [];
  for (const list of [batch.add, batch.remove, keep]) assertDeviceRules(list);
  for (const r of batch.add) {
    const why = unsupported(r, raw);
    if (why) throw new RefusedError(`cisco-ios: rule ${r.id}: ${why}`, 'E_UNSUPPORTED');
  }
  const blocks: { 4: string[]; 6: string[] } = { 4: [], 6: [] };
  // an entry is its text: do not remove one that another rule (kept or re-added) still needs
  for (const r of sortedUnique(notWanted(batch.remove, [...batch.add, ...keep], iosEntry))) blocks[r.family].push(`no ${iosEntry(r)}`);
  for (const r of sortedUnique([...batch.add].sort((a, b) => a.id - b.id))) {
    // An add may be a retry of one the router took (the reply was lost): the same sequence
    // number again is '% Duplicate sequence number', which would fail every retry. Clearing the
    // entry by its text first (as a removal does) makes the add idempotent, and also moves an
    // entry that a reload renumbered (possibly behind the final permit) back to its place.
    blocks[r.family].push(`no ${iosEntry(r)}`, r.family === 4 ? `${r.id} ${iosEntry(r)}` : `${iosEntry(r)} sequence ${r.id}`);
  }
  return session(o, blocks);
}

function readState(raw?: DeviceOptions): Plan {
  const o = iosOptions(raw);
  // without `terminal length 0` a long list stops at --More-- and the session never ends
  return {
    steps: [
      { session: ['terminal length 0', `show ip access-lists ${o.acl}`] },
      { session: ['terminal length 0', `show ipv6 access-list ${o.acl6}`] },
    ],
  };
}

/**
 * A router reloaded without its configuration saved (no `--option writeMemory=true`, no
 * `write memory` of the admin's) comes back without ipms's ACLs, and the setup of the next
 * connection would make them again, empty: the sign is the IPv4 ACL without its final permit
 * (the setup makes both ACLs, and nothing of ipms's removes the permit). A permit that a reload
 * renumbered still counts (the ACL is there; see the known limit above). A reload from a
 * configuration saved before the latest rules is not seen: `devices reconcile` finds those.
 */
function lostCheck(raw?: DeviceOptions) {
  const o = iosOptions(raw);
  const show = `show ip access-lists ${o.acl} | include permit ip any any`;
  return {
    // (the permit line only, not a list of 100k entries on every new connection)
    step: { session: ['terminal length 0', show] },
    // the router's uptime, for a reload from a saved configuration (see iosUptimeS): its own
    // step, where a refusal (a parser view, a privilege level without show version) only
    // leaves it unknown
    uptime: {
      step: { session: ['terminal length 0', 'show version | include uptime is'], okErrors: ['Invalid input', 'authorization failed', 'Authorization failed'] },
      seconds: iosUptimeS,
    },
    // lost: the session answered (its prompts and echoed lines: IOS may scroll a long echoed
    // line, so it is not matched whole), and no entry line did
    lost: (stdout: string) => stdout.trim() !== '' && !/^\s*\d+ permit ip any any\b/m.test(stdout),
  };
}

const UPTIME_UNIT_S: Readonly<Record<string, number>> = { year: 365 * 86400, week: 7 * 86400, day: 86400, hour: 3600, minute: 60 };

/**
 * `ROUTER uptime is 1 year, 22 weeks, 5 days, 3 hours, 41 minutes` (show version) in seconds;
 * undefined when no such line came back. (A year taken as 365 days. The uptime is compared
 * with the time since the last look, not with a start worked out from an earlier uptime, so
 * what a year is to IOS does not matter unless looks are a year apart.)
 */
export function iosUptimeS(stdout: string): number | undefined {
  const m = /\buptime is ((?:\d+ (?:year|week|day|hour|minute)s?(?:,? )?)+)/.exec(stdout);
  if (!m) return undefined;
  let s = 0;
  for (const [, n, unit] of m[1]!.matchAll(/(\d+) (year|week|day|hour|minute)/g)) s += Number(n) * UPTIME_UNIT_S[unit!]!;
  return s;
}

export const ciscoIos: Adapter = Object.freeze<Adapter>({
  name: 'cisco-ios',
  kind: 'session',
  objects: (raw?: DeviceOptions) => {
    const o = iosOptions(raw);
    return [`acl ${o.acl}`, `acl ${o.acl6}`];
  },
  modes: ['delta'],
  maxTimeoutS: 0,
  unsupported,
  setup,
  lostCheck,
  render,
  readState,
  parseState: (outputs: readonly string[], raw?: DeviceOptions) => {
    iosOptions(raw);
    return iosParseState(outputs);
  },
  expectedState: (rules: readonly DeviceRule[], raw?: DeviceOptions) => {
    iosOptions(raw);
    assertDeviceRules(rules);
    return sortedUnique(rules.map(({ id: _i, expiresInS: _e, ...k }) => ({ ...k, action: 'DROP' as const })));
  },
});
