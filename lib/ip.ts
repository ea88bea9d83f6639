/**
 * Addresses and ranges, validated and canonical. Everything that reaches SQL as an address or
 * a device as text goes through here. ipaddr.js does the parsing (strict dotted quads, every
 * IPv6 form); we add canonical CIDR text, the 4/16-byte form INET6_ATON uses, and ranges.
 */
import ipaddr from 'ipaddr.js';
import { InputError } from './errors.ts';

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  /** canonical network address (host bits cleared), e.g. 198.51.100.0 or 2001:db8:: */
  address: string;
  prefix: number;
  /** canonical text: `address/prefix` */
  text: string;
  /** first and last address as INET6_ATON would give them: 4 bytes for IPv4, 16 for IPv6 */
  first: Buffer;
  last: Buffer;
}

/**
 * One address. An IPv4-mapped IPv6 address (::ffff:198.51.100.7) is the IPv4 address it maps:
 * kept as IPv6 it would slip past every IPv4 whitelist entry and match no IPv4 packet.
 */
function parseAddr(text: string, what: string): ipaddr.IPv4 | ipaddr.IPv6 {
  const a = parseAddrAsWritten(text, what);
  // (ipaddr.js also reads the deprecated IPv4-compatible ::1.2.3.4 as mapped: that one is not)
  return a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() && /ffff:/i.test(text)
    ? (a as ipaddr.IPv6).toIPv4Address() : a;
}

function parseAddrAsWritten(text: string, what: string): ipaddr.IPv4 | ipaddr.IPv6 {
  const t = text.trim();
  // ipaddr.js accepts shorthand like "1" or "0x7f.1" with parse(); isValidFourPartDecimal and
  // IPv6.isValid keep us to the forms people and logs actually write.
  if (ipaddr.IPv4.isValidFourPartDecimal(t)) return ipaddr.IPv4.parse(t);
  // ipaddr.js reads the deprecated IPv4-compatible ::1.2.3.4 as ::ffff:1.2.3.4: say so instead
  if (/^::(\d{1,3}\.){3}\d{1,3}(\/|$)/.test(t)) {
    throw new InputError(`${what}: '${clip(text)}' is the deprecated IPv4-compatible form; write the IPv4 address`);
  }
  if (t.includes(':') && ipaddr.IPv6.isValid(t) && !t.includes('%')) return ipaddr.IPv6.parse(t);
  throw new InputError(`${what}: not an IP address: '${clip(text)}'`);
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Canonical text of one address (IPv4 dotted quad, IPv6 RFC 5952). */
export function canonicalIp(text: string, what = 'address'): string {
  return parseAddr(text, what).toString();
}

/**
 * Is a device's host written as an address rather than a host name: anything with a colon, or
 * dot-separated numbers, hexadecimal ones included (3325256711, 0xc6.0x33.0x64.7, which a
 * resolver reads as an address)? Which address it is, or that it is none in standard form,
 * canonicalIp says.
 */
export function looksLikeAddress(host: string): boolean {
  return host.includes(':') || /^(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+))*\.?$/i.test(host);
}

export function familyOf(text: string): Family {
  return parseAddr(text, 'address').kind() === 'ipv4' ? 4 : 6;
}

/** INET6_ATON's bytes of an address. */
export function ipToBytes(text: string, what = 'address'): Buffer {
  return Buffer.from(parseAddr(text, what).toByteArray());
}

/** Text of INET6_ATON bytes (4 or 16). */
export function bytesToIp(b: Buffer | Uint8Array): string {
  // IPv4 by hand: the worker turns every rule of a batch (100k) into text
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) return ipaddr.fromByteArray(Array.from(b)).toString();
  throw new InputError(`not an address of 4 or 16 bytes (${b.length})`);
}

/**
 * Parse `ADDR` or `ADDR/LEN`. Host bits set below the prefix are an error unless `loose`
 * (then they are cleared): `10.1.2.3/8` is usually a typo, and silently blocking all of 10/8
 * is not what anyone meant.
 */
export function parseCidr(text: string, what = 'CIDR', opts: { loose?: boolean } = {}): Cidr {
  const raw = text.trim();
  const v4 = V4_CIDR.exec(raw);
  if (v4) {
    const fast = parseV4Cidr(v4, opts.loose === true);
    if (fast) return fast;
  }
  const slash = raw.indexOf('/');
  const written = parseAddrAsWritten(slash < 0 ? raw : raw.slice(0, slash), what);
  const addr = parseAddr(slash < 0 ? raw : raw.slice(0, slash), what);
  const mapped = written.kind() !== addr.kind();
  const family: Family = addr.kind() === 'ipv4' ? 4 : 6;
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const p = raw.slice(slash + 1);
    const writtenBits = mapped ? 128 : bits;
    if (!/^\d{1,3}$/.test(p) || Number(p) > writtenBits) {
      throw new InputError(`${what}: bad prefix length in '${clip(text)}' (0-${writtenBits})`);
    }
    prefix = Number(p);
    if (mapped) {
      // ::ffff:198.51.100.0/120 is 198.51.100.0/24; a shorter prefix reaches beyond the mapped space
      if (prefix < 96) throw new InputError(`${what}: '${clip(text)}' reaches beyond the IPv4-mapped range; write the IPv4 form`);
      prefix -= 96;
    }
  }
  const bytes = addr.toByteArray();
  const first = bytes.map((b, i) => b & maskByte(i, prefix));
  const last = bytes.map((b, i) => (b & maskByte(i, prefix)) | (~maskByte(i, prefix) & 0xff));
  if (!opts.loose && first.some((b, i) => b !== bytes[i])) {
    const net = ipaddr.fromByteArray(first).toString();
    throw new InputError(`${what}: '${clip(text)}' has host bits set; did you mean ${net}/${prefix}?`);
  }
  const address = ipaddr.fromByteArray(first).toString();
  return {
    family,
    address,
    prefix,
    text: `${address}/${prefix}`,
    first: Buffer.from(first),
    last: Buffer.from(last),
  };
}

// The common case without ipaddr.js: a strict dotted quad (no leading zeros, as
// isValidFourPartDecimal) with an optional prefix. Anything else, errors included, takes the
// general path, which says what is wrong.
const V4_CIDR = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})(?:\/(\d{1,2}))?$/;

function parseV4Cidr(m: RegExpExecArray, loose: boolean): Cidr | undefined {
  const o = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  if (o.some((x) => x > 255)) return undefined;
  const prefix = m[5] === undefined ? 32 : Number(m[5]);
  if (prefix > 32) return undefined;
  const n = ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const first = (n & mask) >>> 0;
  if (first !== n && !loose) return undefined;
  const last = (first | (~mask >>> 0)) >>> 0;
  const firstB = Buffer.allocUnsafe(4);
  firstB.writeUInt32BE(first);
  const lastB = Buffer.allocUnsafe(4);
  lastB.writeUInt32BE(last);
  const address = `${firstB[0]}.${firstB[1]}.${firstB[2]}.${firstB[3]}`;
  return { family: 4, address, prefix, text: `${address}/${prefix}`, first: firstB, last: lastB };
}

function maskByte(i: number, prefix: number): number {
  const bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
  return (0xff << (8 - bitsHere)) & 0xff;
}

/** The form people read: a bare address for a single host, else address/prefix. */
export function displayCidr(c: { address: string; prefix: number; family: Family }): string {
  return c.prefix === (c.family === 4 ? 32 : 128) ? c.address : `${c.address}/${c.prefix}`;
}

/** Range test on INET6_ATON bytes of the same family. */
export function inRange(ip: Buffer, first: Buffer, last: Buffer): boolean {
  return ip.length === first.length && Buffer.compare(first, ip) <= 0 && Buffer.compare(ip, last) <= 0;
}

/** Do two ranges of the same family share any address? */
export function overlaps(a: { first: Buffer; last: Buffer }, b: { first: Buffer; last: Buffer }): boolean {
  return a.first.length === b.first.length && Buffer.compare(a.first, b.last) <= 0 && Buffer.compare(b.first, a.last) <= 0;
}

/**
 * The widest block ipms makes: /8 for IPv4, /16 for IPv6 (0.0.0.0/0 from a typo or a feed's
 * bogon line would cut the network off the Internet). The Rule triggers hold the same floor.
 * Returns why a range is refused, or undefined.
 */
export function tooWideToBlock(c: Pick<Cidr, 'family' | 'prefix'>): string | undefined {
  const floor = c.family === 4 ? 8 : 16;
  return c.prefix < floor ? `wider than /${floor} is not a block ipms makes` : undefined;
}

/**
 * The lowest address a rule that holds `addr` can start at: no rule is wider than /8 (IPv4) or
 * /16 (IPv6), so `src_ip >= this` bounds a look-up of the rules over an address to a short
 * range of the src_ip index (without it: every rule below the address).
 */
export function widestRuleStart(addr: Buffer): Buffer {
  const out = Buffer.alloc(addr.length);
  addr.copy(out, 0, 0, addr.length === 4 ? 1 : 2);
  return out;
}

/** A range with something to say about it (a protected range, an inside network). */
export interface NamedRange {
  first: Buffer;
  last: Buffer;
  what: string;
}

/**
 * "Which of these ranges does this range overlap?" in O(log n): a whitelist of 20k entries is
 * asked once per rule of a 100k-rule batch or feed, where a scan would make 2e9 comparisons.
 * Per family, the ranges sorted by first address, with the running maximum of last addresses
 * (and which range holds it): of the ranges that start at or before the query's last address,
 * the one reaching furthest overlaps the query exactly when it reaches the query's first.
 * Ranges may overlap and nest. Every range is checked once, here: first <= last, same family.
 */
export class RangeIndex<R extends NamedRange = NamedRange> {
  private readonly fam = new Map<number, { firsts: Buffer[]; reach: R[] }>();

  /** `kind` names the ranges in the error for a broken one ("protected range "). */
  constructor(ranges: Iterable<R>, kind = '') {
    const by = new Map<number, R[]>();
    for (const r of ranges) {
      if (r.first.length !== r.last.length || (r.first.length !== 4 && r.first.length !== 16) || Buffer.compare(r.first, r.last) > 0) {
        throw new InputError(`${kind}${r.what} is not a valid range`, 'E_RULE');
      }
      const l = by.get(r.first.length);
      if (l) l.push(r);
      else by.set(r.first.length, [r]);
    }
    for (const [len, list] of by) {
      list.sort((a, b) => Buffer.compare(a.first, b.first));
      const reach: R[] = [];
      let best = list[0]!;
      for (const r of list) {
        if (Buffer.compare(r.last, best.last) > 0) best = r;
        reach.push(best);
      }
      this.fam.set(len, { firsts: list.map((r) => r.first), reach });
    }
  }

  /** A range that overlaps [first, last] (the one reaching furthest), or undefined. */
  overlapping(q: { first: Buffer; last: Buffer }): R | undefined {
    const f = this.fam.get(q.first.length);
    if (!f) return undefined;
    // the last range that starts at or before q.last
    let lo = 0;
    let hi = f.firsts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (Buffer.compare(f.firsts[mid]!, q.last) <= 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return undefined;
    const r = f.reach[lo - 1]!;
    return Buffer.compare(r.last, q.first) >= 0 ? r : undefined;
  }
}
