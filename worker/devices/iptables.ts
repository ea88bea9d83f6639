/**
 * iptables / ip6tables: an own chain (IPMS) in the filter table, hooked once at the top of INPUT
 * and FORWARD, one rule per DeviceRule.
 *
 * Full-state only: `iptables-restore --noflush` flushes every chain it declares (`:IPMS - [0:0]`),
 * so each render declares the chain and writes all of it again: an atomic replace per family,
 * with no `-D` that could fail on a missing rule and no `-A` that could duplicate one. The worker
 * passes every rule the device must hold in `add`. No timeouts here: the worker re-renders when
 * a rule expires. A chain is walked rule by rule, so keep it to a few thousand rules; the ipset
 * adapter is the one for large lists.
 */
import { InputError, IpmsError, RefusedError } from '../../lib/errors.ts';
import { canonicalIp, parseCidr, type Family } from '../../lib/ip.ts';
import { assertDeviceRules, familyBits, sortedUnique } from './canonical.ts';
import { OptionReader } from './options.ts';
import { protoFromText, PROTO_NUMBER } from './protocols.ts';
import { hookStep, rejectWith, unhookStep, XT_BACKENDS, XT_WAIT, xtCommands, type XtBackend } from './xtables.ts';
import type { Adapter, Batch, DeviceKey, DeviceOptions, DeviceRule, ExecStep, Plan, RenderCall, StateEntry } from './types.ts';

export interface IptablesOptions {
  chain: string;
  hooks: string[];
  ipv6: boolean;
  backend: XtBackend;
}

export function iptablesOptions(raw?: DeviceOptions): IptablesOptions {
  const r = new OptionReader('iptables', raw, ['chain', 'hooks', 'ipv6', 'backend']);
  const o = {
    // 28 = xtables' chain name limit (XT_EXTENSION_MAXNAMELEN 29, with the NUL)
    chain: r.name('chain', 'IPMS', 28),
    hooks: r.names('hooks', ['INPUT', 'FORWARD']),
    ipv6: r.bool('ipv6', true),
    backend: r.choice('backend', 'auto', XT_BACKENDS),
  };
  // the own chain is rewritten whole on every batch: a built-in or another tool's chain there
  // would lose the host's own rules
  if (BUILTIN_CHAINS.includes(o.chain.toUpperCase()) || /^(DOCKER|f2b-|ufw-|LIBVIRT_|KUBE-|CROWDSEC)/i.test(o.chain)) {
    throw new InputError(`iptables option chain: '${o.chain}' is a built-in chain or another tool's; ipms rewrites its chain whole, so give it one of its own`, 'E_DEVICE_OPTION');
  }
  if (o.hooks.includes(o.chain)) throw new InputError(`iptables option hooks: the chain ${o.chain} cannot jump to itself`, 'E_DEVICE_OPTION');
  return o;
}

const BUILTIN_CHAINS = ['INPUT', 'OUTPUT', 'FORWARD', 'PREROUTING', 'POSTROUTING'];

function families(o: IptablesOptions): Family[] {
  return o.ipv6 ? [4, 6] : [4];
}

/** iptables knows these names itself (no /etc/protocols needed); the rest go as numbers. */
const XT_PROTO_NAMES = new Set(['tcp', 'udp', 'udplite', 'icmp', 'icmpv6', 'esp', 'ah', 'sctp']);
/** protocols with their own port match; udplite and dccp use multiport */
const PORT_MATCH = new Set(['tcp', 'udp', 'sctp']);

export function ruleArgs(r: DeviceKey & { id?: number }): string[] {
  const bits = familyBits(r.family);
  const a = ['-s', `${r.src.address}/${r.src.prefix}`];
  if (r.dst) a.push('-d', `${r.dst.address}/${bits}`);
  if (r.proto) {
    a.push('-p', XT_PROTO_NAMES.has(r.proto) ? r.proto : String(PROTO_NUMBER[r.proto]));
    if (r.dstPort !== undefined) {
      if (PORT_MATCH.has(r.proto)) a.push('-m', r.proto, '--dport', String(r.dstPort));
      else a.push('-m', 'multiport', '--dports', String(r.dstPort));
    }
  }
  if (r.id !== undefined) a.push('-m', 'comment', '--comment', `ipms-rule-${r.id}`);
  a.push('-j', r.action);
  if (r.action === 'REJECT') a.push(...rejectWith(r.family));
  return a;
}

function setup(raw?: DeviceOptions): Plan {
  const o = iptablesOptions(raw);
  const steps: ExecStep[] = [];
  for (const f of families(o)) {
    const cmd = xtCommands(o.backend, f).tables;
    // -N exits 1 when the chain exists ("Chain already exists"); anything else real fails at -C.
    steps.push({ argv: [cmd, ...XT_WAIT, '-N', o.chain], okExit: [0, 1] });
    for (const hook of o.hooks) steps.push(hookStep(cmd, hook, ['-j', o.chain]));
  }
  return { steps };
}

/** The jumps to the chain, then the chain; each step may find nothing to do (exit 1: no such chain). */
function teardown(raw?: DeviceOptions): Plan {
  const o = iptablesOptions(raw);
  const steps: ExecStep[] = [];
  for (const f of families(o)) {
    const cmd = xtCommands(o.backend, f).tables;
    for (const hook of o.hooks) steps.push(unhookStep(cmd, hook, ['-j', o.chain]));
    steps.push({ argv: [cmd, ...XT_WAIT, '-F', o.chain], okExit: [0, 1] }, { argv: [cmd, ...XT_WAIT, '-X', o.chain], okExit: [0, 1] });
  }
  return { steps };
}

function render(batch: Batch, raw?: DeviceOptions, call: RenderCall = {}): Plan {
  const o = iptablesOptions(raw);
  if ((call.mode ?? 'full') !== 'full') throw new InputError('iptables renders full state only (mode full)', 'E_RENDER');
  if (batch.remove.length) throw new InputError('iptables: a full render takes the whole desired state in add; remove must be empty', 'E_RENDER');
  assertDeviceRules(batch.add);
  for (const r of batch.add) {
    const why = unsupported(r, raw);
    if (why) throw new RefusedError(`iptables: rule ${r.id}: ${why}`, 'E_UNSUPPORTED');
  }
  const steps: ExecStep[] = families(o).map((f) => {
    const lines = ['*filter', `:${o.chain} - [0:0]`];
    for (const r of sortedUnique(byId(batch.add.filter((x) => x.family === f)))) lines.push(['-A', o.chain, ...ruleArgs(r)].join(' '));
    lines.push('COMMIT');
    return { argv: [xtCommands(o.backend, f).restore, ...XT_WAIT, '--noflush'], stdin: `${lines.join('\n')}\n` };
  });
  return { steps };
}

/** the lowest id names a rule when several share a key */
function byId(rules: readonly DeviceRule[]): DeviceRule[] {
  return [...rules].sort((a, b) => a.id - b.id);
}

function unsupported(r: DeviceRule, raw?: DeviceOptions): string | undefined {
  const o = iptablesOptions(raw);
  return r.family === 6 && !o.ipv6 ? 'IPv6 is turned off for this device (option ipv6)' : undefined;
}

function readState(raw?: DeviceOptions): Plan {
  const o = iptablesOptions(raw);
  return { steps: families(o).map((f) => ({ argv: [xtCommands(o.backend, f).tables, ...XT_WAIT, '-S', o.chain] })) };
}

function bad(line: string, why: string): never {
  throw new IpmsError('E_DEVICE_STATE', `iptables state: ${why} in '${line.slice(0, 160)}'`);
}

/** Lines of `iptables -S CHAIN`, as written by ruleArgs and normalised by iptables. */
export function parseRuleLine(line: string, family: Family, chain: string): StateEntry {
  const t = line.trim().split(/\s+/);
  if (t[0] !== '-A' || t[1] !== chain) bad(line, 'not a rule of the chain');
  const bits = familyBits(family);
  let src: { address: string; prefix: number } | undefined;
  let dst: { address: string } | undefined;
  let proto: StateEntry['proto'];
  let dstPort: number | undefined;
  let action: 'DROP' | 'REJECT' | undefined;
  let id: number | undefined;
  for (let i = 2; i < t.length; i += 2) {
    const [opt, val] = [t[i]!, t[i + 1]];
    if (val === undefined) bad(line, `'${opt}' without a value`);
    if (opt === '-s') {
      const c = parseCidr(val);
      src = { address: c.address, prefix: c.prefix };
    } else if (opt === '-d') {
      const c = parseCidr(val);
      if (c.prefix !== bits) bad(line, 'destination is a network');
      dst = { address: canonicalIp(c.address) };
    } else if (opt === '-p') {
      proto = protoFromText(val) ?? bad(line, `unknown protocol '${val}'`);
    } else if (opt === '-m') {
      if (!['tcp', 'udp', 'sctp', 'multiport', 'comment'].includes(val)) bad(line, `unknown match '${val}'`);
    } else if (opt === '--dport' || opt === '--dports') {
      dstPort = /^\d{1,5}$/.test(val) ? Number(val) : bad(line, `bad port '${val}'`);
    } else if (opt === '--comment') {
      const m = /^"?ipms-rule-(\d{1,15})"?$/.exec(val);
      if (m) id = Number(m[1]);
    } else if (opt === '-j') {
      action = val === 'DROP' || val === 'REJECT' ? val : bad(line, `unknown target '${val}'`);
    } else if (opt !== '--reject-with') {
      bad(line, `unknown option '${opt}'`);
    }
  }
  if (!src || !action) bad(line, 'no source or no target');
  if (src.address.includes(':') !== (family === 6)) bad(line, `not an IPv${family} source`);
  return {
    family,
    src,
    ...(dst ? { dst } : {}),
    ...(proto ? { proto } : {}),
    ...(dstPort !== undefined ? { dstPort } : {}),
    action,
    ...(id !== undefined ? { id } : {}),
  };
}

function parseState(outputs: readonly string[], raw?: DeviceOptions): StateEntry[] {
  const o = iptablesOptions(raw);
  const out: StateEntry[] = [];
  families(o).forEach((f, i) => {
    for (const line of (outputs[i] ?? '').split('\n')) {
      if (line.startsWith('-A ')) out.push(parseRuleLine(line, f, o.chain));
    }
  });
  return sortedUnique(out);
}

export const iptables: Adapter = Object.freeze<Adapter>({
  name: 'iptables',
  objects: (raw?: DeviceOptions) => [`chain ${iptablesOptions(raw).chain}`],
  kind: 'exec',
  modes: ['full'],
  maxTimeoutS: 0,
  unsupported,
  setup,
  teardown,
  render,
  readState,
  parseState,
  expectedState: (rules: readonly DeviceRule[], raw?: DeviceOptions) => {
    iptablesOptions(raw);
    assertDeviceRules(rules);
    return sortedUnique(rules.map(({ id: _id, expiresInS: _e, ...k }) => k));
  },
});
