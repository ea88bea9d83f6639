/**
 * Pure line parsers of the honeyd2db shim: one function per format, each `(line, ctx) ->
 * ParseResult`, never throwing, no I/O. See HONEYD-FORMATS.md for where each format comes from.
 */
import { parseConnLog } from './connlog.ts';
import type { LogFormat } from './detect.ts';
import { parseScriptLog } from './scriptlog.ts';
import { parseServiceLog } from './servicelog.ts';
import { parseSyslog } from './syslog.ts';
import type { ParseContext, ParseResult } from './types.ts';

export { parseConnLog } from './connlog.ts';
export { parseServiceLog } from './servicelog.ts';
export { parseSyslog } from './syslog.ts';
export { parseScriptLog } from './scriptlog.ts';
export { detectFormat, DETECT_LINES, type Detection, type LogFormat } from './detect.ts';
export { MAX_LINE_LENGTH } from './guard.ts';
export { LineRejectedError, UnknownFormatError } from './errors.ts';
export { localToUtc, sqlUtc, isKnownZone } from './time.ts';
export type * from './types.ts';

export type LineParser = (line: string, ctx: ParseContext) => ParseResult;

const PARSERS: Readonly<Record<LogFormat, LineParser>> = Object.freeze({
  'honeyd-log': parseConnLog,
  'service-log': parseServiceLog,
  syslog: parseSyslog,
  'script-log': parseScriptLog,
});

/** The parser of a detected or configured format. */
export function parserFor(format: LogFormat): LineParser {
  return PARSERS[format];
}
