/**
 * Which format a file holds, from its first lines, so `ipms ingest` can pick a parser per file.
 * Judged on the shape of each line only (not on its values), so a -l file with anonymised
 * addresses is still recognised as -l and its lines are then rejected one by one with reasons.
 */
import { NON_STOCK_MESSAGE } from './syslogmsg.ts';

export type LogFormat = 'honeyd-log' | 'service-log' | 'syslog' | 'script-log';

export type Detection =
  | { format: LogFormat; /** lines that looked like this format */ matched: number; /** non-empty lines looked at */ examined: number }
  | {
      format: 'unknown';
      reason: string;
      /** formats the lines fit equally well (a file with only start/stop markers fits -l and -s) */
      candidates: LogFormat[];
    };

/** How many non-empty lines detectFormat looks at by default. */
export const DETECT_LINES = 50;

const HONEYD_TS = String.raw`\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d\.\d+ `;
const MARKER = new RegExp(`^${HONEYD_TS}honeyd log (?:started|stopped) ------\\r?$`);
const CONN = new RegExp(`^${HONEYD_TS}[^\\s()]+\\(\\d+\\) [SE-] `);
const SERVICE = new RegExp(`^${HONEYD_TS}[^\\s()]+\\(\\d+\\) \\S+ \\d+ \\S+ \\d+: \\|`);
const SCRIPT = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}: [^\s[\]]+\[\d+\]: /;
const SYSLOG_PREFIX = /^(?:[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*) \S+ /;
const HONEYD_TAG = /^honeyd\[\d+\]: /;
const BANNER = /^Honeyd V\S+ Copyright /;

type Shape = LogFormat | 'marker' | 'syslog-other' | 'non-stock' | 'none';

function shapeOf(line: string): Shape {
  if (MARKER.test(line)) return 'marker';
  if (CONN.test(line)) return 'honeyd-log';
  if (SERVICE.test(line)) return 'service-log';
  if (SCRIPT.test(line)) return 'script-log';
  const prefix = SYSLOG_PREFIX.exec(line);
  const rest = prefix === null ? line : line.slice(prefix[0].length);
  const tag = HONEYD_TAG.exec(rest);
  if (tag !== null) return NON_STOCK_MESSAGE.test(rest.slice(tag[0].length)) ? 'non-stock' : 'syslog';
  if (prefix !== null) return 'syslog-other';
  if (BANNER.test(line)) return 'syslog';
  return 'none';
}

/**
 * Decide from the first non-empty lines (pass a file's head; extra lines beyond `max` are
 * ignored). A format wins when it is the only one seen; a file that mixes formats, holds the
 * non-stock syslog variant, or holds nothing recognisable is 'unknown' with a reason.
 */
export function detectFormat(lines: readonly string[], max = DETECT_LINES): Detection {
  const counts: Record<Shape, number> = {
    'honeyd-log': 0, 'service-log': 0, syslog: 0, 'script-log': 0, marker: 0, 'syslog-other': 0, 'non-stock': 0, none: 0,
  };
  let examined = 0;
  for (const line of lines) {
    if (examined >= max) break;
    if (line.trim() === '') continue;
    examined++;
    counts[shapeOf(line)]++;
  }
  if (examined === 0) return { format: 'unknown', reason: 'no non-empty lines to judge', candidates: [] };
  if (counts['non-stock'] > 0) {
    return {
      format: 'unknown',
      reason:
        "non-stock honeyd variant: syslog messages like 'YYYY-MM-DD:HH-MM-SS:tcp(6):START:...:genre=...' come from a patched " +
        'honeyd, not from stock 1.5c/1.6a/1.6d; ingest its -l log instead',
      candidates: [],
    };
  }
  let formats: LogFormat[] = (['honeyd-log', 'service-log', 'syslog', 'script-log'] as const).filter((f) => counts[f] > 0);
  // -d stderr carries what service scripts wrote, attacker-chosen text whose lines may look like
  // any format: honeyd's own lines outnumbering all the others decide (else one line an attacker
  // sent in the first 50 made the whole file unknown, every hit in it refused)
  const syslogOwn = counts.syslog + counts['syslog-other'];
  if (formats.length > 1 && formats.includes('syslog') && syslogOwn > formats.reduce((n, f) => n + (f === 'syslog' ? 0 : counts[f]), 0)) {
    formats = ['syslog'];
  }
  if (formats.length > 1) {
    const seen = formats.map((f) => `${counts[f]} ${f}`).join(', ');
    return { format: 'unknown', reason: `lines of several formats (${seen})`, candidates: [...formats] };
  }
  const only = formats[0];
  if (only !== undefined) {
    if ((only === 'honeyd-log' || only === 'service-log') && counts['syslog-other'] > 0) {
      return { format: 'unknown', reason: `${only} lines mixed with syslog lines`, candidates: [only] };
    }
    const matched = counts[only] + (only === 'syslog' ? counts['syslog-other'] : 0) + (only === 'honeyd-log' || only === 'service-log' ? counts.marker : 0);
    // -d stderr legitimately holds many unprefixed lines (wrapper output, multi-line chunks),
    // and so do script logs (a file name an attacker sent with newlines in it, which the stock
    // kuang2.pl logs quotemeta'd, one line each): lines of no shape at all do not count there.
    // The other formats are line-exact, so mostly-unrecognised lines mean a different file.
    const judged = only === 'script-log' ? examined - counts.none : examined;
    if (only !== 'syslog' && matched * 2 < judged) {
      return { format: 'unknown', reason: `only ${matched} of ${judged} lines look like ${only}`, candidates: [only] };
    }
    return { format: only, matched, examined };
  }
  if (counts.marker > 0 && counts['syslog-other'] === 0) {
    return {
      format: 'unknown',
      reason: "only 'honeyd log started/stopped' lines: a -l or -s file, cannot tell which yet",
      candidates: ['honeyd-log', 'service-log'],
    };
  }
  if (counts['syslog-other'] > 0 && counts.marker === 0) {
    // a system syslog whose first lines are other programs': honeyd's lines may come later
    return { format: 'syslog', matched: counts['syslog-other'], examined };
  }
  return { format: 'unknown', reason: 'no line looks like honeyd output', candidates: [] };
}
