/**
 * ipset: `hash:net` sets with timeout support, one per family and action (`ipms4`, `ipms6`,
 * `ipms4-reject`, `ipms6-reject`), each matched by one iptables/ip6tables rule at the top of
 * INPUT and FORWARD. Batches go through `ipset restore -exist` on stdin: with -exist, `del` of a
 * missing entry is not an error and `add` of an existing one refreshes its timeout.
 *
 * Source addresses only: hash:net holds networks, so rules with a destination, protocol or port
 * are refused (use nftables or iptables for those), and so is /0 (hash:net takes 1-32 / 1-128).
 * Nested networks may sit side by side in a hash:net set, so no partitioning is needed.
 * Full mode fills a temporary set and `swap`s it in: the live set is replaced atomically.
 */
import { InputError, IpmsError, RefusedError } from '../../lib/errors.ts';
import { displayCidr, parseCidr, type Family } from '../../lib/ip.ts';
import type { Action } from '../../lib/types.ts';
import { assertDeviceRules, keyText, notWanted, sortedUnique } from './canonical.ts';
import { OptionReader } from './options.ts';
import { hookStep, rejectWith, unhookStep, XT_BACKENDS, xtCommands, type XtBackend } from './xtables.ts';
import type { Adapter, Batch, DeviceOptions, DeviceRule, ExecStep, Plan, RenderCall, StateEntry } from './types.ts';

/** ipset's limit for timeouts (seconds); longer rules go in without one and the worker removes them. */
export const IPSET_MAX_TIMEOUT_S = 2147483;

export interface IpsetOptions {
  set: string;
  maxelem: number;
  hashsize: number;
  hooks: string[];
  ipv6: boolean;
  backend: XtBackend;
}

export function ipsetOptions(raw?: DeviceOptions): IpsetOptions {
  const r = new OptionReader('ipset', raw, ['set', 'maxelem', 'hashsize', 'hooks', 'ipv6', 'backend']);
  const o = {
    // the longest name we make is `<set>6-reject-t`; ipset names stop at 31 characters
    set: r.name('set', 'ipms', 21),
    maxelem: r.int('maxelem', 262144, 1024, 1 << 27),
    hashsize: r.int('hashsize', 1024, 64, 1 << 24),
    hooks: r.names('hooks', ['INPUT', 'FORWARD']),
    ipv6: r.bool('ipv6', true),
    backend: r.choice('backend', 'auto', XT_BACKENDS),
  };
  if ((o.hashsize & (o.hashsize - 1)) !== 0) throw new InputError('ipset option hashsize: a power of two', 'E_DEVICE_OPTION');
  return o;
}

interface IpsetSet {
  name: string;
  family: Family;
  action: Action;
}

export function ipsetSets(o: IpsetOptions): IpsetSet[] {
  const fams: Family[] = o.ipv6 ? [4, 6] : [4];
  return (['DROP', 'REJECT'] as const).flatMap((action) =>
    fams.map((family) => ({ name: `${o.set}${family}${action === 'REJECT' ? '-reject' : ''}`, family, action })),
  );
}

function setFor(o: IpsetOptions, r: { family: Family; action: Action }): IpsetSet {
  return ipsetSets(o).find((s) => s.family === r.family && s.action === r.action)!;
}

function createLine(o: IpsetOptions, name: string, family: Family): string {
  return `create ${name} hash:net family ${family === 4 ? 'inet' : 'inet6'} hashsize ${o.hashsize} maxelem ${o.maxelem} timeout 0`;
}

function unsupported(r: DeviceRule, raw?: DeviceOptions): string | undefined {
  const o = ipsetOptions(raw);
  if (r.dst || r.proto || r.dstPort !== undefined) return 'ipset matches source addresses only; a rule with destination, protocol or port needs the nftables or iptables adapter';
  if (r.src.prefix === 0) return 'hash:net cannot hold a /0';
  if (r.family === 6 && !o.ipv6) return 'IPv6 is turned off for this device (option ipv6)';
  return undefined;
}

function setup(raw?: DeviceOptions): Plan {
  const o = ipsetOptions(raw);
  const sets = ipsetSets(o);
  // `create` with -exist is a no-op for an identical set; a set of the same name with other
  // parameters (family, maxelem) is an error, on purpose: we do not silently reuse it.
  const steps: ExecStep[] = [{ argv: ['ipset', 'restore', '-exist'], stdin: `${sets.map((s) => createLine(o, s.name, s.family)).join('\n')}\n` }];
  for (const r of matchRules(o)) steps.push(hookStep(r.cmd, r.hook, r.args));
  return { steps };
}

/** The iptables rule of each set in each hook: the set's entries dropped or rejected. */
function matchRules(o: IpsetOptions): { cmd: string; hook: string; args: string[] }[] {
  return ipsetSets(o).flatMap((s) => {
    const target = s.action === 'DROP' ? ['-j', 'DROP'] : ['-j', 'REJECT', ...rejectWith(s.family)];
    return o.hooks.map((hook) => ({ cmd: xtCommands(o.backend, s.family).tables, hook, args: ['-m', 'set', '--match-set', s.name, 'src', ...target] }));
  });
}

/**
 * The iptables rules that match the sets, then the sets (a set in use cannot be destroyed).
 * Each step may find nothing to do (ipset exits 1 for a missing set).
 */
function teardown(raw?: DeviceOptions): Plan {
  const o = ipsetOptions(raw);
  const steps: ExecStep[] = matchRules(o).map((r) => unhookStep(r.cmd, r.hook, r.args));
  for (const s of ipsetSets(o)) steps.push({ argv: ['ipset', 'destroy', s.name], okExit: [0, 1] });
  return { steps };
}

function entry(r: DeviceRule): string {
  return displayCidr({ family: r.family, address: r.src.address, prefix: r.src.prefix });
}

function timeout(r: DeviceRule): number {
  return r.expiresInS !== undefined && r.expiresInS <= IPSET_MAX_TIMEOUT_S ? r.expiresInS : 0;
}

function render(batch: Batch, raw?: DeviceOptions, call: RenderCall = {}): Plan {
  const o = ipsetOptions(raw);
  const mode = call.mode ?? 'delta';
  const keep = call.keep ?? [];
  for (const list of [batch.add, batch.remove, keep]) assertDeviceRules(list);
  for (const r of batch.add) {
    const why = unsupported(r, raw);
    if (why) throw new RefusedError(`ipset: rule ${r.id}: ${why}`, 'E_UNSUPPORTED');
  }
  // Removals are rendered whatever they are: taking off what cannot be there is harmless.
  const removable = notWanted(batch.remove.filter((r) => !unsupported(r, raw)), [...batch.add, ...keep], (k) => `${k.family} ${k.action} ${k.src.address}/${k.src.prefix}`);
  const adds = sortedUnique(longestFirst(batch.add));
  const lines: string[] = [];
  if (mode === 'full') {
    if (batch.remove.length) throw new InputError('ipset: a full render takes the whole desired state in add; remove must be empty', 'E_RENDER');
    for (const s of ipsetSets(o)) {
      const mine = adds.filter((r) => setFor(o, r).name === s.name);
      checkCapacity(o, s.name, 0, mine.length);
      const tmp = `${s.name}-t`;
      lines.push(`${createLine(o, tmp, s.family)}`, `flush ${tmp}`);
      for (const r of mine) lines.push(`add ${tmp} ${entry(r)} timeout ${timeout(r)}`);
      lines.push(`swap ${tmp} ${s.name}`, `destroy ${tmp}`);
    }
  } else if (mode === 'delta') {
    for (const s of ipsetSets(o)) {
      const mine = adds.filter((r) => setFor(o, r).name === s.name);
      if (mine.length === 0) continue;
      const known = call.counts?.[s.name];
      if (known !== undefined) checkCapacity(o, s.name, known, mine.length);
      else if (call.keep) {
        const kept = keep.filter((r) => !unsupported(r, raw) && setFor(o, r).name === s.name);
        checkCapacity(o, s.name, 0, sortedUnique([...kept, ...mine]).length);
      }
    }
    for (const r of sortedUnique(removable)) lines.push(`del ${setFor(o, r).name} ${entry(r)}`);
    for (const r of adds) lines.push(`add ${setFor(o, r).name} ${entry(r)} timeout ${timeout(r)}`);
  } else {
    throw new InputError(`ipset: unknown render mode ${String(mode)}`, 'E_RENDER');
  }
  if (lines.length === 0) return { steps: [] };
  return { steps: [{ argv: ['ipset', 'restore', '-exist'], stdin: `${lines.join('\n')}\n` }] };
}

/** Among rules with the same key, the one that lives longest (no expiry first) is kept. */
function longestFirst(rules: readonly DeviceRule[]): DeviceRule[] {
  const life = (r: DeviceRule) => r.expiresInS ?? Infinity;
  return [...rules].sort((a, b) => life(b) - life(a) || a.id - b.id);
}

function checkCapacity(o: IpsetOptions, set: string, current: number, adding: number): void {
  if (current + adding > o.maxelem) {
    throw new RefusedError(`ipset: set ${set} would hold ${current + adding} entries (${current} + ${adding}), more than its maxelem ${o.maxelem}; raise option maxelem (and re-create the set)`, 'E_CAPACITY');
  }
}

function readState(raw?: DeviceOptions): Plan {
  return { steps: ipsetSets(ipsetOptions(raw)).map((s) => ({ argv: ['ipset', 'save', s.name] })) };
}

function parseState(outputs: readonly string[], raw?: DeviceOptions): StateEntry[] {
  const sets = new Map(ipsetSets(ipsetOptions(raw)).map((s) => [s.name, s]));
  const out: StateEntry[] = [];
  for (const text of outputs) {
    for (const line of text.split('\n')) {
      const m = /^add (\S+) (\S+)(?: timeout \d+)?\s*$/.exec(line.trim());
      if (!m) continue;
      const s = sets.get(m[1]!);
      if (!s) continue;
      const c = parseCidr(m[2]!);
      if (c.family !== s.family) throw new IpmsError('E_DEVICE_STATE', `ipset state: ${m[2]} in IPv${s.family} set ${s.name}`);
      out.push({ family: s.family, src: { address: c.address, prefix: c.prefix }, action: s.action });
    }
  }
  return sortedUnique(out);
}

export const ipset: Adapter = Object.freeze<Adapter>({
  name: 'ipset',
  kind: 'exec',
  // every set name, whether or not IPv6 is on: another device may have it on
  objects: (raw?: DeviceOptions) => ipsetSets({ ...ipsetOptions(raw), ipv6: true }).map((s) => `set ${s.name}`),
  modes: ['delta', 'full'],
  maxTimeoutS: IPSET_MAX_TIMEOUT_S,
  unsupported,
  setup,
  teardown,
  // A reboot (ipset keeps nothing across one unless saved) or `ipset destroy` takes the sets,
  // and the idempotent setup would create them again, empty: a set of ours missing from the
  // list of names is the sign (`list -n` prints names only, however full the sets are).
  lostCheck: (raw?: DeviceOptions) => {
    const want = ipsetSets(ipsetOptions(raw)).map((s) => s.name);
    return {
      step: { argv: ['ipset', 'list', '-n'] },
      lost: (stdout: string) => {
        const have = new Set(stdout.split('\n').map((l) => l.trim()));
        return want.some((n) => !have.has(n));
      },
    };
  },
  render,
  readState,
  parseState,
  expectedState: (rules: readonly DeviceRule[], raw?: DeviceOptions) => {
    assertDeviceRules(rules);
    for (const r of rules) {
      const why = unsupported(r, raw);
      if (why) throw new RefusedError(`ipset: ${keyText(r)}: ${why}`, 'E_UNSUPPORTED');
    }
    return sortedUnique(rules.map((r) => ({ family: r.family, src: r.src, action: r.action })));
  },
});
