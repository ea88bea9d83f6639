import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { bytesToIp, overlaps, parseCidr, RangeIndex } from '../../lib/ip.ts';

/** What parseCidr must give, computed with ipaddr.js alone (the general path's library). */
function reference(text: string, loose: boolean): { address: string; prefix: number; first: string; last: string } | 'error' {
  const [a, p] = text.split('/');
  if (!ipaddr.IPv4.isValidFourPartDecimal(a!)) return 'error';
  if (p !== undefined && !/^\d{1,3}$/.test(p)) return 'error';
  const prefix = p === undefined ? 32 : Number(p);
  if (prefix > 32) return 'error';
  const n = ipaddr.IPv4.parse(a!).toByteArray().reduce((x, b) => x * 256 + b, 0);
  const size = 2 ** (32 - prefix);
  const first = n - (n % size);
  if (first !== n && !loose) return 'error';
  const text4 = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
  return { address: text4(first), prefix, first: text4(first), last: text4(first + size - 1) };
}

describe('parseCidr on IPv4 (the fast path the worker takes for every rule)', () => {
  it('agrees with ipaddr.js on addresses, prefixes, host bits and malformed text', () => {
    const samples = ['0.0.0.0', '255.255.255.255', '10.0.0.0/8', '10.1.2.3/8', '192.0.2.1/32', '0.0.0.0/0', '1.2.3.4/0',
      '01.2.3.4', '1.2.3.256', '1.2.3', '1.2.3.4/33', '1.2.3.4/', '1.2.3.4/08', '203.0.113.128/25', '203.0.113.129/25', ' 192.0.2.1 '];
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0);
    for (let i = 0; i < 2000; i++) {
      const n = rnd();
      samples.push(`${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${rnd() % 33}`);
    }
    for (const text of samples) {
      for (const loose of [false, true]) {
        const want = reference(text.trim(), loose);
        let got: ReturnType<typeof reference>;
        try {
          const c = parseCidr(text, 'CIDR', { loose });
          expect(c.text).toBe(`${c.address}/${c.prefix}`);
          expect(c.family).toBe(4);
          got = { address: c.address, prefix: c.prefix, first: bytesToIp(c.first), last: bytesToIp(c.last) };
        } catch {
          got = 'error';
        }
        expect(got, `${text} loose=${loose}`).toEqual(want);
      }
    }
  });

  it('names the mistake on the general path', () => {
    expect(() => parseCidr('10.1.2.3/8')).toThrow(/has host bits set; did you mean 10\.0\.0\.0\/8\?/);
    expect(() => parseCidr('10.0.0.0/40')).toThrow(/bad prefix length/);
    expect(() => parseCidr('10.0.0.300')).toThrow(/not an IP address/);
  });

  it('writes IPv4 bytes as a dotted quad and IPv6 bytes in RFC 5952 form', () => {
    expect(bytesToIp(Buffer.from([198, 51, 100, 7]))).toBe('198.51.100.7');
    expect(bytesToIp(Buffer.from('20010db8000000000000000000000001', 'hex'))).toBe('2001:db8::1');
    expect(() => bytesToIp(Buffer.from([1, 2, 3]))).toThrow(/4 or 16 bytes/);
  });
});

describe('IPv4-mapped IPv6 text', () => {
  it('is the IPv4 address it maps, so IPv4 whitelist entries and rules see it', () => {
    expect(parseCidr('::ffff:198.51.100.7').text).toBe('198.51.100.7/32');
    expect(parseCidr('::FFFF:c633:6400/120').text).toBe('198.51.100.0/24');
    expect(bytesToIp(parseCidr('::ffff:198.51.100.7').first)).toBe('198.51.100.7');
    expect(() => parseCidr('::ffff:0.0.0.0/95')).toThrow(/beyond the IPv4-mapped range/);
    expect(() => parseCidr('::ffff:198.51.100.7/129')).toThrow(/bad prefix length .*0-128/);
    expect(() => parseCidr('::198.51.100.7')).toThrow(/deprecated IPv4-compatible form/);
    expect(bytesToIp(parseCidr('64:ff9b::198.51.100.7').first)).toBe('64:ff9b::c633:6407');
    // other IPv6 stays IPv6
    expect(parseCidr('2001:db8::/32').family).toBe(6);
  });
});

describe('RangeIndex (protected ranges asked once per rule of a batch)', () => {
  // a small deterministic generator: the same cases on every run
  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  }
  const r = rng(42);
  // CIDRs of both families, nested and disjoint, crowded into a few /16s so that they meet
  const cidr = (): string => {
    if (r() < 0.7) {
      const p = 18 + Math.floor(r() * 15);
      return `10.${Math.floor(r() * 16)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}/${p}`;
    }
    const p = 100 + Math.floor(r() * 29);
    return `2001:db8:${Math.floor(r() * 3).toString(16)}::${Math.floor(r() * 65536).toString(16)}:${Math.floor(r() * 65536).toString(16)}/${p}`;
  };
  const ranges = Array.from({ length: 400 }, (_, i) => ({ ...parseCidr(cidr(), 'test', { loose: true }), what: `#${i}` }));
  const ix = new RangeIndex(ranges);

  it('answers like a scan of every range, for 5000 queries of both families', () => {
    let hits = 0;
    for (let i = 0; i < 5000; i++) {
      const q = parseCidr(cidr(), 'query', { loose: true });
      const scan = ranges.filter((x) => overlaps(x, q));
      const got = ix.overlapping(q);
      if (scan.length === 0) expect(got).toBeUndefined();
      else {
        hits++;
        expect(got).toBeDefined();
        expect(scan).toContain(got);
      }
    }
    // both answers occur often (the generator is not degenerate)
    expect(hits).toBeGreaterThan(500);
    expect(hits).toBeLessThan(4500);
  });

  it('finds a wide range behind many narrow ones that start later, and keeps families apart', () => {
    const wide = { ...parseCidr('10.0.0.0/8'), what: 'wide' };
    const narrow = Array.from({ length: 1000 }, (_, i) => ({ ...parseCidr(`10.${1 + (i >> 8)}.${i & 255}.0/24`), what: `n${i}` }));
    const six = { ...parseCidr('::/0'), what: 'all v6' };
    const x = new RangeIndex([...narrow, wide, six]);
    expect(x.overlapping(parseCidr('10.200.0.1/32'))?.what).toBe('wide');
    expect(x.overlapping(parseCidr('11.0.0.1/32'))).toBeUndefined();
    expect(x.overlapping(parseCidr('9.255.255.255/32'))).toBeUndefined();
    expect(x.overlapping(parseCidr('9.0.0.0/8'))).toBeUndefined();
    expect(x.overlapping(parseCidr('8.0.0.0/6'))?.what).toBe('wide');
    expect(x.overlapping(parseCidr('2001:db8::1/128'))?.what).toBe('all v6');
    expect(new RangeIndex([wide]).overlapping(parseCidr('2001:db8::/32'))).toBeUndefined();
  });

  it('refuses a broken range by name', () => {
    expect(() => new RangeIndex([{ first: Buffer.from([10, 0, 0, 9]), last: Buffer.from([10, 0, 0, 1]), what: 'whitelist x' }], 'protected range '))
      .toThrow('protected range whitelist x is not a valid range');
    expect(() => new RangeIndex([{ first: Buffer.from([10, 0, 0, 1]), last: Buffer.alloc(16), what: 'y' }])).toThrow('y is not a valid range');
  });
});
