import { describe, expect, it } from 'vitest';
import { parseDuration, parseSince } from '../../lib/duration.ts';

describe('--since and durations', () => {
  const now = new Date('2026-03-10T12:00:00Z');

  it('reads a duration ago or an ISO time (UTC when no zone is given)', () => {
    expect(parseSince('24h', now).toISOString()).toBe('2026-03-09T12:00:00.000Z');
    expect(parseSince('2026-02-28', now).toISOString()).toBe('2026-02-28T00:00:00.000Z');
    expect(parseSince('2026-02-28 10:30', now).toISOString()).toBe('2026-02-28T10:30:00.000Z');
    expect(parseSince('2026-02-28T10:30+02:00', now).toISOString()).toBe('2026-02-28T08:30:00.000Z');
    expect(parseSince('2024-02-29', now).toISOString()).toBe('2024-02-29T00:00:00.000Z');
  });

  it('refuses days the calendar does not have, rather than rolling them over', () => {
    for (const bad of ['2026-02-30', '2026-02-29T10:00Z', '2026-04-31', '2026-13-01', '2026-00-10', '2026-01-01T25:00Z', 'yesterday']) {
      expect(() => parseSince(bad, now), bad).toThrow(/--since: '/);
    }
  });

  it('reads compound durations and refuses empty or absurd ones', () => {
    expect(parseDuration('1h30m')).toBe(5400);
    for (const bad of ['0s', '4 h', '-5m', '101000d', '']) expect(() => parseDuration(bad, '--duration'), bad).toThrow(/--duration/);
  });
});
