/**
 * A cursor over one line for the hand-written parsers. The connection log must go at 200k+
 * lines/s, so fields are read with charCodeAt and no regex or split; each reader returns a
 * sentinel (-1 / null) on failure and records the first error, so a parser can read a whole
 * field sequence and test `err` once where that is clearer.
 */
import { canonicalIp } from '../../lib/ip.ts';
import { rejected, type RejectCode, type Rejected } from './types.ts';

const ZERO = 48;
const NINE = 57;
const DOT = 46;
const SPACE = 32;
const COLON = 58;
const RPAREN = 41;

export class Scanner {
  pos: number;
  err: Rejected | null = null;

  /** `end` excludes anything the parser chose to ignore (a tolerated trailing \r). */
  constructor(
    readonly s: string,
    readonly end: number,
    pos = 0,
  ) {
    this.pos = pos;
  }

  fail(code: RejectCode, what: string): void {
    if (this.err === null) this.err = rejected(code, `${what} at column ${this.pos + 1}`);
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  peek(): number {
    return this.pos < this.end ? this.s.charCodeAt(this.pos) : -1;
  }

  /** Consume `text` or fail; the message says what was expected. */
  lit(text: string, what?: string): boolean {
    if (this.pos + text.length <= this.end && this.s.startsWith(text, this.pos)) {
      this.pos += text.length;
      return true;
    }
    // the line stopping inside the expected text is a cut line, not a different one
    const cut = text.startsWith(this.s.slice(this.pos, this.end));
    this.fail('malformed', cut ? `line ends early, expected ${what ?? `'${text}'`} (truncated?)` : `expected ${what ?? `'${text}'`}`);
    return false;
  }

  /** Consume `text` if it is next. */
  maybe(text: string): boolean {
    if (this.pos + text.length <= this.end && this.s.startsWith(text, this.pos)) {
      this.pos += text.length;
      return true;
    }
    return false;
  }

  /** An unsigned decimal of at most 10 digits and at most `max`; -1 on failure. */
  uint(max: number, what: string): number {
    const start = this.pos;
    let v = 0;
    let c = this.peek();
    while (c >= ZERO && c <= NINE && this.pos - start < 10) {
      v = v * 10 + (c - ZERO);
      this.pos++;
      c = this.peek();
    }
    if (this.pos === start) {
      this.fail('malformed', this.atEnd() ? `line ends early, expected ${what} (truncated?)` : `expected ${what}`);
      return -1;
    }
    if ((c >= ZERO && c <= NINE) || v > max) {
      this.pos = start;
      this.fail('bad-number', `${what} '${this.token()}' out of range (0-${max})`);
      return -1;
    }
    return v;
  }

  /**
   * A dotted-quad IPv4 address, returned canonical. honeyd only logs IPv4 (log.c:71-76), and
   * addr_ntop prints the canonical form, so the fast path (four 0-255 parts without leading
   * zeros: already canonical) takes every real line; anything else goes to lib/ip.ts so the
   * project has one definition of a valid address.
   */
  ipv4(what: string): string | null {
    const s = this.s;
    const start = this.pos;
    let i = start;
    let parts = 0;
    let ok = true;
    for (;;) {
      const p = i;
      let v = 0;
      let c = i < this.end ? s.charCodeAt(i) : -1;
      while (c >= ZERO && c <= NINE && i - p < 3) {
        v = v * 10 + (c - ZERO);
        i++;
        c = i < this.end ? s.charCodeAt(i) : -1;
      }
      const len = i - p;
      if (len === 0 || v > 255 || (len > 1 && s.charCodeAt(p) === ZERO)) ok = false;
      parts++;
      if (c === DOT && parts < 4) {
        i++;
        continue;
      }
      if (c !== -1 && c !== SPACE && c !== COLON && c !== RPAREN) ok = false;
      break;
    }
    if (ok && parts === 4) {
      this.pos = i;
      return s.slice(start, i);
    }
    const tok = this.token();
    if (tok === '' || (parts < 4 && start + tok.length === this.end && /^[\d.]+$/.test(tok))) {
      // nothing, or the start of a dotted quad running into the end of the line: cut short
      this.fail('malformed', this.pos + tok.length === this.end ? `line ends early, expected ${what} (truncated?)` : `expected ${what}`);
      return null;
    }
    try {
      const canon = canonicalIp(tok, what);
      // IPv6 text would contain ':' and so never reaches here whole; keep the rule explicit.
      if (canon.includes(':')) throw new Error('IPv6');
      this.pos += tok.length;
      return canon;
    } catch {
      this.fail('bad-address', `${what} '${tok}' is not an IPv4 address`);
      return null;
    }
  }

  /** The run of characters from here to the next space, ':' or ')' (for error messages). */
  token(): string {
    let i = this.pos;
    while (i < this.end) {
      const c = this.s.charCodeAt(i);
      if (c === SPACE || c === COLON || c === RPAREN) break;
      i++;
    }
    const t = this.s.slice(this.pos, i);
    return t.length > 40 ? `${t.slice(0, 37)}...` : t;
  }

  rest(): string {
    return this.s.slice(this.pos, this.end);
  }

  /** Fail unless the whole line was consumed. */
  expectEnd(): boolean {
    if (this.pos === this.end) return true;
    const extra = this.s.slice(this.pos, Math.min(this.end, this.pos + 30));
    this.fail('malformed', `unexpected text '${extra}'`);
    return false;
  }
}
