/**
 * honeyd_logproto() (log.c:152-190): `name(number)`. tcp/udp/icmp are hard-coded in honeyd;
 * every other protocol gets its /etc/protocols name (gre(47), sctp(132), ipv6-icmp(58)...) or
 * `unkn(N)` when the sensor's /etc/protocols has none. Names differ between systems, so only the
 * three hard-coded ones are checked against their numbers.
 */
import type { Scanner } from './scan.ts';

export interface Proto {
  readonly name: string;
  readonly num: number;
}

export const TCP: Proto = Object.freeze({ name: 'tcp', num: 6 });
export const UDP: Proto = Object.freeze({ name: 'udp', num: 17 });
export const ICMP: Proto = Object.freeze({ name: 'icmp', num: 1 });

const FIXED: Record<string, number> = { tcp: 6, udp: 17, icmp: 1 };
// Interned so a file of gre lines does not allocate one object per line.
const seen = new Map<string, Proto>();

function isNameChar(c: number): boolean {
  // letters, digits and the punctuation /etc/protocols names use: ipv6-icmp, ax.25, a/n, tp++
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 47 || c === 43 || c === 95;
}

/** Reads `name(num) ` including the space after it; null (with sc.err set) on failure. */
export function readProto(sc: Scanner): Proto | null {
  if (sc.maybe('tcp(6) ')) return TCP;
  if (sc.maybe('udp(17) ')) return UDP;
  if (sc.maybe('icmp(1) ')) return ICMP;
  const start = sc.pos;
  while (isNameChar(sc.peek()) && sc.pos - start < 32) sc.pos++;
  if (sc.pos === start) {
    sc.fail('malformed', 'expected a protocol like tcp(6)');
    return null;
  }
  const name = sc.s.slice(start, sc.pos);
  if (!sc.lit('(', `'(' after protocol name '${name}'`)) return null;
  const num = sc.uint(255, 'protocol number');
  if (num < 0 || !sc.lit(') ', "') ' after protocol number")) return null;
  const fixed = FIXED[name];
  if (fixed !== undefined && fixed !== num) {
    sc.pos = start;
    sc.fail('bad-number', `protocol ${name}(${num}): honeyd always logs ${name} as ${name}(${fixed})`);
    return null;
  }
  const key = `${name}(${num})`;
  let p = seen.get(key);
  if (p === undefined) {
    p = Object.freeze({ name, num });
    if (seen.size < 1024) seen.set(key, p);
  }
  return p;
}
