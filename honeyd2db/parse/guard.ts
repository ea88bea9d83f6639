/**
 * Checks every parser runs before looking at a line: size and binary garbage. Kept apart so
 * all formats refuse the same things for the same reasons.
 */
import { rejected, type Rejected } from './types.ts';

/**
 * Longest line we look at, in UTF-16 units. honeyd's own lines are short (a -s line carries at
 * most 1023 bytes of script text, log.c/tcp.c), so anything near this is not honeyd output and
 * parsing it would only cost memory.
 */
export const MAX_LINE_LENGTH = 64 * 1024;

// NUL never survives honeyd's C strings, and a \n means the caller did not split lines: each is
// a sign the line is not honeyd text. (Invalid UTF-8 bytes reach the parsers as `\xNN`, see
// lines.ts: a U+FFFD in a line is one an attacker sent, in a payload line to be kept, not a
// reason to refuse it.)
const GARBAGE = /[\u0000\n]/;

export function checkLine(line: string): Rejected | null {
  if (line.length > MAX_LINE_LENGTH) {
    return rejected('too-long', `line of ${line.length} characters exceeds the ${MAX_LINE_LENGTH} limit`);
  }
  const m = GARBAGE.exec(line);
  if (m !== null) {
    const what = m[0] === '\n' ? 'a newline (lines must be split at \\n first)' : 'a NUL byte';
    return rejected('binary', `line contains ${what} at column ${m.index + 1}`);
  }
  return null;
}
