/** The audit log keeps what a change did, also when it did a lot. */
import { describe, expect, it } from 'vitest';
import { auditDetail } from '../../lib/queries/audit.ts';

describe('auditDetail', () => {
  it('keeps a detail that fits as it is', () => {
    expect(JSON.parse(auditDetail({ comment: 'x', dropped: [{ id: 1, src: '198.51.100.1' }] }))).toEqual({ comment: 'x', dropped: [{ id: 1, src: '198.51.100.1' }] });
  });

  it('keeps the first 100 of a long list and says how many more (a whitelist entry that drops 5000 rules)', () => {
    const dropped = Array.from({ length: 5000 }, (_, i) => ({ id: i + 1, src: `198.19.${i >> 8}.${i & 255}` }));
    const text = auditDetail({ comment: 'partner', dropped });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(60_000);
    const back = JSON.parse(text) as { comment: string; dropped: unknown[] };
    expect(back.comment).toBe('partner');
    expect(back.dropped).toHaveLength(101);
    expect(back.dropped[0]).toEqual({ id: 1, src: '198.19.0.0' });
    expect(back.dropped[100]).toBe('... and 4900 more');
  });

  it('stays within the column whatever it is given', () => {
    const text = auditDetail({ blob: Array.from({ length: 90 }, () => 'x'.repeat(5000)) });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(60_000);
    expect(() => JSON.parse(text)).not.toThrow();
  });
});
