/** Tables for people: text written by others reaches the terminal with control characters escaped. */
import { describe, expect, it } from 'vitest';
import { renderTable } from '../../cli/table.ts';
import { oneLine } from '../../lib/errors.ts';

describe('renderTable', () => {
  it('escapes control characters of feed comments and reasons, and keeps the columns aligned', () => {
    const out = renderTable(['cidr', 'comment'], [['198.51.100.0/24', 'SBL1\u001b[2J\u001b]0;owned\u0007'], ['203.0.113.0/24', 'tab\there']]);
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(out.split('\n')).toEqual([
      'CIDR             COMMENT',
      '198.51.100.0/24  SBL1\\x1b[2J\\x1b]0;owned\\x07',
      '203.0.113.0/24   tab\\there',
    ]);
  });

  it('keeps error lines free of them too', () => {
    expect(oneLine(new Error('not an IP address: 1.2.3.\u001b[31mX\nsecond'))).toBe('not an IP address: 1.2.3.\\x1b[31mX second');
  });
});
