/**
 * What a -l line means for the decision: a hit (start, probe), a connection end, or stray
 * traffic that is stored but never counted. ARCHITECTURE.md "What counts as a hit".
 *
 * - S and - lines are hits only when addressed to one of the sensor's honeypot addresses.
 *   honeyd run without a `net` argument logs every IP packet its interface sees (a LAN's DNS
 *   replies, LLMNR multicast, DHCP broadcasts): addressed elsewhere, they are 'stray'.
 * - Never a hit: a non-unicast destination (multicast, broadcast), and traffic whose source
 *   is a honeypot (the honeypot's own packets): counting those would block the LAN's own
 *   servers or the honeypots themselves.
 * - Other-protocol lines (gre, sctp...) come out of honeyd with the tuple reversed on stack
 *   garbage (HONEYD-FORMATS.md 1.4): when the source is a honeypot and the destination is not,
 *   the tuple is swapped back before anything else.
 * - With no honeypot address known, every unicast destination counts (the summary says so),
 *   except other-protocol lines: which way they went cannot be told.
 * - Never a hit either: a source that is no host (loopback, 0/8, multicast, reserved,
 *   broadcast, ::): honeyd reads the wire, spoofed martians included, and a rule for such a
 *   source would cut a firewall's own loopback or every DHCP client.
 * - Never a hit: replies to packets the honeypot never sent. An attacker who sends packets to a
 *   third party with the honeypot's address as their source makes that party answer the
 *   honeypot (backscatter): counted, the answers would block whoever the attacker chose (a
 *   partner's web server, the network's resolver). Replies are TCP packets with RST (and no
 *   SYN) or with SYN and ACK together (an attacker's own RST at the end of its connection is
 *   not counted either; its SYN was), ICMP answers and errors (echo reply, unreachable, time
 *   exceeded...), and UDP from a well-known service port to an ephemeral port (DNS, DHCP, NTP,
 *   NetBIOS, SSDP, mDNS, LLMNR: also a LAN service's replies). The price: a UDP scan sent from port 53
 *   (nmap -g 53) to high ports is not counted; its TCP and low-port probes still are.
 */
import type { ConnEvent } from './parse/types.ts';
import { isNonUnicast, type Honeypots } from './honeypots.ts';
import type { Kind } from '../lib/types.ts';

const SERVICE_REPLY_PORTS = new Set([53, 67, 68, 123, 137, 138, 1900, 5353, 5355]);
/** ICMP answers and errors: echo reply, unreachable, source quench, redirect, time exceeded,
 * parameter problem, timestamp, information and address mask replies */
const ICMP_REPLIES = new Set([0, 3, 4, 5, 11, 12, 14, 16, 18]);
/** ICMPv6 errors and echo reply (1-4, 129) */
const ICMP6_REPLIES = new Set([1, 2, 3, 4, 129]);

/**
 * No host ever sends from it: loopback, the unspecified address, and the non-unicast ranges
 * (the ranges of the database's NoSourceRange, which refuses rules for them in any case).
 */
export function isNoSource(ip: string): boolean {
  if (isNonUnicast(ip)) return true;
  if (ip.startsWith('127.')) return true;
  return ip === '::' || ip === '::1';
}

/** An answer to a packet the honeypot never sent (see above). */
function isReply(e: ConnEvent): boolean {
  // (SYN with RST is no answer but a scanner's probe: honeyd itself remarks 'Honeyd Scanner?')
  if (e.proto_num === 6) {
    if (e.kind !== 'probe') return false;
    const f = e.tcp_flags ?? '';
    return f.includes('S') ? f.includes('A') : f.includes('R');
  }
  if (e.proto_num === 1) return e.icmp_type !== null && ICMP_REPLIES.has(e.icmp_type);
  if (e.proto_num === 58) return e.icmp_type !== null && ICMP6_REPLIES.has(e.icmp_type);
  if (e.proto_num === 17) return e.src_port !== null && SERVICE_REPLY_PORTS.has(e.src_port) && (e.dst_port ?? 0) >= 1024;
  return false;
}

export interface Classified {
  kind: Kind;
  src: string;
  dst: string;
  srcPort: number | null;
  dstPort: number | null;
  /** the tuple was reversed back (other-protocol lines) */
  swapped: boolean;
}

export function classifyConn(e: ConnEvent, hp: Honeypots): Classified {
  let src = e.src;
  let dst = e.dst;
  let swapped = false;
  if (e.other_proto && hp.known && hp.has(src) && !hp.has(dst)) {
    src = e.dst;
    dst = e.src;
    swapped = true;
  }
  const out: Classified = { kind: e.kind, src, dst, srcPort: e.src_port, dstPort: e.dst_port, swapped };
  if (e.kind === 'end') return out;
  if (isNonUnicast(dst) || isNoSource(src) || isReply(e)) {
    out.kind = 'stray';
  } else if (hp.known) {
    if (!hp.has(dst) || hp.has(src)) out.kind = 'stray';
  } else if (e.other_proto) {
    out.kind = 'stray';
  }
  return out;
}

/** Is `ip` the remote side of a contact, given the honeypots? (for payload tuples) */
export function remoteFirst(src: string, dst: string, hp: Honeypots): boolean {
  return !(hp.known && hp.has(src) && !hp.has(dst));
}
