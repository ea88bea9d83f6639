import { describe, expect, it } from 'vitest';
import { checkPasswordPolicy, decoyHash, hashPassword, verifyPassword } from '../../web/password.ts';

// a cheaper cost than the default, where the test is about the format and not the cost
const CHEAP = { ln: 10, r: 8, p: 1 };

describe('scrypt password hashes', () => {
  it('are PHC strings with the cost, a random salt and the key', async () => {
    const a = await hashPassword('correct horse battery staple');
    expect(a).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    const b = await hashPassword('correct horse battery staple');
    expect(b).not.toBe(a);
    expect(a).not.toContain('correct');
  });

  it('verify the right password and nothing else', async () => {
    const h = await hashPassword('correct horse battery staple', CHEAP);
    expect(await verifyPassword('correct horse battery staple', h)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', h)).toBe(false);
    expect(await verifyPassword('Correct horse battery staple', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
  });

  it('verify with the cost written in the hash (so the default can be raised later)', async () => {
    const h = await hashPassword('another long password', { ln: 11, r: 4, p: 2 });
    expect(h).toMatch(/^\$scrypt\$ln=11,r=4,p=2\$/);
    expect(await verifyPassword('another long password', h)).toBe(true);
  });

  it('never match a malformed or tampered hash', async () => {
    const h = await hashPassword('correct horse battery staple', CHEAP);
    for (const bad of ['', 'plain', h.replace('scrypt', 'bcrypt'), h.replace('ln=10', 'ln=40'), h.slice(0, -4), `${h}$x`]) {
      expect(await verifyPassword('correct horse battery staple', bad), bad).toBe(false);
    }
    const parts = h.split('$');
    parts[5] = Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '');
    expect(await verifyPassword('correct horse battery staple', parts.join('$'))).toBe(false);
  });

  it('check a decoy for unknown users, which no password matches', async () => {
    const d = await decoyHash();
    expect(await verifyPassword('correct horse battery staple', d)).toBe(false);
    expect(await decoyHash()).toBe(d);
  });

  it('refuse short and absurdly long passwords', () => {
    expect(() => checkPasswordPolicy('short')).toThrow(/at least 12/);
    expect(() => checkPasswordPolicy('elevenchars')).toThrow(/at least 12/);
    expect(() => checkPasswordPolicy('twelve chars')).not.toThrow();
    expect(() => checkPasswordPolicy('x'.repeat(1025))).toThrow(/at most/);
  });
});
