/**
 * pf (OpenBSD, FreeBSD): two tables, `<ipms>` (block drop) and `<ipms_reject>` (block return),
 * holding IPv4 and IPv6 networks side by side; the rules that use them are pf.conf lines the
 * administrator adds once (Plan.manual of setup): loading a ruleset from here would reset the
 * tables it declares. Addresses go to `pfctl -t <table> -T add|delete|replace -f -` on stdin,
 * any number per command. Deleting an address that is not there is not an error ("0/1 addresses
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
  table: string;
}

export function pfOptions(raw?: DeviceOptions): PfOptions {
  // pf table names stop at 31 characters; `<table>_reject` must fit
  return { table: new OptionReader('pf', raw, ['table']).name('table', 'ipms', 24) };
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
  const manual = [
    '# pf.conf: ipms fills these tables with pfctl; add once, then reload pf (pfctl -f /etc/pf.conf)',
    `table <${drop!.name}> persist`,
    `table <${reject!.name}> persist`,
    `block drop in quick from <${drop!.name}> to any`,
    `block return in quick from <${reject!.name}> to any`,
  ].join('\n');
  return { steps: [], manual };
}

function pfctl(table: string, verb: 'add' | 'delete' | 'replace', addrs: readonly string[]): ExecStep {
  return { argv: ['pfctl', '-t', table, '-T', verb, '-f', '-'], stdin: addrs.length ? `${addrs.join('\n')}\n` : '' };
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
    // -T replace swaps the whole table content in one ioctl
    for (const t of tables(o)) steps.push(pfctl(t.name, 'replace', of(batch.add, t.action)));
  } else if (mode === 'delta') {
    const removable = notWanted(batch.remove, [...batch.add, ...keep], entryOf);
    for (const t of tables(o)) {
      const del = of(removable, t.action);
      if (del.length) steps.push(pfctl(t.name, 'delete', del));
    }
    for (const t of tables(o)) {
      const add = of(batch.add, t.action);
      if (add.length) steps.push(pfctl(t.name, 'add', add));
    }
  } else {
    throw new InputError(`pf: unknown render mode ${String(mode)}`, 'E_RENDER');
  }
  return { steps };
}

function readState(raw?: DeviceOptions): Plan {
  return { steps: tables(pfOptions(raw)).map((t) => ({ argv: ['pfctl', '-t', t.name, '-T', 'show'] })) };
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
  objects: (raw?: DeviceOptions) => tables(pfOptions(raw)).map((t) => `table ${t.name}`),
  modes: ['delta', 'full'],
  maxTimeoutS: 0,
  unsupported,
  setup,
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
