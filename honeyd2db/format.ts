/**
 * Which parser reads a file: the one named by --format, or the one its first lines call for
 * (parse/detect.ts). Two cases need more than the detector's verdict:
 *
 * - a file holding only `honeyd log started/stopped` lines (honeyd just started, or a -s log
 *   of scripts that never wrote anything) fits both -l and -s: it is read with a parser that
 *   takes the markers and decides at the first real line;
 * - a file of no stock format (the patched-honeyd syslog variant, garbage, several formats
 *   mixed) is not fatal: each of its lines is refused with the detector's reason.
 */
import { detectFormat, parseConnLog, parseServiceLog, parserFor, type LineParser, type LogFormat } from './parse/index.ts';
import { rejected } from './parse/types.ts';

export type FormatChoice = LogFormat | 'auto';

export const FORMATS: readonly LogFormat[] = ['honeyd-log', 'service-log', 'syslog', 'script-log'];

export interface Reader {
  /** the format name for people and checkpoints: one of FORMATS, 'markers-only' (-l or -s, not known yet) or 'unknown' */
  format: string;
  parse: LineParser;
}

/** A -l or -s file with only markers so far: both parsers agree on markers; the first event decides. */
function undecided(onDecide: (f: LogFormat) => void): LineParser {
  let decided: LineParser | null = null;
  return (line, ctx) => {
    if (decided !== null) return decided(line, ctx);
    const asConn = parseConnLog(line, ctx);
    if (asConn.type === 'conn') {
      decided = parseConnLog;
      onDecide('honeyd-log');
      return asConn;
    }
    if (asConn.type !== 'rejected') return asConn;
    const asService = parseServiceLog(line, ctx);
    if (asService.type === 'service') {
      decided = parseServiceLog;
      onDecide('service-log');
      return asService;
    }
    return asConn;
  };
}

export function chooseReader(choice: FormatChoice, head: readonly string[]): Reader {
  if (choice !== 'auto') return { format: choice, parse: parserFor(choice) };
  const d = detectFormat(head);
  if (d.format !== 'unknown') return { format: d.format, parse: parserFor(d.format) };
  const both = d.candidates.length === 2 && d.candidates.includes('honeyd-log') && d.candidates.includes('service-log');
  if (both) {
    const reader: Reader = { format: 'markers-only', parse: parseConnLog };
    reader.parse = undecided((f) => {
      reader.format = f;
    });
    return reader;
  }
  const reason = `unknown format: ${d.reason}${d.candidates.length ? ` (name it with --format: ${d.candidates.join(' or ')}, and --from-start to read again the lines refused)` : ''}`;
  const code = d.reason.startsWith('non-stock') ? 'non-stock' : 'malformed';
  return { format: 'unknown', parse: () => rejected(code, reason) };
}
