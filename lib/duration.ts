/** Durations (`90s`, `15m`, `4h`, `7d`, `2w`, `1h30m`) and `--since` values (duration or time). */
import { InputError } from './errors.ts';

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds in a duration; `what` names the argument in the error. */
export function parseDuration(text: string, what = 'duration'): number {
  const t = text.trim().toLowerCase();
  if (!/^(\d{1,9}[smhdw])+$/.test(t)) {
    throw new InputError(`${what}: '${text}' is not a duration (e.g. 90s, 15m, 4h, 7d, 2w, 1h30m)`);
  }
  let total = 0;
  for (const m of t.matchAll(/(\d+)([smhdw])/g)) total += Number(m[1]) * UNIT[m[2]!]!;
  if (total <= 0 || total > 100 * 365 * 86400) throw new InputError(`${what}: '${text}' is out of range`);
  return total;
}

/** A point in time: a duration ago (`24h`) or an ISO 8601 time (`2026-01-01`, `2026-01-01T10:00Z`). */
export function parseSince(text: string, now = new Date(), what = '--since'): Date {
  const t = text.trim();
  if (/^(\d+[smhdw])+$/i.test(t)) return new Date(now.getTime() - parseDuration(t, what) * 1000);
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) {
    // a time without a zone is UTC, like everything ipms stores
    const iso = t.replace(' ', 'T');
    const d = new Date(/[T]\d{2}:\d{2}/.test(iso) && !/(Z|[+-]\d{2}:?\d{2})$/.test(iso) ? `${iso}Z` : iso);
    // Date rolls 2026-02-30 over to March 2: a day the calendar does not have is a typo
    const [y, mo, day] = t.slice(0, 10).split('-').map(Number) as [number, number, number];
    const real = new Date(Date.UTC(y, mo - 1, day));
    if (real.getUTCFullYear() !== y || real.getUTCMonth() !== mo - 1 || real.getUTCDate() !== day) {
      throw new InputError(`${what}: '${text}' is not a date in the calendar`);
    }
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new InputError(`${what}: '${text}' is neither a duration (24h, 7d) nor a time (2026-01-01T10:00Z)`);
}

/** `3h 4m` style, for people. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? ` ${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)}h` : ''}`;
}

/** A positive integer id from the command line. */
export function parseId(text: string, what = 'ID'): number {
  if (!/^\d{1,15}$/.test(text.trim()) || Number(text) < 1) throw new InputError(`${what}: '${text}' is not a positive integer`);
  return Number(text);
}
