/**
 * Sensors reach the database across networks: the link is TLS, and the server's certificate
 * must verify. A CA and a server certificate are made here with openssl; a private server
 * (not the shared one) runs with them; its ingest account REQUIRES SSL, so a run that works
 * really went through TLS. A certificate signed by another CA is refused with one line and
 * exit 3, before anything is sent; so is a server that offers no TLS at all.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../lib/config.ts';
import { migrate } from '../../lib/migrate.ts';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { SHARED } from '../fixtures/honeyd/lines.ts';
import { runCli } from './helpers/cli.ts';
import { privateServer, requireTool, type PrivateServer } from './helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'ipms-tls-'));
const file = `${SHARED}public/blackrain-honeyd-comments-2011.log`;
let server: PrivateServer;
let plain: TestDb;
let tlsUrl: string;

function openssl(...args: string[]): void {
  execFileSync(requireTool('openssl'), args, { cwd: dir, stdio: 'pipe', timeout: 30_000 });
}

/** A CA, and a server certificate it signs for 127.0.0.1 (IP SAN: verify-identity checks it). */
function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=ipms test ${name}`);
}

beforeAll(async () => {
  makeCa('ca');
  makeCa('other-ca');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=ipms-test-db');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:ipms-test-db\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  server = await privateServer({ tls: { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') } });
  server.sql(
    "CREATE DATABASE ipms_tls; CREATE USER 'ipms_tls'@'127.0.0.1' IDENTIFIED BY 'tls-pw' REQUIRE SSL; GRANT ALL ON ipms_tls.* TO 'ipms_tls'@'127.0.0.1';",
  );
  await migrate(parseDatabaseUrl(`${server.url('ipms_tls')}?ssl-ca=${join(dir, 'ca.pem')}`));
  tlsUrl = `mysql://ipms_tls:tls-pw@127.0.0.1:${server.port}/ipms_tls`;
  plain = await freshDatabase('ingest_tls_plain');
}, 120_000);

afterAll(async () => {
  await plain?.close();
  await server?.destroy();
});

const ingest = (url: string, ...extra: string[]) =>
  runCli(['--database-url', url, 'ingest', '--sensor', 'tls', '--tz', 'UTC', '--state-dir', join(dir, 'state'), ...extra, file]);

describe('TLS to the database', () => {
  it('works when the server certificate verifies against the CA (flag or URL), and only over TLS', async () => {
    const noTls = await ingest(tlsUrl);
    expect(noTls.code).toBe(3); // the account requires SSL: a plain connection is refused
    const r = await ingest(tlsUrl, '--ssl-ca', join(dir, 'ca.pem'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/9 rows inserted/);
    const viaUrl = await ingest(`${tlsUrl}?ssl-ca=${join(dir, 'ca.pem')}&ssl-mode=verify-identity`, '--from-start');
    expect(viaUrl.code, viaUrl.err).toBe(0);
    expect(viaUrl.out).toMatch(/0 rows inserted, 9 already present/);
  });

  it('refuses a server whose certificate does not verify: one line, exit 3, nothing sent', async () => {
    const r = await runCli(['--database-url', tlsUrl, 'ingest', '--sensor', 'tls-wrong-ca', '--tz', 'UTC', '--state-dir', join(dir, 'state2'), '--ssl-ca', join(dir, 'other-ca.pem'), file]);
    expect(r.code).toBe(3);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^ipms: TLS to the database at 127\.0\.0\.1:\d+ refused: .*(certificate|self.signed)/i);
    expect(server.sql("SELECT COUNT(*) FROM ipms_tls.Sensor WHERE name = 'tls-wrong-ca'").trim()).toBe('0');
  });

  it('refuses a server that offers no TLS when TLS is configured', async () => {
    const r = await runCli(['--database-url', plain.url, 'ingest', '--sensor', 'tls-none', '--tz', 'UTC', '--state-dir', join(dir, 'state3'), '--ssl-ca', join(dir, 'ca.pem'), file]);
    expect(r.code).toBe(3);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/does not offer TLS|TLS .* refused/);
    const [n] = await plain.db.rows<{ n: number }>("SELECT COUNT(*) AS n FROM Sensor WHERE name = 'tls-none'");
    expect(Number(n!.n)).toBe(0);
  });
});
