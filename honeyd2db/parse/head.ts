/**
 * The start shared by -l and -s lines: honeyd_logtime() (log.c:108-129) and the
 * `honeyd log started/stopped ------` markers that both files get (log.c:229, 262).
 */
import { badCalendar, localToUtc, sqlUtc } from './time.ts';
import { rejected, type Marker, type ParseContext, type Rejected } from './types.ts';

/** `YYYY-MM-DD-HH:MM:SS.ffff` */
export const TS_LEN = 24;

const STARTED = 'honeyd log started ------';
const STOPPED = 'honeyd log stopped ------';

/** Read `n` digits at `i` as a number, or -1 if any is not a digit. */
function digits(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = i; k < i + n; k++) {
    const c = s.charCodeAt(k) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * UTC milliseconds of the timestamp that opens a -l/-s line, or why it is not one. The last
 * field is tv_usec/100 (1/10000 s); we keep milliseconds, truncating the fourth digit the same
 * way honeyd truncated microseconds (.0799 -> 79 ms), so an instant never moves forward.
 */
export function readHoneydTime(s: string, end: number, ctx: ParseContext): number | Rejected {
  if (end < TS_LEN + 1) {
    return rejected('malformed', end === 0 ? 'empty line' : 'line too short for a honeyd timestamp (truncated?)');
  }
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  const sec = digits(s, 17, 2);
  const frac = digits(s, 20, 4);
  if (
    y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0 || frac < 0 ||
    s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 45 ||
    s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58 || s.charCodeAt(19) !== 46 ||
    s.charCodeAt(24) !== 32
  ) {
    if (frac < 0 && digits(s, 20, 3) >= 0 && s.charCodeAt(23) === 32) {
      // seen only in hand-quoted examples (honeydsum.pl comments); every stock honeyd prints 4
      return rejected('bad-time', `timestamp '${s.slice(0, 23)}' has 3 fractional digits; honeyd prints 4 (YYYY-MM-DD-HH:MM:SS.ffff)`);
    }
    return rejected('malformed', `line does not start with a honeyd timestamp YYYY-MM-DD-HH:MM:SS.ffff: '${s.slice(0, 26)}'`);
  }
  const bad = badCalendar(y, mo, d, h, mi, sec);
  if (bad !== null) return rejected('bad-time', `invalid timestamp '${s.slice(0, TS_LEN)}': ${bad}`);
  const utc = localToUtc(ctx.tz, y, mo, d, h, mi, sec, Math.floor(frac / 10), ctx.overlap);
  if (Number.isNaN(utc)) return rejected('bad-zone', `unknown time zone '${ctx.tz}'`);
  return utc;
}

/** The marker a -l/-s line holds after its timestamp, or null when it is an event line. */
export function readMarker(s: string, end: number, utc: number): Marker | null {
  const len = end - (TS_LEN + 1);
  if (len !== STARTED.length) return null;
  const started = s.startsWith(STARTED, TS_LEN + 1);
  if (!started && !s.startsWith(STOPPED, TS_LEN + 1)) return null;
  return { type: 'marker', marker: started ? 'log-started' : 'log-stopped', ts: new Date(utc), ts_sql: sqlUtc(utc) };
}
