/** Configuration: the config file says what is wrong with it, at once. */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config.ts';
import { ipms } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'ipms-config-'));
const file = (name: string, body: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(body));
  return p;
};

describe('the config file', () => {
  it('gives the database URL', () => {
    const cfg = resolveConfig({ flags: { config: file('ok.json', { databaseUrl: 'mysql://u:p@127.0.0.1:3306/ipms' }) }, env: {} });
    expect(cfg.db).toMatchObject({ host: '127.0.0.1', port: 3306, database: 'ipms', user: 'u' });
  });

  it('says a % in the database URL that is not an escape is one (a password written as it is), and reads %25', async () => {
    const r = await ipms(undefined, '--database-url', 'mysql://u:S3cr%et@127.0.0.1:3306/ipms', 'rules', 'list');
    expect([r.code, r.err]).toEqual([2, 'ipms: --database-url: the password has a % that is not an escape (%XX): write a % in it as %25']);
    const cfg = resolveConfig({ flags: { databaseUrl: 'mysql://u:S3cr%25et@127.0.0.1:3306/ipms' }, env: {} });
    expect(cfg.db?.password).toBe('S3cr%et');
  });

  it('refuses a key it does not know (a typo would end in "no database configured") and a URL that is not text', () => {
    const typo = file('typo.json', { databaseURL: 'mysql://u:p@127.0.0.1:3306/ipms' });
    expect(() => resolveConfig({ flags: { config: typo }, env: {} })).toThrow(`config file ${typo}: unknown key 'databaseURL' (known: databaseUrl)`);
    const num = file('num.json', { databaseUrl: 3306 });
    expect(() => resolveConfig({ flags: { config: num }, env: {} })).toThrow(`config file ${num}: databaseUrl must be a string`);
  });

  it('warns once when it holds a password others may read', async () => {
    const p = file('shared.json', { databaseUrl: 'mysql://u:secret@127.0.0.1:1/ipms' });
    chmodSync(p, 0o644);
    expect(resolveConfig({ flags: { config: p }, env: {} }).warnings).toEqual([`config file ${p} holds a database password and other users may read it (mode 0644): chmod 600 ${p}`]);
    // (through the CLI: once, on stderr, and the password is not in it)
    const r = await ipms(undefined, '--config', p, 'rules', 'list');
    expect(r.err.split('\n').filter((l) => l.includes('warning'))).toEqual([`ipms: warning: config file ${p} holds a database password and other users may read it (mode 0644): chmod 600 ${p}`]);
    expect(r.err).not.toContain('secret');
    chmodSync(p, 0o600);
    expect(resolveConfig({ flags: { config: p }, env: {} }).warnings).toBeUndefined();
    // a URL given another way is not the file's
    chmodSync(p, 0o644);
    expect(resolveConfig({ flags: { config: p, databaseUrl: 'mysql://u:p@127.0.0.1:1/ipms' }, env: {} }).warnings).toBeUndefined();
  });
});
