import { afterAll, describe, expect, it } from 'vitest';
import { parseConnLog } from '../../honeyd2db/parse/connlog.ts';
import { currentYear, daysInMonth, isKnownZone, localToUtc, sqlUtc } from '../../honeyd2db/parse/time.ts';

/** `YYYY-MM-DD HH:MM:SS.mmm` (UTC) of a -l line stamped `stamp` in zone `tz`. */
function utcOf(stamp: string, tz: string): string {
  const r = parseConnLog(`${stamp} tcp(6) S 10.0.0.1 1 10.0.0.2 2`, { tz });
  if (r.type !== 'conn') throw new Error(JSON.stringify(r));
  expect(r.ts.toISOString().replace('T', ' ').replace('Z', '')).toBe(r.ts_sql);
  return r.ts_sql;
}

describe('local time of the sensor zone -> UTC', () => {
  it('UTC and fixed-offset zones', () => {
    expect(utcOf('2012-02-10-22:37:48.0799', 'UTC')).toBe('2012-02-10 22:37:48.079');
    expect(utcOf('2012-02-10-22:37:48.0799', 'Etc/UTC')).toBe('2012-02-10 22:37:48.079');
    expect(utcOf('2012-02-10-22:37:48.0799', 'Asia/Kolkata')).toBe('2012-02-10 17:07:48.079');
    expect(utcOf('2012-02-10-02:00:00.0000', 'America/St_Johns')).toBe('2012-02-10 05:30:00.000');
  });

  it('winter and summer time, across midnight and the year', () => {
    expect(utcOf('2024-01-15-12:00:00.0000', 'Europe/Paris')).toBe('2024-01-15 11:00:00.000');
    expect(utcOf('2024-07-15-12:00:00.0000', 'Europe/Paris')).toBe('2024-07-15 10:00:00.000');
    expect(utcOf('2024-01-01-00:30:00.5000', 'Europe/Paris')).toBe('2023-12-31 23:30:00.500');
    expect(utcOf('2023-12-31-20:00:00.0000', 'America/New_York')).toBe('2024-01-01 01:00:00.000');
  });

  it('spring forward (gap): wall times that never happened move forward by the gap', () => {
    // Europe/Paris 2024-03-31: 02:00 CET -> 03:00 CEST
    expect(utcOf('2024-03-31-01:59:59.9999', 'Europe/Paris')).toBe('2024-03-31 00:59:59.999');
    expect(utcOf('2024-03-31-02:00:00.0000', 'Europe/Paris')).toBe('2024-03-31 01:00:00.000');
    expect(utcOf('2024-03-31-02:30:00.0000', 'Europe/Paris')).toBe('2024-03-31 01:30:00.000');
    expect(utcOf('2024-03-31-03:00:00.0000', 'Europe/Paris')).toBe('2024-03-31 01:00:00.000');
    expect(utcOf('2024-03-31-03:30:00.0000', 'Europe/Paris')).toBe('2024-03-31 01:30:00.000');
    // America/New_York 2024-03-10: 02:00 EST -> 03:00 EDT
    expect(utcOf('2024-03-10-02:30:00.0000', 'America/New_York')).toBe('2024-03-10 07:30:00.000');
  });

  it('fall back (overlap): the ambiguous hour resolves to its first occurrence', () => {
    // Europe/Paris 2024-10-27: 03:00 CEST -> 02:00 CET, so 02:00-02:59 happen twice
    expect(utcOf('2024-10-27-01:59:59.9999', 'Europe/Paris')).toBe('2024-10-26 23:59:59.999');
    expect(utcOf('2024-10-27-02:00:00.0000', 'Europe/Paris')).toBe('2024-10-27 00:00:00.000');
    expect(utcOf('2024-10-27-02:30:00.0000', 'Europe/Paris')).toBe('2024-10-27 00:30:00.000');
    expect(utcOf('2024-10-27-02:59:59.9999', 'Europe/Paris')).toBe('2024-10-27 00:59:59.999');
    expect(utcOf('2024-10-27-03:00:00.0000', 'Europe/Paris')).toBe('2024-10-27 02:00:00.000');
    // America/New_York 2024-11-03: 01:00-01:59 twice; first is EDT (-4)
    expect(utcOf('2024-11-03-01:30:00.0000', 'America/New_York')).toBe('2024-11-03 05:30:00.000');
  });

  it('fall back, reading one file: once its times run back inside the overlap, the rest of that hour is the second pass', () => {
    const ctx = { tz: 'Europe/Paris', overlap: { hour: Number.NaN, lastWall: 0, later: false } };
    const read = (stamp: string) => {
      const r = parseConnLog(`${stamp} tcp(6) S 10.0.0.1 1 10.0.0.2 2`, ctx);
      if (r.type !== 'conn') throw new Error(JSON.stringify(r));
      return r.ts_sql;
    };
    expect(read('2024-10-27-01:59:00.0000')).toBe('2024-10-26 23:59:00.000');
    expect(read('2024-10-27-02:30:00.0000')).toBe('2024-10-27 00:30:00.000');
    // a few minutes out of order is not the clocks going back
    expect(read('2024-10-27-02:58:00.0000')).toBe('2024-10-27 00:58:00.000');
    expect(read('2024-10-27-02:52:00.0000')).toBe('2024-10-27 00:52:00.000');
    // back by more than 10 minutes: the second pass (CET)
    expect(read('2024-10-27-02:01:00.0000')).toBe('2024-10-27 01:01:00.000');
    expect(read('2024-10-27-02:30:00.0000')).toBe('2024-10-27 01:30:00.000');
    expect(read('2024-10-27-02:59:59.9999')).toBe('2024-10-27 01:59:59.999');
    expect(read('2024-10-27-03:00:00.0000')).toBe('2024-10-27 02:00:00.000');
    // a year later, the next overlap starts afresh
    expect(read('2025-10-26-02:30:00.0000')).toBe('2025-10-26 00:30:00.000');
  });

  it('half-hour DST shift inside an hour (Australia/Lord_Howe)', () => {
    // 2024-04-07 02:00 +11 -> 01:30 +10:30: 01:30-01:59 twice, first at +11
    expect(utcOf('2024-04-07-01:29:00.0000', 'Australia/Lord_Howe')).toBe('2024-04-06 14:29:00.000');
    expect(utcOf('2024-04-07-01:45:00.0000', 'Australia/Lord_Howe')).toBe('2024-04-06 14:45:00.000');
    expect(utcOf('2024-04-07-02:15:00.0000', 'Australia/Lord_Howe')).toBe('2024-04-06 15:45:00.000');
    // 2024-10-06 02:00 +10:30 -> 02:30 +11: 02:00-02:29 never happen
    expect(utcOf('2024-10-06-02:15:00.0000', 'Australia/Lord_Howe')).toBe('2024-10-05 15:45:00.000');
    expect(utcOf('2024-10-06-02:45:00.0000', 'Australia/Lord_Howe')).toBe('2024-10-05 15:45:00.000');
  });

  describe('agrees with JS Date local time (the same compatible policy) over whole years', () => {
    const saved = process.env.TZ;
    afterAll(() => {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    });
    for (const tz of ['Europe/Paris', 'America/New_York', 'Australia/Lord_Howe', 'America/Santiago', 'Africa/Casablanca']) {
      it(tz, () => {
        // Node re-reads TZ when it changes, so Date's local time becomes an independent oracle
        process.env.TZ = tz;
        let mismatches = 0;
        for (const year of [2011, 2024]) {
          // every 10 minutes, with odd seconds and milliseconds so hour-cache edges are crossed
          for (let t = Date.UTC(year, 0, 1); t < Date.UTC(year + 1, 0, 1); t += 10 * 60_000) {
            const d = new Date(t);
            const f = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), 59, 999] as const;
            const oracle = new Date(f[0], f[1] - 1, f[2], f[3], f[4], f[5], f[6]).getTime();
            if (localToUtc(tz, ...f) !== oracle) mismatches++;
          }
        }
        expect(mismatches).toBe(0);
      });
    }
  });

  it('cold and warm hour cache give the same instant', () => {
    const first = utcOf('2031-10-26-02:15:00.1234', 'Europe/Berlin');
    expect(utcOf('2031-10-26-02:15:00.1234', 'Europe/Berlin')).toBe(first);
    expect(first).toBe('2031-10-26 00:15:00.123');
  });

  it('unknown zones are reported, not thrown', () => {
    expect(isKnownZone('Europe/Paris')).toBe(true);
    expect(isKnownZone('Not/AZone')).toBe(false);
    expect(Number.isNaN(localToUtc('Not/AZone', 2024, 1, 1, 0, 0, 0, 0))).toBe(true);
    expect(parseConnLog('2024-01-01-00:00:00.0000 tcp(6) S 1.2.3.4 1 5.6.7.8 2', { tz: '' })).toMatchObject({ type: 'rejected', code: 'bad-zone' });
  });
});

describe('helpers', () => {
  it('sqlUtc pads milliseconds and reuses nothing wrongly across seconds', () => {
    const t = Date.UTC(2024, 1, 29, 23, 59, 59);
    expect(sqlUtc(t + 7)).toBe('2024-02-29 23:59:59.007');
    expect(sqlUtc(t + 70)).toBe('2024-02-29 23:59:59.070');
    expect(sqlUtc(t + 700)).toBe('2024-02-29 23:59:59.700');
    expect(sqlUtc(t + 1000)).toBe('2024-03-01 00:00:00.000');
    expect(sqlUtc(t + 999)).toBe('2024-02-29 23:59:59.999');
  });

  it('daysInMonth knows leap years', () => {
    expect([2023, 2024, 1900, 2000].map((y) => daysInMonth(y, 2))).toEqual([28, 29, 28, 29]);
    expect(daysInMonth(2023, 4)).toBe(30);
    expect(daysInMonth(2023, 12)).toBe(31);
  });

  it('currentYear is the year in the zone, not in UTC', () => {
    const newYearUtc = Date.UTC(2025, 0, 1, 0, 30);
    expect(currentYear('UTC', newYearUtc)).toBe(2025);
    expect(currentYear('America/New_York', newYearUtc)).toBe(2024);
    expect(currentYear('Asia/Tokyo', Date.UTC(2024, 11, 31, 16))).toBe(2025);
  });
});
