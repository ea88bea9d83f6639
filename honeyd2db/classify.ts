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
 * - With no honeypot address known, every unicast destination counts (the summary says so);
 *   UDP from a well-known service port to an ephemeral port is then taken for a LAN service's
 *   reply (DNS, DHCP, NTP, NetBIOS, SSDP, mDNS, LLMNR) and kept as stray, for the same reason.
 */
import type { ConnEvent } from './parse/types.ts';
import { isNonUnicast, type Honeypots } from './honeypots.ts';
import type { Kind } from '../lib/types.ts';

const SERVICE_REPLY_PORTS = new Set([53, 67, 68, 123, 137, 138, 1900, 5353, 5355]);

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
  if (isNonUnicast(dst)) {
    out.kind = 'stray';
  } else if (hp.known) {
    if (!hp.has(dst) || hp.has(src)) out.kind = 'stray';
  } else if (e.proto_num === 17 && e.src_port !== null && SERVICE_REPLY_PORTS.has(e.src_port) && (e.dst_port ?? 0) >= 1024) {
    out.kind = 'stray';
  }
  return out;
}

/** Is `ip` the remote side of a contact, given the honeypots? (for payload tuples) */
export function remoteFirst(src: string, dst: string, hp: Honeypots): boolean {
  return !(hp.known && hp.has(src) && !hp.has(dst));
}
