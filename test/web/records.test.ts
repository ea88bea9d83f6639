/** The records pages (keyset paging, filters, detail) and the overview's numbers. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { insertHits, type Hit } from '../helpers/hits.ts';
import { HOURS, hitsPerHour, lastDay, topSources } from '../../web/charts.ts';
import { listLogs } from '../../lib/queries/logs.ts';
import type { WebServer } from '../../web/server.ts';
import { Client, makeUser, startConsole } from './helpers.ts';

let t: TestDb;
let srv: WebServer;
let c: Client;
const sql = (d: Date) => d.toISOString().slice(0, 23).replace('T', ' ');

beforeAll(async () => {
  t = await freshDatabase('web_records');
  await t.db.exec("INSERT INTO Sensor (name) VALUES ('s1'), ('s2')");
  // 120 records: 100 on s1 (ports 22 and 445 alternating, sources .1 to .100), 20 on s2 two hours ago
  const now = Date.now();
  const hits: Hit[] = [];
  for (let i = 1; i <= 100; i++) hits.push({ sensor: 1, ts: sql(new Date(now - (100 - i) * 1000)), src: `203.0.113.${i}`, dstPort: i % 2 ? 22 : 445 });
  for (let i = 1; i <= 20; i++) hits.push({ sensor: 2, ts: sql(new Date(now - 2 * 3600_000)), src: '198.51.100.7', dstPort: 80, kind: i % 4 ? 'start' : 'end' });
  await insertHits(t.db, hits);
  await makeUser(t.db, 'vera', 'viewer', 'vera long password');
  srv = await startConsole(t.db);
  c = new Client(srv.url);
  await c.login('vera', 'vera long password');
});
afterAll(async () => {
  await srv?.close();
  await t?.close();
});

function ids(body: string): number[] {
  return [...body.matchAll(/<a href="\/records\/(\d+)">detail<\/a>/g)].map((m) => Number(m[1]));
}

function older(body: string): string | undefined {
  return /<a href="([^"]+)" rel="next">older<\/a>/.exec(body)?.[1]?.replace(/&amp;/g, '&');
}

describe('records', () => {
  it('pages newest first by keyset: 50, 50, 20, then no older page', async () => {
    const [{ max } = { max: 0 }] = await t.db.rows<{ max: number }>('SELECT MAX(id) AS max FROM SensorLog');
    const p1 = await c.get('/records');
    expect(p1.status).toBe(200);
    expect(ids(p1.body)).toEqual(Array.from({ length: 50 }, (_, i) => max - i));
    const next = older(p1.body)!;
    expect(next).toBe(`/records?before=${max - 49}`);
    const p2 = await c.get(next);
    expect(ids(p2.body)).toEqual(Array.from({ length: 50 }, (_, i) => max - 50 - i));
    const p3 = await c.get(older(p2.body)!);
    expect(ids(p3.body)).toEqual(Array.from({ length: 20 }, (_, i) => max - 100 - i));
    expect(older(p3.body)).toBeUndefined();
    expect(p3.body).toContain('<a href="/records">newest</a>');
  });

  it('filters by sensor, source, port and time, and keeps the filters across pages', async () => {
    expect(ids((await c.get('/records?sensor=s2')).body)).toHaveLength(20);
    expect(ids((await c.get('/records?src=198.51.100.0/24')).body)).toHaveLength(20);
    expect(ids((await c.get('/records?src=203.0.113.7')).body)).toHaveLength(1);
    expect(ids((await c.get('/records?since=1h')).body)).toHaveLength(50);
    expect(ids((await c.get('/records?sensor=s2&since=1h')).body)).toHaveLength(0);
    const p445 = await c.get('/records?sensor=s1&port=445');
    expect(ids(p445.body)).toHaveLength(50);
    expect(older(p445.body)).toBeUndefined();
    const wide = await c.get('/records?sensor=s1&src=203.0.113.0/24');
    const next = older(wide.body)!;
    expect(next).toMatch(/^\/records\?sensor=s1&src=203\.0\.113\.0%2F24&before=\d+$/);
    const last = await c.get(next);
    expect(ids(last.body)).toHaveLength(50);
    expect(older(last.body)).toBeUndefined();
  });

  it('a port filter reads a bounded window of records a page, and "older" goes on from where it stopped', async () => {
    // ids far apart: a record at id 450000 (as after years of traffic), the others near the start
    await t.db.exec("INSERT INTO SensorLog (id, sensor_id, ts, proto, src_ip, src_port, dst_ip, dst_port) VALUES (450000, 1, UTC_TIMESTAMP(3), 'tcp', INET6_ATON('192.0.2.99'), 1, INET6_ATON('192.168.2.1'), 7)");
    const windows: string[] = [];
    let url: string | undefined = '/records?port=7';
    const found: number[] = [];
    for (let i = 0; url && i < 10; i++) {
      const p = await c.get(url);
      expect(p.status).toBe(200);
      found.push(...ids(p.body));
      windows.push(/Searched records (\d+) to (\d+)/.exec(p.body)?.slice(1).join('-') ?? 'to the start');
      url = older(p.body);
    }
    expect(found).toEqual([450000]);
    expect(windows).toEqual(['250001-450000', '50001-250000', 'to the start']);
    await t.db.exec('DELETE FROM SensorLog WHERE id = 450000');
  });

  it('answers bad filters with 400 and a message, not a stack trace', async () => {
    for (const q of ['src=10.1.2.3/8', 'port=70000', 'since=yesterday', 'before=-1', 'sensor=%3Cscript%3E']) {
      const a = await c.get(`/records?${q}`);
      expect(a.status, q).toBe(400);
      expect(a.body).toMatch(/<p class="error" role="alert">/);
      expect(a.body).not.toMatch(/<script>|at .*\.ts:\d+/);
    }
  });

  it('shows the detail of a record with its payload lines and uploaded file, and 404 for none', async () => {
    const [l] = await t.db.rows<{ id: number }>("SELECT id FROM SensorLog WHERE sensor_id = 2 ORDER BY id LIMIT 1");
    await t.db.exec(
      "INSERT INTO Data (sensorlog_id, sensor_id, ts, source, script, payload, file_path) VALUES (?, 2, UTC_TIMESTAMP(3), 'script', 'mydoom.pl', ?, '/tmp/up & away.exe')",
      [l!.id, 'GET /<x> HTTP/1.0\u0007'],
    );
    const a = await c.get(`/records/${l!.id}`);
    expect(a.status).toBe(200);
    expect(a.body).toContain('<pre class="payload-text">GET /&lt;x&gt; HTTP/1.0\\x07</pre>');
    expect(a.body).toContain('<code>/tmp/up &amp; away.exe</code>');
    expect(a.body).toContain('198.51.100.7:40000');
    expect((await c.get('/records/999999')).status).toBe(404);
  });

  it('bounds what an attacker can make a page load: the list counts payload lines, the detail shows the first ones, cut short', async () => {
    const [l] = await t.db.rows<{ id: number }>('SELECT id FROM SensorLog WHERE sensor_id = 1 ORDER BY id DESC LIMIT 1');
    // 3000 payload lines on one record (one connection can send that many), one of them 10 kB
    await t.db.exec(
      `INSERT INTO Data (sensorlog_id, sensor_id, ts, source, payload)
       SELECT ?, 1, UTC_TIMESTAMP(3), 'service', IF(seq = 2, REPEAT('x', 10000), CONCAT('line ', seq)) FROM seq_1_to_3000`,
      [l!.id],
    );
    const list = await c.get('/records');
    expect(list.body).toMatch(new RegExp(`<td class="num">3000</td><td><a href="/records/${l!.id}">detail</a>`));
    const d = await c.get(`/records/${l!.id}`);
    expect(d.body.match(/<pre class="payload-text">/g)).toHaveLength(500);
    expect(d.body).toContain('The first 500 of 3000 payload lines are shown');
    expect(d.body).toContain(`${'x'.repeat(4096)} <small>[cut: longer than 4096 characters]</small>`);
    expect(d.body).not.toContain('x'.repeat(4097));
    expect(d.body.length).toBeLessThan(200_000);
    // past 10000 lines the pages stop counting (each record's count reads at most that many index entries)
    await t.db.exec(
      `INSERT INTO Data (sensorlog_id, sensor_id, ts, source, payload)
       SELECT ?, 1, UTC_TIMESTAMP(3), 'service', CONCAT('more ', seq) FROM seq_1_to_7001`,
      [l!.id],
    );
    expect((await c.get('/records')).body).toMatch(new RegExp(`<td class="num">more than 10000</td><td><a href="/records/${l!.id}">detail</a>`));
    const d2 = await c.get(`/records/${l!.id}`);
    expect(d2.body).toContain('The first 500 of more than 10000 payload lines are shown');
    expect(d2.body).toContain('<pre class="payload-text">line 1</pre>');
    // the CLI's JSON counts them all
    const [full] = await listLogs(t.db, { before: l!.id + 1, limit: 1, payloadLines: 2 });
    expect(full).toMatchObject({ id: l!.id, payload_total: 10001 });
    expect(full!.payload.map((p) => p.text)).toEqual(['line 1', 'x'.repeat(4096)]);
    expect(full).not.toHaveProperty('payload_total_capped');
  });
});

describe('overview numbers', () => {
  it('counts hits (not end rows) per hour per sensor over the last day, and the top sources', async () => {
    const w = lastDay();
    const s1 = await hitsPerHour(t.db, 1, w);
    const s2 = await hitsPerHour(t.db, 2, w);
    expect(s1).toHaveLength(HOURS);
    expect(s1.reduce((a, b) => a + b, 0)).toBe(100);
    expect(s2.reduce((a, b) => a + b, 0)).toBe(15);
    expect(s2[HOURS - 3]! + s2[HOURS - 2]!).toBe(15);
    const top = await topSources(t.db, [1, 2], w, 3);
    expect(top[0]).toEqual({ src: '198.51.100.7', hits: 15, sensors: 1 });
    expect(top).toHaveLength(3);
    const page = await c.get('/');
    expect(page.body.match(/<svg class="chart"/g)).toHaveLength(2);
    expect(page.body).toContain('aria-label="s2: 15 hits in 24 h, at most 15 in an hour"');
  });

  it('shows the 40 busiest sensors: a sensor account may register sensors, the page stays bounded', async () => {
    await t.db.exec("INSERT INTO Sensor (name) SELECT CONCAT('quiet-', seq) FROM seq_1_to_45");
    const page = await c.get('/');
    expect(page.body.match(/<svg class="chart"/g)).toHaveLength(40);
    expect(page.body).toContain('7 more sensors, with fewer hits: <code>ipms sensors list</code>.');
    // the busiest first
    expect(page.body.indexOf('aria-label="s1: 100 hits')).toBeLessThan(page.body.indexOf('aria-label="s2: 15 hits'));
    expect(page.body.indexOf('aria-label="s2: 15 hits')).toBeLessThan(page.body.indexOf('aria-label="quiet-'));
    expect(page.body).toContain('Top sources, last 24 h (at the sensors above)');
  });
});
