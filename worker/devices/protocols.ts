/**
 * The fixed protocol list (lib/types.ts RULE_PROTOCOLS) with IANA numbers, and the names devices
 * print back: /etc/protocols spells some differently (ipv6-icmp, UDPLite) and tools fall back to
 * numbers when a name is unknown.
 */
import { RULE_PROTOCOLS, PORT_PROTOCOLS, type RuleProto } from '../../lib/types.ts';
import type { Family } from '../../lib/ip.ts';

export const PROTO_NUMBER: Readonly<Record<RuleProto, number>> = Object.freeze({
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  dccp: 33,
  gre: 47,
  esp: 50,
  ah: 51,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
});

const ALIASES: Readonly<Record<string, RuleProto>> = Object.freeze({
  'ipv6-icmp': 'icmpv6',
  icmp6: 'icmpv6',
  'ipsec-esp': 'esp',
  'ipsec-ah': 'ah',
  ahp: 'ah',
});

/** A protocol as a device prints it (name, alias or number), or undefined if not ours. */
export function protoFromText(text: string): RuleProto | undefined {
  const t = text.trim().toLowerCase();
  if (/^\d{1,3}$/.test(t)) {
    const n = Number(t);
    return RULE_PROTOCOLS.find((p) => PROTO_NUMBER[p] === n);
  }
  if ((RULE_PROTOCOLS as readonly string[]).includes(t)) return t as RuleProto;
  return ALIASES[t];
}

export function hasPorts(p: RuleProto | undefined): boolean {
  return p !== undefined && PORT_PROTOCOLS.includes(p);
}

export { protoFamilyProblem } from '../../lib/types.ts';
