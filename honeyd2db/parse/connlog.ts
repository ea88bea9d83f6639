/**
 * The connection/packet log honeyd writes with `-l` (log.c, identical in 1.5c, 1.6a, 1.6d):
 *
 *   TS PROTO S SRC SPORT DST DPORT[ [OS]][ {REMARK}]                     tcp, udp
 *   TS PROTO E SRC SPORT DST DPORT: RECEIVED SENT                         tcp, udp
 *   TS tcp(6) - SRC SPORT DST DPORT: LEN FLAGS[ [OS]][ {REMARK}]           FLAGS may be empty
 *   TS udp(17) - SRC SPORT DST DPORT: LEN[ [OS]]
 *   TS icmp(1) - SRC DST: TYPE(CODE): LEN[ [OS]]
 *   TS PROTO - SRC DST: LEN[ [OS]]                                        any other protocol
 *   TS honeyd log started ------ / TS honeyd log stopped ------
 *
 * Hand-scanned left to right, one pass, no regex: this is the hot path of the ingest.
 */
import { checkLine } from './guard.ts';
import { readHoneydTime, readMarker, TS_LEN } from './head.ts';
import { readProto } from './proto.ts';
import { Scanner } from './scan.ts';
import { sqlUtc } from './time.ts';
import { skipped, type ConnEvent, type Marker, type ParseContext, type Rejected, type Skipped } from './types.ts';

const FLAG_ORDER = 'FSRPAUEC'; // honeyd_logtcpflags(), log.c:192-211
const MAX_U32 = 4_294_967_295;

export function parseConnLog(line: string, ctx: ParseContext): ConnEvent | Marker | Skipped | Rejected {
  const bad = checkLine(line);
  if (bad !== null) return bad;
  let end = line.length;
  // Tolerated: one trailing \r (a file that went through a CRLF tool). No -l field can end in
  // \r, so dropping it loses nothing; a \r anywhere else is rejected by the scanner.
  if (end > 0 && line.charCodeAt(end - 1) === 13) end--;
  if (end === 0) return skipped('empty line');

  const utc = readHoneydTime(line, end, ctx);
  if (typeof utc !== 'number') return utc;
  const marker = readMarker(line, end, utc);
  if (marker !== null) return marker;

  const sc = new Scanner(line, end, TS_LEN + 1);
  const proto = readProto(sc);
  if (proto === null) return sc.err!;
  const k = sc.peek();
  if ((k !== 83 && k !== 69 && k !== 45) || line.charCodeAt(sc.pos + 1) !== 32) {
    sc.fail('malformed', "expected ' S ', ' E ' or ' - ' after the protocol");
    return sc.err!;
  }
  sc.pos += 2;
  const kind: ConnEvent['kind'] = k === 83 ? 'start' : k === 69 ? 'end' : 'probe';
  const ports = proto.num === 6 || proto.num === 17;
  if (kind !== 'probe' && !ports) {
    // honeyd_log_flownew/flowend are only called from tcp_new/udp (honeyd.c:947-1061)
    sc.fail('malformed', `${kind === 'start' ? 'S' : 'E'} lines exist only for tcp and udp, not ${proto.name}(${proto.num})`);
    return sc.err!;
  }

  // The tuple: `SRC SPORT DST DPORT` (tcp/udp) or `SRC DST` (everything else), log.c:96-102.
  let srcPort: number | null = null;
  let dstPort: number | null = null;
  const src = sc.ipv4('source address');
  if (src === null || !sc.lit(' ')) return sc.err!;
  if (ports) {
    srcPort = sc.uint(65535, 'source port');
    if (srcPort < 0 || !sc.lit(' ')) return sc.err!;
  }
  const dst = sc.ipv4('destination address');
  if (dst === null) return sc.err!;
  if (ports) {
    if (!sc.lit(' ')) return sc.err!;
    dstPort = sc.uint(65535, 'destination port');
    if (dstPort < 0) return sc.err!;
  }

  let icmpType: number | null = null;
  let icmpCode: number | null = null;
  let length: number | null = null;
  let flags: string | null = null;
  let bytesIn: number | null = null;
  let bytesOut: number | null = null;
  let os: string | null = null;
  let remark: string | null = null;

  if (kind === 'end') {
    // never a comment on E lines (honeyd_log_flowend, log.c:343)
    if (!sc.lit(': ', "': RECEIVED SENT'")) return sc.err!;
    bytesIn = byteCount(sc, 'received byte count');
    if (bytesIn < 0 || !sc.lit(' ')) return sc.err!;
    bytesOut = byteCount(sc, 'sent byte count');
    if (bytesOut < 0) return sc.err!;
  } else {
    if (kind === 'probe') {
      if (!sc.lit(': ', "': ' and the packet length")) return sc.err!;
      if (proto.num === 1) {
        icmpType = sc.uint(255, 'icmp type');
        if (icmpType < 0 || !sc.lit('(')) return sc.err!;
        icmpCode = sc.uint(255, 'icmp code');
        if (icmpCode < 0 || !sc.lit('): ')) return sc.err!;
      }
      length = sc.uint(65535, 'packet length');
      if (length < 0) return sc.err!;
      if (proto.num === 6) {
        // honeyd always prints ' ' + flag letters, so a tcp line ending at the length was cut
        if (!sc.lit(' ', "' ' and the TCP flags")) return sc.err!;
        flags = readFlags(sc);
        if (flags === null) return sc.err!;
      }
    }
    // ` [OS]` then ` {REMARK}`, each optional (honeyd_log_comment, log.c:234-250)
    if (sc.maybe(' [')) {
      const close = closingBracket(line, sc.pos, end);
      if (close < 0) {
        sc.fail('malformed', "no ']' closing the OS fingerprint (truncated?)");
        return sc.err!;
      }
      // `%s %s %s` of class, version, subtype: an empty subtype leaves a trailing space
      os = line.slice(sc.pos, close).trimEnd();
      sc.pos = close + 1;
    }
    if (sc.maybe(' {')) {
      if (line.charCodeAt(end - 1) !== 125) {
        sc.fail('malformed', "no '}' closing the remark (truncated?)");
        return sc.err!;
      }
      remark = line.slice(sc.pos, end - 1);
      sc.pos = end;
    }
  }
  if (!sc.expectEnd()) return sc.err!;

  return {
    type: 'conn',
    kind,
    ts: new Date(utc),
    ts_sql: sqlUtc(utc),
    proto: proto.name,
    proto_num: proto.num,
    src,
    dst,
    src_port: srcPort,
    dst_port: dstPort,
    icmp_type: icmpType,
    icmp_code: icmpCode,
    length,
    tcp_flags: flags,
    os,
    remark,
    bytes_in: bytesIn,
    bytes_out: bytesOut,
    other_proto: !ports && proto.num !== 1,
  };
}

/** Flag letters up to the next space or the end, each at most once and in FSRPAUEC order. */
function readFlags(sc: Scanner): string | null {
  const start = sc.pos;
  let last = -1;
  while (!sc.atEnd()) {
    const c = sc.peek();
    if (c === 32) break;
    const at = FLAG_ORDER.indexOf(String.fromCharCode(c));
    if (at <= last) {
      sc.fail('malformed', at < 0 ? 'not a TCP flag letter (FSRPAUEC)' : 'TCP flags out of honeyd\'s FSRPAUEC order');
      return null;
    }
    last = at;
    sc.pos++;
  }
  return sc.s.slice(start, sc.pos);
}

/** The `]` that ends the OS text: followed by the end of the line or by ` {`. */
function closingBracket(s: string, from: number, end: number): number {
  let i = s.indexOf(']', from);
  while (i >= 0 && i < end) {
    if (i + 1 === end || (s.charCodeAt(i + 1) === 32 && s.charCodeAt(i + 2) === 123)) return i;
    i = s.indexOf(']', i + 1);
  }
  return -1;
}

/**
 * An E line's byte count: a uint32_t that honeyd prints with %d (log.c), so a flow of 2 GiB or
 * more shows as a negative number. Read back as the unsigned value it is.
 */
function byteCount(sc: Scanner, what: string): number {
  if (!sc.maybe('-')) return sc.uint(MAX_U32, what);
  const n = sc.uint(2 ** 31, what);
  return n <= 0 ? n : 2 ** 32 - n; // -1: the scanner's failure
}
