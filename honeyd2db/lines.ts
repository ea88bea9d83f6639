import { isUtf8 } from 'node:buffer';

/**
 * Bytes to lines, with the byte offset of every line (its event id comes from it). Lines are
 * split at \n only and decoded as UTF-8. honeyd writes what attackers sent, byte for byte, in
 * its payload logs (telnet option bytes, Latin-1, a UTF-8 character cut at a 1023-byte chunk):
 * a byte that is not part of valid UTF-8 is kept as the text `\xNN` and the line is marked
 * (`invalidUtf8`), so payload lines lose nothing and the connection log, which is ASCII, can
 * refuse such a line as binary. A line longer than `maxBytes` is never held in memory whole: its first bytes are
 * kept for the rejects file and the rest is skipped up to the next \n, so a 1 MB line (or a
 * binary file with no newline) costs nothing.
 */

/**
 * Longest line kept, in bytes. Data.payload and Data.raw are TEXT (65,535 bytes) and honeyd's
 * longest lines (a -s piece of at most 1023 bytes of script text) are far below this.
 */
export const MAX_LINE_BYTES = 60_000;
/** How much of a too-long line the rejects file gets. */
const KEEP_OF_LONG = 512;

export interface Line {
  text: string;
  /** byte offset of the first byte of the line */
  offset: number;
  /** byte offset just after its \n (or after its last byte for a final line without one) */
  end: number;
  /** set when the line exceeded maxBytes: its real length in bytes; `text` is its start */
  tooLong?: number;
  /** a final line without \n, given only by finish() */
  partial?: boolean;
  /** byte index (from 0) in the line of its first byte that is not valid UTF-8, if any */
  invalidUtf8?: number;
}

/** Length of the valid UTF-8 sequence at b[i] (RFC 3629: no overlongs, surrogates or > U+10FFFF), or 0. */
function seqLen(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/** Text of a line's bytes: UTF-8, with every byte that is not part of valid UTF-8 as `\xNN`. */
export function decodeLine(bytes: Buffer): { text: string; invalidUtf8?: number } {
  if (isUtf8(bytes)) return { text: bytes.toString('utf8') };
  let text = '';
  let run = 0;
  let first = -1;
  for (let i = 0; i < bytes.length; ) {
    const n = seqLen(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    if (first < 0) first = i;
    text += `${bytes.toString('utf8', run, i)}\\x${bytes[i]!.toString(16).toUpperCase().padStart(2, '0')}`;
    i++;
    run = i;
  }
  return { text: text + bytes.toString('utf8', run), invalidUtf8: first };
}

function lineOf(bytes: Buffer, offset: number, end: number, partial?: boolean): Line {
  // the usual line: valid UTF-8, one object of one shape (this runs for every line)
  if (!partial && isUtf8(bytes)) return { text: bytes.toString('utf8'), offset, end };
  const d = decodeLine(bytes);
  const line: Line = { text: d.text, offset, end };
  if (partial) line.partial = true;
  if (d.invalidUtf8 !== undefined) line.invalidUtf8 = d.invalidUtf8;
  return line;
}

export class LineSplitter {
  /** file offset of the next byte push() expects */
  pos: number;
  private carry: Buffer[] = [];
  private carryLen = 0;
  /** start offset of the line being carried */
  private lineStart: number;
  /** bytes of a too-long line seen so far (0 = not in one) */
  private longLen = 0;
  private longHead = '';

  constructor(
    startOffset: number,
    private readonly maxBytes = MAX_LINE_BYTES,
  ) {
    this.pos = startOffset;
    this.lineStart = startOffset;
  }

  /** Bytes held for an unfinished line. */
  get pending(): number {
    return this.longLen > 0 ? this.longLen : this.carryLen;
  }

  /** Feed the next bytes of the file; `onLine` gets every line they complete, in order. */
  push(chunk: Buffer, onLine: (l: Line) => void): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      const nl = chunk.indexOf(10, i);
      const stop = nl < 0 ? n : nl;
      if (this.longLen > 0) {
        this.longLen += stop - i;
      } else if (this.carryLen + stop - i > this.maxBytes) {
        const head = Buffer.concat([...this.carry, chunk.subarray(i, Math.min(stop, i + KEEP_OF_LONG))]);
        this.longHead = head.subarray(0, KEEP_OF_LONG).toString('utf8');
        this.longLen = this.carryLen + stop - i;
        this.carry = [];
        this.carryLen = 0;
      } else if (nl >= 0 && this.carryLen === 0) {
        // the usual case: the whole line is inside this chunk
        const offset = this.pos + i;
        // decoded as it comes; a U+FFFD in the text means bytes to look at closely (invalid
        // ones, or a real U+FFFD), which is rare
        const text = chunk.toString('utf8', i, nl);
        onLine(text.includes('\uFFFD') ? lineOf(chunk.subarray(i, nl), offset, this.pos + nl + 1) : { text, offset, end: this.pos + nl + 1 });
        i = nl + 1;
        this.lineStart = this.pos + i;
        continue;
      } else {
        this.carry.push(chunk.subarray(i, stop));
        this.carryLen += stop - i;
      }
      if (nl < 0) break;
      const end = this.pos + nl + 1;
      if (this.longLen > 0) {
        onLine({ text: this.longHead, offset: this.lineStart, end, tooLong: this.longLen });
        this.longLen = 0;
        this.longHead = '';
      } else {
        const bytes = Buffer.concat(this.carry, this.carryLen);
        this.carry = [];
        this.carryLen = 0;
        onLine(lineOf(bytes, this.lineStart, end));
      }
      i = nl + 1;
      this.lineStart = end;
    }
    // chunks passed to push() may be reused by the caller: keep our own copy of a carried tail
    if (this.carryLen > 0) {
      this.carry = [Buffer.concat(this.carry, this.carryLen)]; // concat always copies
    }
    this.pos += n;
  }

  /**
   * End of input (a file read to its end without --follow, or standard input closed): the bytes
   * after the last \n, if any, as a final partial line.
   */
  finish(onLine: (l: Line) => void): void {
    if (this.longLen > 0) {
      onLine({ text: this.longHead, offset: this.lineStart, end: this.pos, tooLong: this.longLen, partial: true });
    } else if (this.carryLen > 0) {
      onLine(lineOf(Buffer.concat(this.carry, this.carryLen), this.lineStart, this.pos, true));
    }
    this.carry = [];
    this.carryLen = 0;
    this.longLen = 0;
    this.lineStart = this.pos;
  }
}
