/**
 * Reading the nftables adapter's sets back from `nft -j list table inet <table>`, and what that
 * should show for a set of rules (the partition of nested ranges, not the rules themselves).
 */
import { IpmsError } from '../../lib/errors.ts';
import { canonicalIp, parseCidr, type Family } from '../../lib/ip.ts';
import { familyBits, sortedUnique } from './canonical.ts';
import { fromBig, partition, rangeToCidrs, toBig } from './partition.ts';
import { protoFromText } from './protocols.ts';
import { selectorText, setByName, setOf, type NftSet } from './nftables-sets.ts';
import type { DeviceKey, DeviceRule, StateEntry } from './types.ts';

function bad(what: string): never {
  throw new IpmsError('E_DEVICE_STATE', `nftables state: ${what}`);
}

type Src = { address: string; prefix: number };

function srcOf(v: unknown, family: Family): Src[] {
  const bits = familyBits(family);
  if (typeof v === 'string') return [{ address: canonicalIp(v), prefix: bits }];
  if (v && typeof v === 'object') {
    const o = v as { prefix?: { addr?: unknown; len?: unknown }; range?: unknown };
    if (o.prefix && typeof o.prefix.addr === 'string' && typeof o.prefix.len === 'number') {
      const c = parseCidr(`${o.prefix.addr}/${o.prefix.len}`);
      return [{ address: c.address, prefix: c.prefix }];
    }
    if (Array.isArray(o.range) && typeof o.range[0] === 'string' && typeof o.range[1] === 'string') {
      return rangeToCidrs(bits, toBig(o.range[0]), toBig(o.range[1])).map((r) => ({ address: fromBig(r.first, bits), prefix: r.prefix }));
    }
  }
  return bad(`unexpected source value ${JSON.stringify(v).slice(0, 80)}`);
}

function entriesOf(set: NftSet, elem: unknown): StateEntry[] {
  const val = elem && typeof elem === 'object' && 'elem' in elem ? (elem as { elem: { val: unknown } }).elem.val : elem;
  const comps: unknown[] =
    val && typeof val === 'object' && 'concat' in val ? (val as { concat: unknown[] }).concat : [val];
  const [src, ...rest] = comps;
  const base: { dst?: { address: string }; proto?: StateEntry['proto']; dstPort?: number } = {};
  if (set.shape.startsWith('dst')) {
    const d = rest.shift();
    if (typeof d !== 'string') bad(`set ${set.name}: destination is not an address`);
    base.dst = { address: canonicalIp(d) };
  }
  if (set.shape !== '' && set.shape !== 'dst') {
    const p = rest.shift();
    const proto = typeof p === 'string' || typeof p === 'number' ? protoFromText(String(p)) : undefined;
    if (!proto) bad(`set ${set.name}: unknown protocol ${JSON.stringify(p)}`);
    base.proto = proto;
  }
  if (set.shape.endsWith('port')) {
    const port = Number(rest.shift());
    if (!Number.isInteger(port) || port < 1 || port > 65535) bad(`set ${set.name}: bad port`);
    base.dstPort = port;
  }
  if (rest.length) bad(`set ${set.name}: element has more parts than its type`);
  return srcOf(src, set.family).map((s) => ({ family: set.family, src: s, ...base, action: set.action }));
}

export function nftParseState(outputs: readonly string[], table: string): StateEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(outputs[0] ?? '');
  } catch {
    bad('output is not JSON (is nft built with JSON support?)');
  }
  const items = (doc as { nftables?: unknown })?.nftables;
  if (!Array.isArray(items)) bad('no "nftables" array in the output');
  const out: StateEntry[] = [];
  for (const it of items) {
    const s = (it as { set?: { family?: string; table?: string; name?: string; elem?: unknown[] } }).set;
    if (!s || s.family !== 'inet' || s.table !== table || typeof s.name !== 'string') continue;
    const set = setByName(s.name);
    if (!set) continue; // not one of ours (someone else's set in our table)
    for (const e of s.elem ?? []) out.push(...entriesOf(set, e));
  }
  return sortedUnique(out);
}

export function nftExpectedState(rules: readonly DeviceRule[]): DeviceKey[] {
  const groups = new Map<string, DeviceRule[]>();
  for (const r of rules) {
    const id = `${setOf(r).name}${selectorText(r)}`;
    const g = groups.get(id);
    if (g) g.push(r);
    else groups.set(id, [r]);
  }
  const out: DeviceKey[] = [];
  for (const g of groups.values()) {
    const first = g[0]!;
    const bits = familyBits(first.family);
    const pieces = partition(bits, g.map((r) => ({ first: toBig(r.src.address), prefix: r.src.prefix })));
    for (const p of pieces) {
      out.push({
        family: first.family,
        src: { address: fromBig(p.first, bits), prefix: p.prefix },
        ...(first.dst ? { dst: first.dst } : {}),
        ...(first.proto ? { proto: first.proto } : {}),
        ...(first.dstPort !== undefined ? { dstPort: first.dstPort } : {}),
        action: first.action,
      });
    }
  }
  return sortedUnique(out);
}
