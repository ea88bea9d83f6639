/**
 * honeyd's syslog output, in the three shapes it reaches a file:
 *
 *   Feb 10 22:37:48 bt honeyd[12073]: MSG                 classic syslog file (no year, local time)
 *   2024-02-10T22:37:48.123+01:00 bt honeyd[12073]: MSG   RFC 3339 stamps (rsyslog's high-precision format)
 *   honeyd[12073]: MSG                                    -d stderr, the LOG_PERROR copy (no time)
 *
 * plus, on -d stderr, the banner `Honeyd V1.6d Copyright ...` and lines without a prefix.
 * The message itself is read by syslogmsg.ts.
 */
import { checkLine } from './guard.ts';
import { readMessage } from './syslogmsg.ts';
import { badCalendar, currentYear, localToUtc, sqlUtc } from './time.ts';
import { rejected, skipped, type Marker, type ParseContext, type Rejected, type Skipped, type SyslogEvent } from './types.ts';

const MONTHS: Record<string, number> = {
  Jan: 1, Feb: 2, Mar: 3, Apr: 4, May: 5, Jun: 6, Jul: 7, Aug: 8, Sep: 9, Oct: 10, Nov: 11, Dec: 12,
};
/** `Mon DD HH:MM:SS HOST ` (DD space-padded) */
const BSD = /^([A-Z][a-z]{2}) ([ 1-3]\d) (\d\d):(\d\d):(\d\d) (\S+) /;
/** `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM) HOST ` */
const RFC3339 = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) (\S+) /;
const TAG = /^honeyd\[(\d{1,10})\]: /;
const BANNER = /^Honeyd V\S+ Copyright /;

export function parseSyslog(line: string, ctx: ParseContext): SyslogEvent | Marker | Skipped | Rejected {
  const bad = checkLine(line);
  if (bad !== null) return bad;
  if (line.length === 0) return skipped('empty line');

  let ts: number | null = null;
  let host: string | null = null;
  let rest = 0; // where the tag starts
  const bsd = BSD.exec(line);
  const iso = bsd === null ? RFC3339.exec(line) : null;
  if (bsd !== null || iso !== null) {
    rest = (bsd ?? iso)![0].length;
    if (!line.startsWith('honeyd[', rest)) return skipped('syslog line of another program');
    const t = bsd !== null ? bsdTime(bsd, ctx) : isoTime(iso!);
    if (typeof t !== 'number') return t;
    ts = t;
    host = bsd !== null ? bsd[6]! : iso![9]!;
  } else if (!line.startsWith('honeyd[')) {
    if (BANNER.test(line)) return { type: 'marker', marker: 'banner', ts: null, ts_sql: null };
    return {
      type: 'syslog', kind: 'unprefixed', ts: null, ts_sql: null, host: null, pid: null, message: line,
      proto: null, src: null, src_port: null, dst: null, dst_port: null, payload: null, detail: null, number: null,
    };
  }

  const tag = TAG.exec(line.slice(rest, rest + 20));
  if (tag === null) return rejected('malformed', `expected 'honeyd[PID]: ' at column ${rest + 1}`);
  const start = rest + tag[0].length;
  // Tolerated for the structured messages: one trailing \r (a capture through a terminal or a
  // CRLF tool). A service chunk keeps it: the script may have written it.
  const full = line.length;
  const end = line.charCodeAt(full - 1) === 13 ? full - 1 : full;
  const m = readMessage(line, start, end, full);
  if ('type' in m) return m;
  return {
    type: 'syslog',
    kind: m.kind,
    ts: ts === null ? null : new Date(ts),
    ts_sql: ts === null ? null : sqlUtc(ts),
    host,
    pid: Number(tag[1]),
    message: line.slice(start),
    proto: m.proto,
    src: m.src,
    src_port: m.src_port,
    dst: m.dst,
    dst_port: m.dst_port,
    payload: m.payload,
    detail: m.detail,
    number: m.number,
  };
}

function bsdTime(m: RegExpExecArray, ctx: ParseContext): number | Rejected {
  const mo = MONTHS[m[1]!];
  if (mo === undefined) return rejected('bad-time', `unknown month '${m[1]}' in syslog stamp`);
  // Without --year: this year, unless that puts the stamp more than a day ahead of the clock
  // (a December line read in January belongs to last year).
  let y = ctx.year ?? yearNow(ctx.tz);
  const d = Number(m[2]!.trim());
  const h = Number(m[3]);
  const mi = Number(m[4]);
  const s = Number(m[5]);
  const bad = badCalendar(y, mo, d, h, mi, s);
  if (bad !== null) return rejected('bad-time', `invalid syslog stamp '${m[0].slice(0, 15)}' in ${y}: ${bad}`);
  let utc = localToUtc(ctx.tz, y, mo, d, h, mi, s, 0, ctx.overlap);
  if (ctx.year === undefined && utc > Date.now() + 86_400_000 && badCalendar(y - 1, mo, d, h, mi, s) === null) {
    y -= 1;
    utc = localToUtc(ctx.tz, y, mo, d, h, mi, s, 0, ctx.overlap);
  }
  return Number.isNaN(utc) ? rejected('bad-zone', `unknown time zone '${ctx.tz}'`) : utc;
}

function isoTime(m: RegExpExecArray): number | Rejected {
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  const bad = badCalendar(y, mo, d, h, mi, s);
  if (bad !== null) return rejected('bad-time', `invalid syslog stamp: ${bad}`);
  // fraction truncated to milliseconds, like the -l stamps
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  const zone = m[8]!;
  let offset = 0;
  if (zone !== 'Z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) return rejected('bad-time', `invalid UTC offset '${zone}' in syslog stamp`);
    offset = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  return Date.UTC(y, mo - 1, d, h, mi, s, ms) - offset;
}

// currentYear() asks Intl, so remember it for a minute rather than per line.
let yearTz = '';
let yearAt = 0;
let yearVal = 0;

function yearNow(tz: string): number {
  const now = Date.now();
  if (tz !== yearTz || Math.abs(now - yearAt) > 60_000) {
    yearVal = currentYear(tz, now);
    yearTz = tz;
    yearAt = now;
  }
  return yearVal;
}
