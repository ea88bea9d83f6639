/**
 * The service log honeyd writes with `-s` (log.c:267-298): each `\n`-separated piece of what a
 * service script wrote on stderr becomes
 *
 *   TS PROTO SRC SPORT DST DPORT: |TEXT|
 *
 * TEXT is not escaped: it may hold `|`, `\r` and control characters, and is empty for `||`.
 * So it runs from the `: |` right after the tuple to the LAST `|` of the line, which must be the
 * last character; a line that does not end in `|` was cut. The file also gets the same
 * `honeyd log started/stopped ------` markers as -l.
 */
import { checkLine } from './guard.ts';
import { readHoneydTime, readMarker, TS_LEN } from './head.ts';
import { readProto } from './proto.ts';
import { Scanner } from './scan.ts';
import { sqlUtc } from './time.ts';
import { skipped, type Marker, type ParseContext, type Rejected, type ServiceEvent, type Skipped } from './types.ts';

export function parseServiceLog(line: string, ctx: ParseContext): ServiceEvent | Marker | Skipped | Rejected {
  const bad = checkLine(line);
  if (bad !== null) return bad;
  // No trailing-\r tolerance here: the text may itself end in \r, and after the closing '|'
  // honeyd writes only \n, so a \r there means the line is not what honeyd wrote.
  const end = line.length;
  if (end === 0) return skipped('empty line');

  const utc = readHoneydTime(line, end, ctx);
  if (typeof utc !== 'number') return utc;
  const marker = readMarker(line, end, utc);
  if (marker !== null) return marker;

  const sc = new Scanner(line, end, TS_LEN + 1);
  const proto = readProto(sc);
  if (proto === null) return sc.err!;
  if (proto.num !== 6 && proto.num !== 17) {
    // honeyd_log_service is only called from the tcp/udp stderr readers (tcp.c, udp.c)
    sc.fail('malformed', `service lines carry a tcp or udp tuple, not ${proto.name}(${proto.num})`);
    return sc.err!;
  }
  const src = sc.ipv4('source address');
  if (src === null || !sc.lit(' ')) return sc.err!;
  const srcPort = sc.uint(65535, 'source port');
  if (srcPort < 0 || !sc.lit(' ')) return sc.err!;
  const dst = sc.ipv4('destination address');
  if (dst === null || !sc.lit(' ')) return sc.err!;
  const dstPort = sc.uint(65535, 'destination port');
  if (dstPort < 0 || !sc.lit(': |', "': |' opening the service text")) return sc.err!;

  if (line.charCodeAt(end - 1) !== 124 || end - 1 < sc.pos) {
    sc.fail('malformed', "service text has no closing '|' at the end of the line (truncated?)");
    return sc.err!;
  }
  return {
    type: 'service',
    ts: new Date(utc),
    ts_sql: sqlUtc(utc),
    proto: proto.name,
    proto_num: proto.num,
    src,
    src_port: srcPort,
    dst,
    dst_port: dstPort,
    payload: line.slice(sc.pos, end - 1),
  };
}
