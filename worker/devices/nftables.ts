/**
 * nftables: an own table `inet <table>` with sets (nftables-sets.ts: hash sets for single
 * source addresses, interval sets for source networks, all with timeouts), a regular chain
 * `block` matching them, jumped to from `input` and `forward` base chains (priority filter - 10,
 * policy accept). Every plan is ONE `nft -f -` transaction: all or nothing.
 *
 * What nft 1.0.6 does, checked in a network namespace:
 * - `delete element` of a missing element aborts the whole transaction, and `destroy element`
 *   needs nft >= 1.0.8. Adding an element that is there is a no-op, so `add X; delete X` always
 *   succeeds and leaves X absent; an add is written as that pair plus the real add, which also
 *   refreshes the timeout of an element that was already there. A rule the device has never
 *   held (RenderCall.fresh: the worker's first attempt of a first wish, no other rule of that
 *   source being taken off) is added plainly: a third of the work for the usual batch. An
 *   element someone put there by hand keeps its own timeout then; reconcile shows and fixes it.
 * - No `auto-merge`: it merges adjacent ranges too, keeps the shorter timeout of what it merged,
 *   and a later `delete element` of an original range fails ("element does not exist"). Without
 *   it an overlapping element is refused ("interval overlaps"), so we never add one: nested
 *   networks are partitioned (partition.ts), which needs the kept rules that overlap the batch
 *   (RenderCall.keep).
 * - Timeouts are written as days/hours/minutes/seconds: the parser refuses 9-digit seconds.
 * - The pieces of nested networks live NESTED_GRACE_S longer on the device than their rules:
 *   the worker deletes exactly those pieces when a rule of the nest is taken off, and one the
 *   kernel had already timed out would abort that transaction (a full render then repairs it,
 *   rewriting every set). The worker takes an expired rule off within seconds; only when it is
 *   down do such pieces outlive their rule, by two minutes at most. Lone ranges and single
 *   addresses keep their exact timeouts (their removal is the add/delete pair).
 */
import { InputError } from '../../lib/errors.ts';
import { assertDeviceRules, familyBits } from './canonical.ts';
import { chunks, compactDuration, OptionReader } from './options.ts';
import { fromBig, partition, rangeId, rootsOf, toBig, type TimedRange } from './partition.ts';
import { NFT_SETS, selectorText, setOf, srcText, type NftSet } from './nftables-sets.ts';
import { nftExpectedState, nftParseState } from './nftables-state.ts';
import type { Adapter, Batch, DeviceOptions, DeviceRule, Plan, RenderCall } from './types.ts';

export interface NftOptions {
  table: string;
  /** offset from the filter priority for the input and forward hooks */
  priority: number;
  /** elements per `add element` / `delete element` statement */
  chunk: number;
}

/**
 * Tables other software owns: ipms flushes the input and forward chains of its own table, so
 * naming one of these (say the distribution's `inet filter`) would wipe the host's firewall.
 */
const FOREIGN_TABLES = ['filter', 'nat', 'mangle', 'raw', 'security', 'firewalld', 'fail2ban', 'f2b-table', 'crowdsec', 'crowdsec6', 'docker', 'libvirt', 'lxd', 'incus', 'nixos-fw'];

export function nftOptions(raw?: DeviceOptions): NftOptions {
  const r = new OptionReader('nftables', raw, ['table', 'priority', 'chunk']);
  const table = r.name('table', 'ipms');
  if (FOREIGN_TABLES.includes(table.toLowerCase())) {
    throw new InputError(`nftables option table: '${table}' is a table other software keeps (ipms rewrites its own table's chains); choose a name of ipms's own`, 'E_DEVICE_OPTION');
  }
  return { table, priority: r.int('priority', -10, -300, 300), chunk: r.int('chunk', 10000, 1, 1_000_000) };
}

const NFT = ['nft', '-f', '-'] as const;

/** How much longer than their rules the pieces of nested networks live on the device (see above). */
export const NESTED_GRACE_S = 120;

function setup(raw?: DeviceOptions): Plan {
  const o = nftOptions(raw);
  const t = `inet ${o.table}`;
  const prio = o.priority === 0 ? 'filter' : `filter ${o.priority < 0 ? '-' : '+'} ${Math.abs(o.priority)}`;
  const lines = [`add table ${t}`];
  for (const s of NFT_SETS) lines.push(`add set ${t} ${s.name} { type ${s.type}; flags ${s.net ? 'interval, timeout' : 'timeout'}; }`);
  lines.push(`add chain ${t} block`, `flush chain ${t} block`);
  for (const s of NFT_SETS) {
    const verdict = s.action === 'DROP' ? 'drop' : 'reject with icmpx admin-prohibited';
    lines.push(`add rule ${t} block ${s.match} @${s.name} counter ${verdict}`);
  }
  for (const hook of ['input', 'forward']) {
    lines.push(`add chain ${t} ${hook} { type filter hook ${hook} priority ${prio}; policy accept; }`, `flush chain ${t} ${hook}`, `add rule ${t} ${hook} jump block`);
  }
  return { steps: [{ argv: NFT, stdin: `${lines.join('\n')}\n` }] };
}

interface Group {
  set: NftSet;
  sel: string;
  add: TimedRange[];
  remove: TimedRange[];
  keep: TimedRange[];
  /** the rules of a hash set (single source addresses), as given */
  hosts: { add: DeviceRule[]; remove: DeviceRule[]; keep: DeviceRule[] };
}

function groupsOf(parts: { add: readonly DeviceRule[]; remove?: readonly DeviceRule[]; keep?: readonly DeviceRule[] }): Map<string, Group> {
  const groups = new Map<string, Group>();
  for (const role of ['add', 'remove', 'keep'] as const) {
    for (const r of parts[role] ?? []) {
      const set = setOf(r);
      const sel = selectorText(r);
      const id = `${set.name}${sel}`;
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { set, sel, add: [], remove: [], keep: [], hosts: { add: [], remove: [], keep: [] } }));
      // hash sets hold single addresses, which never overlap: no range arithmetic for them
      if (set.net) g[role].push({ first: toBig(r.src.address), prefix: r.src.prefix, expiresInS: r.expiresInS });
      else g.hosts[role].push(r);
    }
  }
  return groups;
}

interface Elem {
  /** sort key: source address and prefix, then the rest of the element */
  k: string;
  text: string;
}

function elementText(g: Group, p: TimedRange, withTimeout: boolean): Elem {
  const bits = familyBits(g.set.family);
  const t = withTimeout && p.expiresInS !== undefined ? ` timeout ${compactDuration(p.expiresInS)}` : '';
  return {
    k: `${p.first.toString(16).padStart(32, '0')}/${String(p.prefix).padStart(3, '0')}${g.sel}`,
    text: `${srcText(g.set.family, fromBig(p.first, bits), p.prefix)}${g.sel}${t}`,
  };
}

/** Sort key of a single address: its bytes in hex, as elementText's. */
function hostKey(family: 4 | 6, address: string): string {
  if (family === 4) {
    const o = address.split('.');
    return (((+o[0]! << 24) | (+o[1]! << 16) | (+o[2]! << 8) | +o[3]!) >>> 0).toString(16).padStart(32, '0');
  }
  return toBig(address).toString(16).padStart(32, '0');
}

/**
 * The elements of a hash set, per address: in a delta, the safe add and the delete of what may
 * be there (every address of a hash set is a lone range: see render), then what should be, with
 * the longest lifetime of the rules that keep or add it. The same text the interval path gives
 * for ranges that do not nest, without its arithmetic: 100k hosts are the usual batch.
 */
function hostElements(g: Group, entry: { safe: Elem[]; old: Elem[]; neu: Elem[] }, delta: boolean, fresh?: ReadonlySet<number>): void {
  const byAddr = new Map<string, { present: boolean; eff: number | undefined; rules: number; freshOnly: boolean }>();
  const note = (r: DeviceRule, present: boolean, isFresh: boolean) => {
    const a = byAddr.get(r.src.address);
    if (!a) byAddr.set(r.src.address, { present, eff: r.expiresInS, rules: 1, freshOnly: isFresh });
    else {
      if (present) {
        a.eff = a.present ? longerS(a.eff, r.expiresInS) : r.expiresInS;
        a.present = true;
      }
      a.rules++;
      a.freshOnly = false;
    }
  };
  for (const r of g.hosts.remove) note(r, false, false);
  for (const r of g.hosts.add) note(r, true, fresh?.has(r.id) === true);
  // kept rules only matter for the addresses the batch touches
  for (const r of g.hosts.keep) if (byAddr.has(r.src.address)) note(r, true, false);
  const prefix = g.set.family === 4 ? 32 : 128;
  for (const [address, a] of byAddr) {
    const k = `${hostKey(g.set.family, address)}/${String(prefix).padStart(3, '0')}${g.sel}`;
    const text = `${srcText(g.set.family, address, prefix)}${g.sel}`;
    // one fresh rule alone on its address: nothing else can be there, a plain add is enough
    if (delta && !(a.rules === 1 && a.freshOnly)) {
      entry.safe.push({ k, text });
      entry.old.push({ k, text });
    }
    if (a.present) entry.neu.push({ k, text: a.eff === undefined ? text : `${text} timeout ${compactDuration(a.eff)}` });
  }
}

function longerS(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : Math.max(a, b);
}

function sorted(elems: Elem[]): string[] {
  return elems.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0)).map((e) => e.text);
}

function statements(verb: 'add' | 'delete', t: string, set: string, elems: readonly string[], chunk: number): string[] {
  return chunks(elems, chunk).map((c) => `${verb} element ${t} ${set} {\n\t${c.join(',\n\t')}\n}`);
}

function render(batch: Batch, raw?: DeviceOptions, call: RenderCall = {}): Plan {
  const o = nftOptions(raw);
  const mode = call.mode ?? 'delta';
  const keep = call.keep ?? [];
  assertDeviceRules(batch.add);
  assertDeviceRules(batch.remove);
  assertDeviceRules(keep);
  const t = `inet ${o.table}`;
  const lines: string[] = [];
  const perSet = new Map<string, { safe: Elem[]; old: Elem[]; neu: Elem[] }>(NFT_SETS.map((s) => [s.name, { safe: [], old: [], neu: [] }]));

  if (mode === 'full') {
    if (batch.remove.length) throw new InputError('nftables: a full render takes the whole desired state in add; remove must be empty', 'E_RENDER');
    for (const s of NFT_SETS) lines.push(`flush set ${t} ${s.name}`);
    for (const g of groupsOf({ add: batch.add }).values()) {
      const entry = perSet.get(g.set.name)!;
      if (!g.set.net) {
        hostElements(g, entry, false);
        continue;
      }
      for (const p of partition(familyBits(g.set.family), g.add, NESTED_GRACE_S)) entry.neu.push(elementText(g, p, true));
    }
  } else if (mode === 'delta') {
    for (const g of groupsOf({ add: batch.add, remove: batch.remove, keep }).values()) {
      if (!g.set.net) {
        hostElements(g, perSet.get(g.set.name)!, true, call.fresh);
        continue;
      }
      const bits = familyBits(g.set.family);
      const roots = rootsOf(bits, [...g.add, ...g.remove, ...g.keep]);
      const comps = new Map<string, { add: TimedRange[]; remove: TimedRange[]; kept: TimedRange[] }>();
      const bucket = (r: TimedRange) => {
        const root = roots.get(rangeId(r))!;
        let c = comps.get(root);
        if (!c) comps.set(root, (c = { add: [], remove: [], kept: [] }));
        return c;
      };
      for (const r of g.add) bucket(r).add.push(r);
      for (const r of g.remove) bucket(r).remove.push(r);
      for (const r of g.keep) comps.get(roots.get(rangeId(r))!)?.kept.push(r);
      for (const { add, remove, kept } of comps.values()) {
        // A lone range may or may not be on the device already (a retry, a refresh): the
        // add/delete pair makes either case safe. Nested ranges: the device holds the partition of
        // what was applied before (kept + removed rules) and we delete exactly that, without the
        // pair: nft 1.0.6 keeps a second copy of an element re-added in the same transaction in its
        // overlap cache, and the new, differently cut pieces would then "overlap" the deleted ones.
        // If the device holds something else the transaction fails whole and nothing changes; a
        // full render repairs it.
        const lone = new Set([...add, ...remove, ...kept].map(rangeId)).size === 1;
        const entry = perSet.get(g.set.name)!;
        const old = partition(bits, lone ? [...kept, ...remove, ...add] : [...kept, ...remove]).map((p) => elementText(g, p, false));
        for (const e of old) {
          if (lone) entry.safe.push(e);
          entry.old.push(e);
        }
        for (const p of partition(bits, [...kept, ...add], NESTED_GRACE_S)) entry.neu.push(elementText(g, p, true));
      }
    }
  } else {
    throw new InputError(`nftables: unknown render mode ${String(mode)}`, 'E_RENDER');
  }

  for (const s of NFT_SETS) {
    const { safe, old, neu } = perSet.get(s.name)!;
    lines.push(...statements('add', t, s.name, sorted(safe), o.chunk));
    lines.push(...statements('delete', t, s.name, sorted(old), o.chunk));
    lines.push(...statements('add', t, s.name, sorted(neu), o.chunk));
  }
  if (lines.length === 0) return { steps: [] };
  return { steps: [{ argv: NFT, stdin: `${lines.join('\n')}\n` }] };
}

/** The table, its sets and chains (hooks included) in one transaction; a missing table is made first. */
function teardown(raw?: DeviceOptions): Plan {
  const t = `inet ${nftOptions(raw).table}`;
  return { steps: [{ argv: NFT, stdin: `add table ${t}\ndelete table ${t}\n` }] };
}

function readState(raw?: DeviceOptions): Plan {
  const o = nftOptions(raw);
  // JSON output (nft built with libjansson, as Debian, RHEL and Alpine ship it): no guessing
  // at the text layout, and protocols come back as names or numbers that protocols.ts knows.
  return { steps: [{ argv: ['nft', '-j', 'list', 'table', 'inet', o.table] }] };
}

export const nftables: Adapter = Object.freeze<Adapter>({
  name: 'nftables',
  kind: 'exec',
  objects: (raw?: DeviceOptions) => [`table ${nftOptions(raw).table}`],
  modes: ['delta', 'full'],
  joinsSteps: true,
  // The kernel keeps u64 milliseconds; nft's parser only wants them written as days.
  maxTimeoutS: 2 ** 31 - 1,
  unsupported: (_rule: DeviceRule, raw?: DeviceOptions) => {
    nftOptions(raw);
    return undefined;
  },
  setup,
  teardown,
  lostCheck: (raw?: DeviceOptions) => {
    const want = `table inet ${nftOptions(raw).table}`;
    return { step: { argv: ['nft', 'list', 'tables'] }, lost: (stdout: string) => !stdout.split('\n').some((l) => l.trim() === want) };
  },
  render,
  readState,
  parseState: (outputs: readonly string[], raw?: DeviceOptions) => nftParseState(outputs, nftOptions(raw).table),
  expectedState: (rules: readonly DeviceRule[], raw?: DeviceOptions) => {
    nftOptions(raw);
    assertDeviceRules(rules);
    return nftExpectedState(rules);
  },
});
