/**
 * CIDR arithmetic for interval sets that must not hold overlapping elements (nftables without
 * auto-merge). CIDRs are either nested or disjoint, so a group of them is a forest; the
 * partition gives each address exactly one element: a rule's range minus its children's, with
 * the longest lifetime of the rules covering it (absent = permanent, which always wins).
 */
import { bytesToIp, parseCidr } from '../../lib/ip.ts';

export interface Range {
  first: bigint;
  prefix: number;
}

export interface TimedRange extends Range {
  expiresInS?: number;
}

interface Node extends TimedRange {
  last: bigint;
  eff?: number;
  children: Node[];
  root: string;
}

export function toBig(address: string): bigint {
  return BigInt(`0x${parseCidr(address).first.toString('hex')}`);
}

export function fromBig(n: bigint, bits: number): string {
  return bytesToIp(Buffer.from(n.toString(16).padStart(bits / 4, '0'), 'hex'));
}

export function rangeId(r: Range): string {
  return `${r.first.toString(16)}/${r.prefix}`;
}

function longer(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : Math.max(a, b);
}

function size(bits: number, prefix: number): bigint {
  return 1n << BigInt(bits - prefix);
}

/** Deduplicated (longest lifetime kept) and arranged as a forest, parents before children. */
function forest(bits: number, ranges: readonly TimedRange[]): Node[] {
  const byId = new Map<string, Node>();
  for (const r of ranges) {
    const id = rangeId(r);
    const seen = byId.get(id);
    if (seen) seen.expiresInS = longer(seen.expiresInS, r.expiresInS);
    else byId.set(id, { first: r.first, prefix: r.prefix, expiresInS: r.expiresInS, last: r.first + size(bits, r.prefix) - 1n, children: [], root: id });
  }
  const nodes = [...byId.values()].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : a.prefix - b.prefix));
  const stack: Node[] = [];
  for (const n of nodes) {
    while (stack.length && stack[stack.length - 1]!.last < n.first) stack.pop();
    const parent = stack[stack.length - 1];
    if (parent) {
      parent.children.push(n);
      n.eff = longer(n.expiresInS, parent.eff);
      n.root = parent.root;
    } else {
      n.eff = n.expiresInS;
    }
    stack.push(n);
  }
  return nodes;
}

/** For each range, the id of the outermost range (of the same group) that contains it. */
export function rootsOf(bits: number, ranges: readonly Range[]): Map<string, string> {
  return new Map(forest(bits, ranges).map((n) => [rangeId(n), n.root]));
}

/**
 * Disjoint CIDR pieces covering exactly the union of `ranges`, sorted. `nestedGraceS` lengthens
 * the lifetime of the pieces of nested ranges (a range with a parent or a child) by that much:
 * see nftables.ts, which deletes those pieces exactly and cannot have the device expire them
 * first.
 */
export function partition(bits: number, ranges: readonly TimedRange[], nestedGraceS = 0): TimedRange[] {
  const out: TimedRange[] = [];
  for (const n of forest(bits, ranges)) {
    const nested = n.children.length > 0 || n.root !== rangeId(n);
    const eff = nested && n.eff !== undefined ? n.eff + nestedGraceS : n.eff;
    cut(bits, n.first, n.prefix, n.children, eff, out);
  }
  return out.sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
}

function cut(bits: number, first: bigint, prefix: number, holes: readonly Range[], eff: number | undefined, out: TimedRange[]): void {
  if (holes.length === 0) {
    out.push(eff === undefined ? { first, prefix } : { first, prefix, expiresInS: eff });
    return;
  }
  if (holes.some((h) => h.prefix === prefix)) return;
  const half = first + size(bits, prefix + 1);
  cut(bits, first, prefix + 1, holes.filter((h) => h.first < half), eff, out);
  cut(bits, half, prefix + 1, holes.filter((h) => h.first >= half), eff, out);
}

/** The smallest list of CIDRs covering first..last (for ranges a device prints as a-b). */
export function rangeToCidrs(bits: number, first: bigint, last: bigint): Range[] {
  const out: Range[] = [];
  let cur = first;
  while (cur <= last) {
    let prefix = bits;
    while (prefix > 0) {
      const s = size(bits, prefix - 1);
      if (cur % s !== 0n || cur + s - 1n > last) break;
      prefix--;
    }
    out.push({ first: cur, prefix });
    cur += size(bits, prefix);
  }
  return out;
}
