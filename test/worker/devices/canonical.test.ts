/**
 * toDeviceRule is the only door to device text: every bad value is refused with a typed error,
 * protected (whitelisted) ranges with a RefusedError naming the entry.
 */
import { describe, expect, it } from 'vitest';
import { InputError, RefusedError, type IpmsError } from '../../../lib/errors.ts';
import { ipToBytes, parseCidr } from '../../../lib/ip.ts';
import { toDeviceRule, type ProtectedRange, type RuleInput } from '../../../worker/devices/canonical.ts';
import { ADAPTERS } from '../../../worker/devices/index.ts';
import { partition, rangeToCidrs, toBig, fromBig } from '../../../worker/devices/partition.ts';

const now = new Date('2030-01-01T00:00:00Z');
const base: RuleInput = { id: 7, src_ip: ipToBytes('198.51.100.7'), src_prefix: 32, action: 'DROP' };
const protectedRanges: ProtectedRange[] = [
  { ...parseCidr('192.0.2.0/24'), what: 'whitelist #1 (192.0.2.0/24)' },
  { ...parseCidr('2001:db8:ffff::/48'), what: 'whitelist #2 (2001:db8:ffff::/48)' },
  { ...parseCidr('203.0.113.5'), what: 'database server 203.0.113.5' },
];

function err(input: Partial<RuleInput>, opts: { purpose?: 'apply' | 'remove' } = {}): IpmsError {
  try {
    toDeviceRule({ ...base, ...input }, { protected: protectedRanges, now, ...opts });
  } catch (e) {
    return e as IpmsError;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

describe('toDeviceRule', () => {
  it('builds a frozen canonical rule', () => {
    const r = toDeviceRule(
      { id: 9, src_ip: ipToBytes('2001:DB9:0:0::'), src_prefix: 32, src_last: parseCidr('2001:db9::/32').last, dst_ip: ipToBytes('2001:db9:1::1'), dst_port: 443, proto: 'tcp', action: 'REJECT', expires_at: new Date(now.getTime() + 1500) },
      { protected: protectedRanges, now },
    );
    expect(r).toEqual({ id: 9, family: 6, src: { address: '2001:db9::', prefix: 32 }, dst: { address: '2001:db9:1::1' }, dstPort: 443, proto: 'tcp', action: 'REJECT', expiresInS: 2 });
    expect(Object.isFrozen(r) && Object.isFrozen(r.src)).toBe(true);
  });

  it.each([
    ['address of 5 bytes', { src_ip: Buffer.alloc(5) }],
    ['address not a buffer', { src_ip: '198.51.100.7' as unknown as Buffer }],
    ['host bits set', { src_ip: ipToBytes('198.51.100.7'), src_prefix: 24 }],
    ['prefix too long for IPv4', { src_prefix: 33 }],
    ['negative prefix', { src_prefix: -1 }],
    ['fractional prefix', { src_prefix: 24.5 }],
    ['IPv4-mapped IPv6 source (16 bytes in the row)', { src_ip: Buffer.from('00000000000000000000ffffc6336407', 'hex'), src_prefix: 128 }],
    ['src_last inconsistent', { src_last: ipToBytes('198.51.100.8') }],
    ['destination of the other family', { dst_ip: ipToBytes('2001:db8::1') }],
    ['port without protocol', { dst_port: 80 }],
    ['port with a portless protocol', { dst_port: 80, proto: 'gre' }],
    ['port 0', { dst_port: 0, proto: 'tcp' }],
    ['port 65536', { dst_port: 65536, proto: 'tcp' }],
    ['unknown protocol', { proto: 'tcp; reboot' }],
    ['icmpv6 on IPv4', { proto: 'icmpv6' }],
    ['icmp on IPv6', { src_ip: ipToBytes('2001:db8::1'), src_prefix: 128, proto: 'icmp' }],
    ['bad action', { action: 'ACCEPT' }],
    ['id 0', { id: 0 }],
    ['id not an integer', { id: 1.5 }],
    ['expiry absurdly far', { expires_at: new Date(now.getTime() + 2 ** 32 * 1000) }],
  ])('refuses %s with an InputError', (_what, input) => {
    const e = err(input);
    expect(e).toBeInstanceOf(InputError);
    expect(e.code).toMatch(/^E_(RULE|INPUT)$/);
  });

  it.each([
    ['an IPv4 range overlapping a whitelist entry', '192.0.0.0', 16, 'whitelist #1'],
    ['an IPv4 host inside a whitelist entry', '192.0.2.77', 32, 'whitelist #1'],
    ['a protected single address', '203.0.113.5', 32, 'database server'],
    ['an IPv6 range containing a whitelist entry', '2001:db8::', 32, 'whitelist #2'],
    ['an IPv6 host inside a whitelist entry', '2001:db8:ffff::9', 128, 'whitelist #2'],
  ])('refuses %s with a RefusedError naming it', (_what, src, prefix, named) => {
    const e = err({ src_ip: ipToBytes(src), src_prefix: prefix });
    expect(e).toBeInstanceOf(RefusedError);
    expect(e.code).toBe('E_PROTECTED');
    expect(e.message).toContain(named);
  });

  it('lets IPv4 and IPv6 ranges pass next to protected ranges of the other family or outside them', () => {
    expect(toDeviceRule({ ...base, src_ip: ipToBytes('192.0.3.0'), src_prefix: 24 }, { protected: protectedRanges, now }).src.prefix).toBe(24);
    expect(toDeviceRule({ ...base, src_ip: ipToBytes('2001:db8:fffe::'), src_prefix: 48 }, { protected: protectedRanges, now }).family).toBe(6);
  });

  it('refuses an expired rule for applying but lets it be removed (and a whitelisted one too)', () => {
    expect(err({ expires_at: new Date(now.getTime() - 1) }).code).toBe('E_EXPIRED');
    const gone = toDeviceRule({ ...base, src_ip: ipToBytes('192.0.2.0'), src_prefix: 24, expires_at: new Date(0) }, { protected: protectedRanges, now, purpose: 'remove' });
    expect(gone.expiresInS).toBeUndefined();
    expect(toDeviceRule({ ...base, src_ip: ipToBytes('192.0.2.7') }, { protected: protectedRanges, now, purpose: 'remove' }).src.address).toBe('192.0.2.7');
  });

  it('keeps the remaining lifetime of a rule written back, and never writes back a protected or expired one', () => {
    const kept = toDeviceRule({ ...base, expires_at: new Date(now.getTime() + 90_500) }, { protected: protectedRanges, now, purpose: 'keep' });
    expect(kept.expiresInS).toBe(91);
    expect(() => toDeviceRule({ ...base, src_ip: ipToBytes('192.0.2.7') }, { protected: protectedRanges, now, purpose: 'keep' })).toThrow(/protected/);
    expect(() => toDeviceRule({ ...base, expires_at: new Date(now.getTime() - 1) }, { protected: protectedRanges, now, purpose: 'keep' })).toThrow(/expired/);
  });

  it('refuses a block wider than /8 (IPv4) or /16 (IPv6) that got past the triggers, and lets it be taken off', () => {
    for (const [ip, prefix] of [['0.0.0.0', 0], ['64.0.0.0', 2], ['2000::', 3], ['2000::', 15]] as const) {
      const e = err({ src_ip: ipToBytes(ip), src_prefix: prefix });
      expect([e.code, e.message], `${ip}/${prefix}`).toEqual(['E_RULE', expect.stringMatching(/wider than \/(8|16) is not a block ipms makes/)]);
      expect(toDeviceRule({ ...base, src_ip: ipToBytes(ip), src_prefix: prefix }, { protected: protectedRanges, now, purpose: 'remove' }).src.prefix).toBe(prefix);
    }
    expect(toDeviceRule({ ...base, src_ip: ipToBytes('10.0.0.0'), src_prefix: 8 }, { protected: protectedRanges, now }).src.prefix).toBe(8);
  });

  it('refuses a malformed protected range', () => {
    const e = (() => {
      try {
        toDeviceRule(base, { protected: [{ first: ipToBytes('10.0.0.9'), last: ipToBytes('10.0.0.1'), what: 'x' }], now });
      } catch (x) {
        return x as IpmsError;
      }
      return undefined;
    })();
    expect(e?.code).toBe('E_RULE');
  });
});

describe('partition of nested networks (nftables interval sets)', () => {
  const r = (c: string, expiresInS?: number) => ({ first: toBig(parseCidr(c).address), prefix: parseCidr(c).prefix, expiresInS });
  const text = (bits: number, ps: { first: bigint; prefix: number; expiresInS?: number }[]) =>
    ps.map((p) => `${fromBig(p.first, bits)}/${p.prefix}${p.expiresInS ? ` ${p.expiresInS}` : ''}`);

  it('cuts a child out of its parent and gives every piece the longest covering lifetime', () => {
    expect(text(32, partition(32, [r('10.0.0.0/22', 100), r('10.0.1.0/24', 500)]))).toEqual(['10.0.0.0/24 100', '10.0.1.0/24 500', '10.0.2.0/23 100']);
    // a permanent parent outlives any child: the child's piece is permanent too
    expect(text(32, partition(32, [r('10.0.0.0/23'), r('10.0.1.0/24', 500)]))).toEqual(['10.0.0.0/24', '10.0.1.0/24']);
  });

  it('keeps disjoint ranges whole and merges duplicates', () => {
    expect(text(128, partition(128, [r('2001:db8::/32'), r('2001:db8::/32', 9), r('2001:db9::/32', 5)]))).toEqual(['2001:db8::/32', '2001:db9::/32 5']);
  });

  it('turns an address range back into CIDRs', () => {
    expect(text(32, rangeToCidrs(32, toBig('10.0.0.1'), toBig('10.0.0.6')))).toEqual(['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32']);
  });
});

describe('adapter registry', () => {
  it('has every adapter of the design, each with a mode and a kind', () => {
    expect(Object.keys(ADAPTERS).sort()).toEqual(['cisco-ios', 'ipset', 'iptables', 'nftables', 'pf', 'routeros']);
    for (const a of Object.values(ADAPTERS)) {
      expect(a.modes.length).toBeGreaterThan(0);
      expect(['exec', 'session']).toContain(a.kind);
    }
  });
});
