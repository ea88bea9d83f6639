/**
 * pf (OpenBSD, FreeBSD): an anchor of its own (`ipms`) holding two tables, `<ipms>` (block
 * drop) and `<ipms_reject>` (block return), with IPv4 and IPv6 networks side by side, and the
 * two rules that use them. The administrator adds `anchor "ipms"` to pf.conf once (Plan.manual
 * of setup); setup loads the anchor's rules (`pfctl -a ipms -f -`) on each new connection. The
 * tables are never declared in a ruleset: a `table <x> persist` line in a ruleset that is
 * loaded again (every `pfctl -f /etc/pf.conf`, a pfSense/OPNsense "apply") empties the table,
 * which silently unblocked everything until the next reconcile; tables inside an anchor, made
 * by `-T add`, are left alone when the main ruleset is reloaded (fail2ban's pf action works so).
 * Addresses go to `pfctl -a ipms -t <table> -T add|delete|replace -f -` on stdin, up to
 * PF_CHUNK per add or delete. A small batch's new sources also lose their states (`pfctl -k`, see render): pf lets
 * the packets of a state through without looking at rules. Deleting an address that is not there is not an error ("0/1 addresses
 * deleted"), adding one that is there neither. Nested networks are separate table entries.
 * Source addresses only (tables hold addresses); no per-entry timeout (the worker removes
 * expired rules). There is no pf here: the tests are golden text only.
 */
import { InputError, IpmsError, RefusedError } from '../../lib/errors.ts';
import { displayCidr, parseCidr } from '../../lib/ip.ts';
import type { Action } from '../../lib/types.ts';
import { assertDeviceRules, keyText, notWanted, sortedUnique } from './canonical.ts';
import { OptionReader } from './options.ts';
import type { Adapter, Batch, DeviceKey, DeviceOptions, DeviceRule, ExecStep, Plan, RenderCall, StateEntry } from './types.ts';

export interface PfOptions {
  anchor: string;
  table: string;
  /** kill the states of sources added by a batch of at most this many adds (0: never) */
  killStates: number;
}

export function pfOptions(raw?: DeviceOptions): PfOptions {
  const r = new OptionReader('pf', raw, ['anchor', 'table', 'killStates']);
  // pf table names stop at 31 characters; `<table>_reject` must fit
  return { anchor: r.name('anchor', 'ipms', 64), table: r.name('table', 'ipms', 24), killStates: r.int('killStates', 256, 0, 100_000) };
}

function tables(o: PfOptions): { action: Action; name: string }[] {
  return [
    { action: 'DROP', name: o.table },
    { action: 'REJECT', name: `${o.table}_reject` },
  ];
}

function unsupported(r: DeviceRule, raw?: DeviceOptions): string | undefined {
  pfOptions(raw);
  if (r.dst || r.proto || r.dstPort !== undefined) return 'pf tables hold source addresses only; a rule with destination, protocol or port needs pf.conf rules written by hand';
  return undefined;
}

function address(k: DeviceKey): string {
  return displayCidr({ family: k.family, address: k.src.address, prefix: k.src.prefix });
}

const entryOf = (k: DeviceKey) => `${k.action} ${address(k)}`;

function setup(raw?: DeviceOptions): Plan {
  const o = pfOptions(raw);
  const [drop, reject] = tables(o);
  const rules = [`block drop in quick from <${drop!.name}> to any`, `block return in quick from <${reject!.name}> to any`];
  const manual = [
    '# pf.conf, once, in the filtering section before your pass rules; then pfctl -f /etc/pf.conf',
    `anchor "${o.anchor}"`,
  ].join('\n');
  // The tables are made first (an add of nothing makes a missing table, persistent, and
  // leaves a present one as it is): a table only named by rules does not exist for pfctl, whose
  // -T show and -T delete then fail ("Table does not exist"), after every reboot too.
  return {
    steps: [
      ...tables(o).map((t) => pfctl(o, t.name, 'add', [])),
      { argv: ['pfctl', '-a', o.anchor, '-f', '-'], stdin: `${rules.join('\n')}\n` },
    ],
    manual,
  };
}

function pfctl(o: PfOptions, table: string, verb: 'add' | 'delete' | 'replace', addrs: readonly string[]): ExecStep {
  return { argv: ['pfctl', '-a', o.anchor, '-t', table, '-T', verb, '-f', '-'], stdin: addrs.length ? `${addrs.join('\n')}\n` : '' };
}

/**
 * Most addresses one `pfctl -T add|delete` takes here. pfctl hands a command's whole list to the
 * kernel in one request, and FreeBSD refuses a request over net.pf.request_maxcount (65535 by
 * default) with EINVAL: bigger adds and deletes go as several commands (each is idempotent).
 * A full render replaces the first chunk and adds the rest; `-T show` (a state read) cannot
 * be split: over 65535 entries reading a table back needs that tunable raised (README).
 */
export const PF_CHUNK = 50_000;

function pfctlChunks(o: PfOptions, table: string, verb: 'add' | 'delete', addrs: readonly string[]): ExecStep[] {
  const steps: ExecStep[] = [];
  for (let i = 0; i < addrs.length; i += PF_CHUNK) steps.push(pfctl(o, table, verb, addrs.slice(i, i + PF_CHUNK)));
  return steps;
}

function render(batch: Batch, raw?: DeviceOptions, call: RenderCall = {}): Plan {
  const o = pfOptions(raw);
  const mode = call.mode ?? 'delta';
  const keep = call.keep ?? [];
  for (const list of [batch.add, batch.remove, keep]) assertDeviceRules(list);
  for (const r of batch.add) {
    const why = unsupported(r, raw);
    if (why) throw new RefusedError(`pf: rule ${r.id}: ${why}`, 'E_UNSUPPORTED');
  }
  const steps: ExecStep[] = [];
  const of = (rules: readonly DeviceRule[], action: Action) => sortedUnique(rules.filter((r) => r.action === action && !unsupported(r))).map(address);
  if (mode === 'full') {
    if (batch.remove.length) throw new InputError('pf: a full render takes the whole desired state in add; remove must be empty', 'E_RENDER');
    // -T replace swaps the whole table content in one ioctl. Over PF_CHUNK addresses FreeBSD
    // refuses that request (net.pf.request_maxcount): the first chunk replaces, the rest is
    // added in chunks after it (addresses past the first chunk that were there are missing
    // for the moments between the commands; a table lost in a reboot is empty anyway).
    for (const t of tables(o)) {
      const all = of(batch.add, t.action);
      steps.push(pfctl(o, t.name, 'replace', all.slice(0, PF_CHUNK)), ...pfctlChunks(o, t.name, 'add', all.slice(PF_CHUNK)));
    }
  } else if (mode === 'delta') {
    const removable = notWanted(batch.remove, [...batch.add, ...keep], entryOf);
    for (const t of tables(o)) {
      steps.push(...pfctlChunks(o, t.name, 'delete', of(removable, t.action)));
    }
    for (const t of tables(o)) {
      steps.push(...pfctlChunks(o, t.name, 'add', of(batch.add, t.action)));
    }
    // pf passes the packets of an existing state without looking at its rules: a source just
    // blocked would keep its open connections. `pfctl -k` kills its states, one command per
    // source (none takes a list), so only for batches of up to killStates adds: the daemon's
    // small batches, not a 100k-entry import (its sources' states then live on until they end).
    const added = sortedUnique(batch.add.filter((r) => !unsupported(r))).map(address);
    if (added.length && added.length <= o.killStates) steps.push(...added.map((a) => ({ argv: ['pfctl', '-k', a] })));
  } else {
    throw new InputError(`pf: unknown render mode ${String(mode)}`, 'E_RENDER');
  }
  return { steps };
}

function readState(raw?: DeviceOptions): Plan {
  const o = pfOptions(raw);
  return { steps: tables(o).map((t) => ({ argv: ['pfctl', '-a', o.anchor, '-t', t.name, '-T', 'show'] })) };
}

function parseState(outputs: readonly string[], raw?: DeviceOptions): StateEntry[] {
  const out: StateEntry[] = [];
  tables(pfOptions(raw)).forEach((t, i) => {
    for (const line of (outputs[i] ?? '').split('\n')) {
      const w = line.trim();
      if (!w) continue;
      if (!/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/.test(w)) throw new IpmsError('E_DEVICE_STATE', `pf state: unexpected '${w.slice(0, 80)}' in table ${t.name}`);
      const c = parseCidr(w);
      out.push({ family: c.family, src: { address: c.address, prefix: c.prefix }, action: t.action });
    }
  });
  return sortedUnique(out);
}

export const pf: Adapter = Object.freeze<Adapter>({
  name: 'pf',
  kind: 'exec',
  objects: (raw?: DeviceOptions) => {
    const o = pfOptions(raw);
    return [`anchor ${o.anchor}`, ...tables(o).map((t) => `table ${t.name}`)];
  },
  modes: ['delta', 'full'],
  maxTimeoutS: 0,
  unsupported,
  setup,
  // The anchor's rules and tables live in the kernel only: a reboot (or `pfctl -a ipms -F all`)
  // takes them, and the setup of the next connection would make the tables again, empty. No
  // rules in the anchor is the sign (the setup loads them, and nothing else removes them).
  lostCheck: (raw?: DeviceOptions) => ({
    step: { argv: ['pfctl', '-a', pfOptions(raw).anchor, '-s', 'rules'] },
    lost: (stdout: string) => !/^\s*block\b/m.test(stdout),
  }),
  render,
  readState,
  parseState,
  expectedState: (rules: readonly DeviceRule[], raw?: DeviceOptions) => {
    assertDeviceRules(rules);
    for (const r of rules) {
      const why = unsupported(r, raw);
      if (why) throw new RefusedError(`pf: ${keyText(r)}: ${why}`, 'E_UNSUPPORTED');
    }
    return sortedUnique(rules.map((r) => ({ family: r.family, src: r.src, action: r.action })));
  },
});
