/**
 * The database goes away: a private server (not the shared one other test files use) is
 * stopped in the middle of a --follow stream while honeyd's log keeps growing, then started
 * again; every line must end up in the database exactly once, the late ones through the
 * spool. Without --follow, an unreachable database means a spooled run that exits 0 and a
 * later run that replays; no database and no spool room means exit 3. A torn spool record
 * (a crash in the middle of an append) is cut off on the next start.
 */
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../lib/config.ts';
import { migrate } from '../../lib/migrate.ts';
import { Spool } from '../../honeyd2db/spool.ts';
import { SHARED } from '../fixtures/honeyd/lines.ts';
import { reap, runCli, spawnCli, until } from './helpers/cli.ts';
import { privateServer, type PrivateServer } from './helpers/server.ts';

let server: PrivateServer;
let url: string;
const dir = mkdtempSync(join(tmpdir(), 'ipms-outage-'));
const evse = readFileSync(`${SHARED}public/honeyevse-honeyd.log`, 'utf8').split('\n').filter((l) => l.includes(' tcp(6) '));

beforeAll(async () => {
  server = await privateServer();
  server.sql('CREATE DATABASE ipms_outage');
  url = server.url('ipms_outage');
  await migrate(parseDatabaseUrl(url));
}, 120_000);

afterAll(async () => {
  await server?.destroy();
});

/** Rows of a sensor, read as root over the socket (works whatever our pool thinks). */
function raws(sensor: string): string[] {
  const out = server.sql(`SELECT l.raw FROM ipms_outage.SensorLog l JOIN ipms_outage.Sensor s ON s.id = l.sensor_id WHERE s.name = '${sensor}' ORDER BY l.id`);
  return out.split('\n').filter((l) => l !== '');
}

describe('database outage', () => {
  it('--follow: the server stops mid-stream and comes back; every line is stored exactly once', async () => {
    const f = join(dir, 'stream.log');
    writeFileSync(f, '');
    const c = spawnCli(['--database-url', url, 'ingest', '--follow', '--sensor', 'stream', '--tz', 'UTC', '--state-dir', join(dir, 'st1'), f]);
    let written = 0;
    const write = (n: number) => {
      // the same 240 lines over and over: byte-identical lines are distinct events
      for (let i = 0; i < n; i++) appendFileSync(f, `${evse[written++ % evse.length]}\n`);
    };
    const writer = setInterval(() => write(5), 20);
    try {
      await until('rows before the outage', () => raws('stream').length > 200, 30_000);
      await server.stop();
      const atStop = written;
      await until('lines written while the server is down', () => written > atStop + 300, 20_000);
      await until('the shim to notice', () => /unreachable/.test(c.err()), 20_000);
      await server.start();
      await until('rows after the outage', () => raws('stream').length > atStop + 100, 40_000);
    } finally {
      clearInterval(writer);
    }
    await until('every line stored', () => raws('stream').length >= written, 40_000);
    c.proc.kill('SIGTERM');
    const code = await Promise.race([c.exited, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
    await reap(c);
    expect(code, c.err()).toBe(0);
    expect(c.err()).toMatch(/reachable again/);
    expect(c.out()).toMatch(/replayed from the spool/);
    const got = raws('stream');
    expect(got).toHaveLength(written);
    // in file order, too: the spool is replayed before anything newer
    const want = Array.from({ length: written }, (_, i) => evse[i % evse.length]);
    expect(got).toEqual(want);
  }, 150_000);

  it('without --follow: an unreachable database means spooled rows and exit 0; the next run sends them', async () => {
    const f = join(dir, 'batch.log');
    writeFileSync(f, `${evse.slice(0, 100).join('\n')}\n`);
    const st = join(dir, 'st2');
    await server.stop();
    try {
      const r = await runCli(['--database-url', url, 'ingest', '--sensor', 'batch', '--tz', 'UTC', '--state-dir', st, f]);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toMatch(/unreachable/);
      expect(r.out).toMatch(/100 rows spooled/);
      expect(r.out).toMatch(/wait in the spool/);
      // a second run while it is still down spools nothing more: the spool's marks are its checkpoint
      const again = await runCli(['--database-url', url, 'ingest', '--sensor', 'batch', '--tz', 'UTC', '--state-dir', st, f]);
      expect(again.code, again.err).toBe(0);
      expect(again.out).toMatch(/0 lines/);
      // no room left in a tiny spool: exit 3, one line
      appendFileSync(f, `${evse.slice(100, 240).join('\n')}\n`.repeat(10));
      const full = await runCli(['--database-url', url, 'ingest', '--sensor', 'batch', '--tz', 'UTC', '--state-dir', st, '--spool-max-bytes', '64K', f]);
      expect(full.code).toBe(3);
      expect(full.err).toMatch(/^ipms: the database is unreachable and the spool .* is full/m);
    } finally {
      await server.start();
    }
    const back = await runCli(['--database-url', url, 'ingest', '--sensor', 'batch', '--tz', 'UTC', '--state-dir', st, f]);
    expect(back.code, back.err).toBe(0);
    expect(raws('batch')).toEqual([...evse.slice(0, 100), ...Array.from({ length: 10 }, () => evse.slice(100, 240)).flat()]);
  }, 120_000);

  it('a torn last spool record is cut off; the records before it are kept', async () => {
    const path = join(dir, 'torn.spool');
    const warnings: string[] = [];
    const s = await Spool.open(path, 1 << 20, (m) => warnings.push(m));
    const mark = { key: 'aa', fp: 'bb', fpLen: 1024, dev: '1', ino: '2', path: '/x', format: 'honeyd-log', offset: 100, lineNo: 2 };
    expect(await s.append({ sensor: 's', logs: [[Buffer.from([1, 2, 3, 4]), 'x']], data: [], marks: [mark] })).toBe(true);
    const good = s.bytes;
    await s.close();
    appendFileSync(path, '0123abcd {"v":1,"sensor":"s","logs":[[');
    const again = await Spool.open(path, 1 << 20, (m) => warnings.push(m));
    expect(again.bytes).toBe(good);
    const recs = [];
    for await (const { rec } of again.records()) recs.push(rec);
    expect(recs).toHaveLength(1);
    expect(recs[0]!.logs[0]![0]).toEqual(Buffer.from([1, 2, 3, 4]));
    expect(again.marks.get('aa')!.offset).toBe(100);
    await again.close();
  });
});
