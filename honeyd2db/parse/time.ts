/**
 * Local wall-clock time of an IANA zone -> UTC instant, with Intl.DateTimeFormat only.
 *
 * honeyd writes `localtime()` with no offset, so the zone comes from configuration. Asking Intl
 * for an offset costs microseconds, far too much per line at 200k lines/s, so the offset is
 * cached per local hour: an hour whose first and last millisecond resolve to the same single
 * offset has no transition inside it (two transitions within one hour do not occur in tzdata),
 * and every time in it converts with one subtraction. Hours that hold a transition are resolved
 * line by line.
 *
 * DST policy (the same as JS Date and Temporal's 'compatible'):
 * - overlap (clocks go back, the wall time happens twice): the EARLIER instant. honeyd's line
 *   cannot tell the two apart; but a file's lines come in time order, so when a reader keeps an
 *   OverlapState for the file, a wall time that runs back by more than OVERLAP_JUMP_MS within the
 *   overlap means the second pass has begun: from there to the end of that hour, the LATER one
 *   (else both passes' hits would fall into the same windows).
 * - gap (clocks go forward, the wall time never happens): shifted forward by the gap, i.e.
 *   converted with the offset in force before the transition (02:30 on a spring-forward night in
 *   Europe/Paris becomes 01:30Z = 03:30 CEST). localtime() cannot produce such times, so seeing
 *   one means the configured zone is not the one honeyd ran in.
 */

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Bound on cached hours per zone (about 11 years of distinct hours); cleared when reached. */
const MAX_CACHED_HOURS = 100_000;

interface Resolution {
  utc: number;
  offset: number;
  unique: boolean;
  /** in an overlap: the later instant */
  later?: number;
}

/** What one file's reader knows of the overlap it is in (see the DST policy above). */
export interface OverlapState {
  /** the local hour (wall ms / 1 h) of the overlap these fields are about */
  hour: number;
  /** the latest wall time seen in it */
  lastWall: number;
  /** the second pass has begun */
  later: boolean;
}

/** How far a wall time must run back inside an overlap to mean the clocks went back (lines a little out of order do not). */
export const OVERLAP_JUMP_MS = 10 * 60_000;

class Zone {
  private readonly hours = new Map<number, number>();
  private lastKey = Number.NaN;
  private lastOffset = 0;

  /** `fmt` null: a zone with a constant zero offset (UTC and its aliases). */
  constructor(private readonly fmt: Intl.DateTimeFormat | null) {}

  /** Offset (ms east of UTC) in force at a UTC instant. */
  offsetAt(utc: number): number {
    if (this.fmt === null) return 0;
    // whole seconds: Intl formats seconds, and tz offsets are whole seconds
    const sec = utc - (((utc % 1000) + 1000) % 1000);
    let y = 0;
    let mo = 0;
    let d = 0;
    let h = 0;
    let mi = 0;
    let s = 0;
    for (const p of this.fmt.formatToParts(sec)) {
      switch (p.type) {
        case 'year': y = Number(p.value); break;
        case 'month': mo = Number(p.value); break;
        case 'day': d = Number(p.value); break;
        case 'hour': h = Number(p.value) % 24; break;
        case 'minute': mi = Number(p.value); break;
        case 'second': s = Number(p.value); break;
        default: break;
      }
    }
    return Date.UTC(y, mo - 1, d, h, mi, s) - sec;
  }

  /** Full resolution of one wall time (given as if it were UTC); see the policy above. */
  resolve(wall: number): Resolution {
    // At most one transition lies within a day of any instant, so the offsets a day either
    // side are the only candidates.
    const before = this.offsetAt(wall - DAY);
    const after = this.offsetAt(wall + DAY);
    const okBefore = this.offsetAt(wall - before) === before;
    const okAfter = after !== before && this.offsetAt(wall - after) === after;
    if (okBefore && okAfter) {
      // overlap: the earlier instant is the one with the larger offset
      const offset = Math.max(before, after);
      return { utc: wall - offset, offset, unique: false, later: wall - Math.min(before, after) };
    }
    if (okBefore) return { utc: wall - before, offset: before, unique: true };
    if (okAfter) return { utc: wall - after, offset: after, unique: true };
    return { utc: wall - before, offset: before, unique: false };
  }

  toUtc(wall: number, overlap?: OverlapState): number {
    if (this.fmt === null) return wall;
    const key = Math.floor(wall / HOUR);
    if (key === this.lastKey) return wall - this.lastOffset;
    let off = this.hours.get(key);
    if (off === undefined) {
      const a = this.resolve(key * HOUR);
      const b = this.resolve(key * HOUR + HOUR - 1);
      off = a.unique && b.unique && a.offset === b.offset ? a.offset : Number.NaN;
      if (this.hours.size >= MAX_CACHED_HOURS) this.hours.clear();
      this.hours.set(key, off);
    }
    if (Number.isNaN(off)) {
      const r = this.resolve(wall);
      if (r.later === undefined || overlap === undefined) return r.utc;
      if (overlap.hour !== key) {
        overlap.hour = key;
        overlap.lastWall = wall;
        overlap.later = false;
      } else if (!overlap.later && wall < overlap.lastWall - OVERLAP_JUMP_MS) {
        overlap.later = true;
      }
      overlap.lastWall = Math.max(overlap.lastWall, wall);
      return overlap.later ? r.later : r.utc;
    }
    this.lastKey = key;
    this.lastOffset = off;
    return wall - off;
  }
}

// Memo of zone -> converter. It holds only derived, immutable facts about tzdata, so sharing it
// across callers is safe; null marks a zone name Intl does not know.
const zones = new Map<string, Zone | null>();
let lastTz = '';
let lastZone: Zone | null = null;

function zoneOf(tz: string): Zone | null {
  if (tz === lastTz && lastZone !== null) return lastZone;
  let z = zones.get(tz);
  if (z === undefined) {
    z = makeZone(tz);
    zones.set(tz, z);
  }
  lastTz = tz;
  lastZone = z;
  return z;
}

function makeZone(tz: string): Zone | null {
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return null;
  }
  const name = fmt.resolvedOptions().timeZone;
  return new Zone(name === 'UTC' || name === 'Etc/UTC' || name === 'Etc/GMT' ? null : fmt);
}

export function isKnownZone(tz: string): boolean {
  return zoneOf(tz) !== null;
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Why a calendar time is impossible, or null when it is fine. Years before 1970 are refused:
 * honeyd and the scripts stamp gettimeofday()/time(), and Date.UTC reads years below 100 as 19xx.
 */
export function badCalendar(y: number, mo: number, d: number, h: number, mi: number, s: number): string | null {
  if (y < 1970) return `year ${y} is before 1970`;
  if (mo < 1 || mo > 12) return `month ${mo} does not exist`;
  if (d < 1 || d > daysInMonth(y, mo)) return `day ${d} does not exist in ${y}-${pad2(mo)}`;
  if (h > 23 || mi > 59 || s > 59) return `time ${pad2(h)}:${pad2(mi)}:${pad2(s)} does not exist`;
  return null;
}

/**
 * UTC milliseconds of a local wall time in `tz`, or NaN when `tz` is unknown. The fields must
 * already be valid (see badCalendar).
 */
export function localToUtc(tz: string, y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number, overlap?: OverlapState): number {
  const z = zoneOf(tz);
  if (z === null) return Number.NaN;
  return z.toUtc(Date.UTC(y, mo - 1, d, h, mi, s, ms), overlap);
}

/** The year it is now in `tz` (syslog stamps carry none). UTC when the zone is unknown. */
export function currentYear(tz: string, now: number = Date.now()): number {
  const z = zoneOf(tz);
  return new Date(now + (z === null ? 0 : z.offsetAt(now))).getUTCFullYear();
}

// Lines come in time order, so most share their second with the previous one: reuse its text.
let sqlSecond = Number.NaN;
let sqlPrefix = '';

/** MySQL DATETIME(3) text of a UTC instant: `YYYY-MM-DD HH:MM:SS.mmm`. */
export function sqlUtc(ms: number): string {
  const sec = Math.floor(ms / 1000);
  if (sec !== sqlSecond) {
    const iso = new Date(sec * 1000).toISOString();
    sqlPrefix = `${iso.slice(0, 10)} ${iso.slice(11, 19)}.`;
    sqlSecond = sec;
  }
  const m = ms - sec * 1000;
  return sqlPrefix + (m < 10 ? `00${m}` : m < 100 ? `0${m}` : `${m}`);
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
