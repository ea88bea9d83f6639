/**
 * The console's gate, over real HTTP against a real database: login, sessions, CSRF, roles,
 * headers, audit. (The browser test drives the same server through Chromium.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { burst, insertHits } from '../helpers/hits.ts';
import type { WebServer } from '../../web/server.ts';
import { Client, makeUser, startConsole } from './helpers.ts';

let t: TestDb;
let srv: WebServer;
const PW = { alice: 'alice password 1', victor: 'victor password 1', carol: 'carol password 1' };

beforeAll(async () => {
  t = await freshDatabase('web_http');
  await t.db.exec("INSERT INTO Sensor (name) VALUES ('s1')");
  await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('fw1', 'fw1.example.net', 'nftables', 'dry-run')");
  await makeUser(t.db, 'alice', 'admin', PW.alice);
  await makeUser(t.db, 'victor', 'viewer', PW.victor);
  await makeUser(t.db, 'carol', 'admin', PW.carol);
  srv = await startConsole(t.db);
});
afterAll(async () => {
  await srv?.close();
  await t?.close();
});

async function ruleFor(src: string): Promise<{ id: number; status: string }> {
  const [r] = await t.db.rows<{ id: number; status: string }>('SELECT id, status FROM RuleView WHERE src = ? ORDER BY id DESC LIMIT 1', [src]);
  if (!r) throw new Error(`no rule for ${src}`);
  return r;
}

async function newRule(src: string): Promise<number> {
  await insertHits(t.db, burst(50, { ts: new Date().toISOString().slice(0, 19).replace('T', ' '), src }));
  return (await ruleFor(src)).id;
}

describe('before login', () => {
  it('serves the login form in the HTML of / with no script, and the security headers', async () => {
    const c = new Client(srv.url);
    const a = await c.get('/');
    expect(a.status).toBe(200);
    expect(a.body).toMatch(/<form method="post" action="\/login" class="login">/);
    expect(a.body).toMatch(/<input name="password" type="password"/);
    expect(a.body).not.toMatch(/<script/i);
    expect(a.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(a.headers['content-security-policy']).not.toMatch(/script-src/);
    expect(a.headers['x-frame-options']).toBe('DENY');
    // plain HTTP on loopback: no HSTS (it would hold for every port of the host name)
    expect(a.headers['strict-transport-security']).toBeUndefined();
    expect(a.headers['x-content-type-options']).toBe('nosniff');
    expect(a.headers['cache-control']).toBe('no-store');
    const set = ([] as string[]).concat(a.headers['set-cookie'] ?? []);
    expect(set.join('\n')).toMatch(/^ipms_login=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=3600$/m);
  });

  it('sends every other page to the login, and answers 404 and 405 plainly', async () => {
    const c = new Client(srv.url);
    for (const p of ['/rules', '/records', '/records/1', '/lists', '/devices', '/thresholds', '/audit']) {
      const a = await c.get(p);
      expect(a.status, p).toBe(303);
      expect(a.headers.location).toBe('/');
    }
    expect((await c.get('/nothing-here')).status).toBe(404);
    expect((await c.request('DELETE', '/rules')).status).toBe(405);
    expect((await c.request('PUT', '/login')).status).toBe(405);
    const css = await c.get('/static/style.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
  });

  it('answers only to its own host names (DNS rebinding)', async () => {
    const c = new Client(srv.url);
    expect((await c.get('/', { Host: `evil.example:${srv.port}` })).status).toBe(421);
    expect((await c.get('/', { Host: 'evil.example' })).status).toBe(421);
    expect((await c.get('/', { Host: `localhost:${srv.port}` })).status).toBe(200);
  });
});

describe('login', () => {
  it('refuses a wrong password, records it, and logs in with the right one', async () => {
    const c = new Client(srv.url);
    const bad = await c.login('alice', 'not the password');
    expect(bad.status).toBe(401);
    expect(bad.body).toContain('wrong name or password');
    const unknown = await c.login('nobody', 'not the password');
    expect(unknown.status).toBe(401);
    // what was typed as the name of no account (often a password) is not kept: all such count as one
    expect(await t.db.rows("SELECT who, target FROM AuditLog WHERE action = 'login.failed' AND target <> 'alice'")).toEqual([{ who: '-', target: '(unknown name)' }]);
    expect(await t.db.rows("SELECT 1 FROM AuditLog WHERE who LIKE '%nobody%' OR target LIKE '%nobody%' OR detail LIKE '%nobody%'")).toEqual([]);
    const [fail] = await t.db.rows<{ who: string; ip: string; target: string }>(
      "SELECT who, ip, target FROM AuditLog WHERE action = 'login.failed' AND target = 'alice'",
    );
    expect(fail).toEqual({ who: 'alice', ip: '127.0.0.1', target: 'alice' });
    const ok = await c.login('alice', PW.alice);
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('/');
    const sid = ([] as string[]).concat(ok.headers['set-cookie'] ?? []).find((s) => s.startsWith('ipms_sid='));
    // loopback HTTP: Secure cannot be set (the browser would never send the cookie back)
    expect(sid).toMatch(/^ipms_sid=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
    const home = await c.get('/');
    expect(home.status).toBe(200);
    expect(home.body).toContain('<h1>Overview</h1>');
    expect(home.body).toContain('alice <small>(admin)</small>');
    const [row] = await t.db.rows<{ n: number }>('SELECT COUNT(*) AS n FROM WebSession');
    expect(Number(row!.n)).toBeGreaterThanOrEqual(1);
    // only a hash of the cookie is stored
    const [hit] = await t.db.rows('SELECT 1 FROM WebSession WHERE id_hash = ?', [Buffer.from(c.cookies.get('ipms_sid')!)]);
    expect(hit).toBeUndefined();
  });

  it('behind a trusted reverse proxy, takes the client from X-Forwarded-For (throttle and audit); from anyone else, ignores it', async () => {
    await makeUser(t.db, 'pat', 'viewer', 'pat password 1');
    const proxied = await startConsole(t.db, { trustProxy: ['127.0.0.1'] });
    try {
      const from = (addr: string, base = proxied.url) => {
        const c = new Client(base);
        c.extraHeaders['X-Forwarded-For'] = `10.9.9.9, ${addr}`;
        return c;
      };
      // the proxy appends the address it saw: the last entry counts, the rest is the client's say
      for (let i = 0; i < 5; i++) expect((await from('198.51.100.77').login('pat', 'wrong')).status).toBe(401);
      const ips = await t.db.rows<{ ip: string }>("SELECT ip FROM AuditLog WHERE action = 'login.failed' AND target = 'pat'");
      expect(ips.map((r) => r.ip)).toEqual(Array(5).fill('198.51.100.77'));
      // that address is throttled for pat; another address behind the same proxy is not
      expect((await from('198.51.100.77').login('pat', 'pat password 1')).status).toBe(429);
      expect((await from('2001:db8::7').login('pat', 'pat password 1')).status).toBe(303);
      const [ok] = await t.db.rows<{ ip: string }>("SELECT ip FROM AuditLog WHERE action = 'login' AND target = 'pat'");
      expect(ok!.ip).toBe('2001:db8::7');
      // IPv6 is counted per /64: a new address in the same /64 is the same client
      await makeUser(t.db, 'quinn', 'viewer', 'quinn password 1');
      for (let i = 0; i < 5; i++) expect((await from(`2001:db8:5:6::${i + 1}`).login('quinn', 'wrong')).status).toBe(401);
      expect((await from('2001:db8:5:6:ffff::99').login('quinn', 'quinn password 1')).status).toBe(429);
      expect((await from('2001:db8:5:7::1').login('quinn', 'quinn password 1')).status).toBe(303);
      // a direct client cannot pick its address: the header is ignored where no proxy is trusted
      expect((await from('198.51.100.99', srv.url).login('pat', 'wrong')).status).toBe(401);
      const [last] = await t.db.rows<{ ip: string }>("SELECT ip FROM AuditLog WHERE action = 'login.failed' AND target = 'pat' ORDER BY id DESC LIMIT 1");
      expect(last!.ip).toBe('127.0.0.1');
    } finally {
      await proxied.close();
    }
  });

  it('refuses a login POST without the login form\'s token, or from another site', async () => {
    const c = new Client(srv.url);
    const csrf = await c.token('/');
    expect((await c.post('/login', { name: 'alice', password: PW.alice })).status).toBe(403);
    // a token with one character changed (the first: the last carries unused bits)
    const forged = `${csrf.startsWith('A') ? 'B' : 'A'}${csrf.slice(1)}`;
    expect((await c.post('/login', { csrf: forged, name: 'alice', password: PW.alice })).status).toBe(403);
    expect((await c.post('/login', { csrf, name: 'alice', password: PW.alice }, { Origin: 'http://evil.example' })).status).toBe(403);
    const fresh = new Client(srv.url);
    fresh.cookies.set('ipms_login', 'x'.repeat(43));
    expect((await fresh.post('/login', { csrf, name: 'alice', password: PW.alice })).status).toBe(403);
    expect(c.cookies.has('ipms_sid')).toBe(false);
  });

  it('throttles guessing: after 5 failures for one name from one address, even the right password waits', async () => {
    const c = new Client(srv.url);
    for (let i = 0; i < 5; i++) expect((await c.login('carol', `guess number ${i}`)).status).toBe(401);
    const blocked = await c.login('carol', PW.carol);
    expect(blocked.status).toBe(429);
    expect(blocked.body).toContain('too many failed logins');
    expect(c.cookies.has('ipms_sid')).toBe(false);
  });

  it('throttles logins sent all at once too: no more password checks than the limit allows', async () => {
    const [{ since }] = await t.db.rows<{ since: Date }>('SELECT UTC_TIMESTAMP(3) AS since') as [{ since: Date }];
    const c = new Client(srv.url);
    const csrf = await c.token('/');
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => c.post('/login', { csrf, name: 'mallory', password: `burst ${i}` })));
    const checked = answers.filter((a) => a.status === 401).length;
    expect(checked).toBeGreaterThan(0);
    expect(checked).toBeLessThanOrEqual(5);
    expect(answers.filter((a) => a.status === 429).length).toBe(16 - checked);
    // (mallory has no account: failures of unknown names are audited as one name)
    const [n] = await t.db.rows<{ n: number }>("SELECT COUNT(*) AS n FROM AuditLog WHERE action = 'login.failed' AND target = '(unknown name)' AND at >= ?", [since]);
    expect(Number(n!.n)).toBe(checked);
  });

  it('counts every spelling of a name the database finds as that name, sent at once too', async () => {
    await makeUser(t.db, 'rita', 'viewer', 'rita password 1');
    const c = new Client(srv.url);
    const csrf = await c.token('/');
    const spellings = ['rita', 'Rita', 'RITA', 'rIta', 'riTa', 'ritA', 'RIta', 'rITA'];
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => c.post('/login', { csrf, name: spellings[i % 8]!, password: `burst ${i}` })));
    // and then one after the other, till refused
    for (let i = 0; i < 8; i++) answers.push(await c.post('/login', { csrf, name: spellings[i]!, password: `one ${i}` }));
    const checked = answers.filter((a) => a.status === 401).length;
    expect(checked).toBe(5);
    const [n] = await t.db.rows<{ n: number; who: string }>("SELECT COUNT(*) AS n, MIN(who) AS who FROM AuditLog WHERE action = 'login.failed' AND target = 'rita'");
    expect(Number(n!.n)).toBe(5);
    expect(n!.who).toBe('rita');
    expect((await c.login('RITA', 'rita password 1')).status).toBe(429);
  });

  it('answers a token of non-ASCII characters with 403, not an error', async () => {
    const c = new Client(srv.url);
    await c.token('/');
    const a = await c.post('/login', { csrf: `é${'A'.repeat(42)}`, name: 'alice', password: PW.alice });
    expect(a.status).toBe(403);
  });

  it('logs out: the session ends on the server, not only in the browser', async () => {
    const c = new Client(srv.url);
    await c.login('alice', PW.alice);
    const sid = c.cookies.get('ipms_sid')!;
    const out = await c.post('/logout', { csrf: await c.token('/') });
    expect(out.status).toBe(303);
    expect(c.cookies.has('ipms_sid')).toBe(false);
    c.cookies.set('ipms_sid', sid);
    expect((await c.get('/rules')).status).toBe(303);
    expect(await t.db.rows("SELECT who, target FROM AuditLog WHERE action = 'logout'")).toEqual([{ who: 'alice', target: 'alice' }]);
  });
});

describe('CSRF protection on every change', () => {
  let admin: Client;
  beforeAll(async () => {
    admin = new Client(srv.url);
    expect((await admin.login('alice', PW.alice)).status).toBe(303);
  });

  it('refuses a POST without the token, with a wrong one, with another session\'s, or from another origin', async () => {
    const id = await newRule('203.0.113.10');
    const csrf = await admin.token('/rules');
    const other = new Client(srv.url);
    await other.login('alice', PW.alice);
    const otherToken = await other.token('/rules');
    expect(otherToken).not.toBe(csrf);
    const attempts: [Record<string, string>, Record<string, string | undefined>][] = [
      [{}, {}],
      [{ csrf: '' }, {}],
      [{ csrf: 'A'.repeat(43) }, {}],
      [{ csrf: otherToken }, {}],
      [{ csrf }, { Origin: 'http://evil.example' }],
      [{ csrf }, { Origin: 'null' }],
      [{ csrf }, { Origin: undefined, Referer: 'http://evil.example/page' }],
    ];
    for (const [form, headers] of attempts) {
      const a = await admin.post(`/rules/${id}/disable`, form, headers);
      expect(a.status, JSON.stringify([form, headers])).toBe(403);
      expect(a.body).toMatch(/refused: (missing or wrong CSRF token|the request did not come from this site)/);
    }
    expect((await ruleFor('203.0.113.10')).status).toBe('pending');
    expect(await t.db.rows("SELECT * FROM AuditLog WHERE action = 'rule.disable'")).toEqual([]);
    // the same request with the token, from this site: done, and audited
    const ok = await admin.post(`/rules/${id}/disable`, { csrf }, { Origin: undefined, Referer: `${srv.url}/rules` });
    expect(ok.status).toBe(303);
    expect((await ruleFor('203.0.113.10')).status).toBe('disabled');
    const [audit] = await t.db.rows<{ who: string; via: string; ip: string; target: string; detail: string }>(
      "SELECT who, via, ip, target, detail FROM AuditLog WHERE action = 'rule.disable'",
    );
    expect(audit).toMatchObject({ who: 'alice', via: 'web', ip: '127.0.0.1', target: `rule ${id}` });
    expect(JSON.parse(audit!.detail)).toMatchObject({ changed: [id] });
  });

  it('takes forms only, of a bounded size', async () => {
    const csrf = await admin.token('/rules');
    const json = await admin.request('POST', '/whitelist/add', { body: JSON.stringify({ csrf, cidr: '192.0.2.0/24' }), headers: { 'Content-Type': 'application/json', Origin: srv.url } });
    expect(json.status).toBe(415);
    const big = await admin.post('/whitelist/add', { csrf, cidr: '192.0.2.0/24', comment: 'x'.repeat(70_000) });
    expect(big.status).toBe(413);
    expect(await t.db.rows('SELECT * FROM Whitelist')).toEqual([]);
  });
});

describe('roles', () => {
  it('lets a viewer read every page and change nothing (403)', async () => {
    const v = new Client(srv.url);
    expect((await v.login('victor', PW.victor)).status).toBe(303);
    for (const p of ['/', '/records', '/rules', '/lists', '/devices', '/thresholds', '/audit']) {
      const a = await v.get(p);
      expect(a.status, p).toBe(200);
      expect(a.body, p).not.toMatch(/action="\/(rules\/\d+\/|whitelist|blacklist|thresholds)/);
    }
    const id = await newRule('203.0.113.20');
    const csrf = await v.token('/rules');
    const changes: [string, Record<string, string>][] = [
      [`/rules/${id}/disable`, {}], [`/rules/${id}/drop`, {}], [`/rules/${id}/enable`, {}],
      [`/rules/${id}/edit`, { action: 'REJECT' }], ['/whitelist/add', { cidr: '192.0.2.0/24' }],
      ['/blacklist/add', { cidr: '198.51.100.0/24' }], ['/whitelist/1/remove', {}], ['/blacklist/1/remove', {}],
      ['/thresholds/default/confirm', { max_hits: '5' }], ['/thresholds/default/apply', { max_hits: '5' }],
    ];
    for (const [path, form] of changes) {
      const a = await v.post(path, { csrf, ...form });
      expect(a.status, path).toBe(403);
      expect(a.body).toContain('victor is a viewer');
    }
    expect((await v.get('/thresholds/default')).status).toBe(403);
    expect((await ruleFor('203.0.113.20')).status).toBe('pending');
    expect(await t.db.rows('SELECT * FROM Whitelist')).toEqual([]);
    expect(await t.db.rows('SELECT * FROM Blacklist')).toEqual([]);
    const [th] = await t.db.rows<{ max_hits: number }>("SELECT max_hits FROM Threshold WHERE name = 'default'");
    expect(th!.max_hits).toBe(50);
    expect(await t.db.rows("SELECT * FROM AuditLog WHERE who = 'victor' AND action <> 'login'")).toEqual([]);
  });
});

describe('changes by an admin, each audited', () => {
  let admin: Client;
  beforeAll(async () => {
    admin = new Client(srv.url);
    await admin.login('alice', PW.alice);
  });

  async function audit(action: string): Promise<{ who: string; target: string; detail: string | null }[]> {
    return t.db.rows("SELECT who, target, detail FROM AuditLog WHERE action = ? ORDER BY id", [action]);
  }

  it('whitelists (dropping the rules it covers) and removes the entry', async () => {
    const id = await newRule('192.0.2.77');
    const csrf = await admin.token('/lists');
    const a = await admin.post('/whitelist/add', { csrf, cidr: '192.0.2.0/24', comment: '<b>our resolvers</b>' });
    expect(a.status).toBe(303);
    expect((await ruleFor('192.0.2.77')).status).toBe('dropped');
    const page = await admin.get('/lists');
    expect(page.body).toContain(`whitelist: added 192.0.2.0/24; dropped rule ${id}`);
    expect(page.body).toContain('&lt;b&gt;our resolvers&lt;/b&gt;');
    expect(await audit('whitelist.add')).toEqual([{ who: 'alice', target: '192.0.2.0/24', detail: JSON.stringify({ comment: '<b>our resolvers</b>', dropped: [{ id, src: '192.0.2.77' }] }) }]);
    // the filter: entries overlapping an address or range; a bad one is said, not a crash
    expect((await admin.get('/lists?cidr=192.0.2.9')).body).toContain('<td>192.0.2.0/24</td>');
    const other = await admin.get('/lists?cidr=198.18.0.0/16');
    expect(other.body).not.toContain('<td>192.0.2.0/24</td>');
    expect(other.body).toContain('No whitelist entry overlaps it.');
    expect((await admin.get('/lists?cidr=fish')).body).toMatch(/role="alert">address or CIDR/);
    const [w] = await t.db.rows<{ id: number; created_by: string }>('SELECT id, created_by FROM Whitelist');
    expect(w!.created_by).toBe('alice');
    expect((await admin.post(`/whitelist/${w!.id}/remove`, { csrf })).status).toBe(303);
    expect(await t.db.rows('SELECT * FROM Whitelist')).toEqual([]);
    expect(await audit('whitelist.remove')).toEqual([{ who: 'alice', target: `whitelist entry ${w!.id}`, detail: '{"cidr":"192.0.2.0/24"}' }]);
  });

  it('blacklists (a rule follows), refuses bad input with 400 and protected ranges with 409, recording nothing for them', async () => {
    const csrf = await admin.token('/lists');
    expect((await admin.post('/blacklist/add', { csrf, cidr: '198.51.100.0/24', expire: '7d', action: 'REJECT' })).status).toBe(303);
    const [r] = await t.db.rows<{ origin: string; action: string }>("SELECT origin, action FROM RuleView WHERE src = '198.51.100.0/24'");
    expect(r).toEqual({ origin: 'blacklist', action: 'REJECT' });
    const bad = await admin.post('/blacklist/add', { csrf, cidr: '10.1.2.3/8' });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('has host bits set');
    await t.db.exec("INSERT INTO Whitelist (cidr, first_ip, last_ip, prefix) VALUES ('192.0.2.0/24', INET6_ATON('192.0.2.0'), INET6_ATON('192.0.2.255'), 24)");
    const refused = await admin.post('/blacklist/add', { csrf, cidr: '192.0.2.0/25' });
    expect(refused.status).toBe(409);
    expect(refused.body).toContain('protected by whitelist 192.0.2.0/24');
    expect((await audit('blacklist.add')).map((a) => a.target)).toEqual(['198.51.100.0/24']);
    // removing the entry drops its rule, and the audit says which
    const [entry] = await t.db.rows<{ id: number }>("SELECT id FROM Blacklist WHERE cidr = '198.51.100.0/24'");
    const [rule] = await t.db.rows<{ id: number }>("SELECT id FROM RuleView WHERE src = '198.51.100.0/24'");
    expect((await admin.post(`/blacklist/${entry!.id}/remove`, { csrf })).status).toBe(303);
    expect(await audit('blacklist.remove')).toEqual([{ who: 'alice', target: `blacklist entry ${entry!.id}`, detail: JSON.stringify({ cidr: '198.51.100.0/24', dropped: [rule!.id] }) }]);
    expect((await ruleFor('198.51.100.0/24')).status).toBe('dropped');
  });

  it('edits a rule: duration, action, reason', async () => {
    const id = await newRule('203.0.113.30');
    const csrf = await admin.token(`/rules/${id}`);
    const a = await admin.post(`/rules/${id}/edit`, { csrf, duration: '4h', action: 'REJECT', reason: 'seen on <3> sensors' });
    expect(a.status).toBe(303);
    expect(a.headers.location).toBe(`/rules/${id}`);
    const [r] = await t.db.rows<{ action: string; reason: string; life: number }>(
      'SELECT action, reason, TIMESTAMPDIFF(SECOND, created_at, expires_at) AS life FROM Rule WHERE id = ?', [id],
    );
    expect(r).toEqual({ action: 'REJECT', reason: 'seen on <3> sensors', life: 14400 });
    const page = await admin.get(`/rules/${id}`);
    expect(page.body).toContain(`rule ${id}: updated`);
    expect(page.body).toContain('seen on &lt;3&gt; sensors');
    expect((await audit('rule.edit')).at(-1)!.target).toBe(`rule ${id}`);
  });

  it('keeps a closed rule as it was: editing a dropped rule is refused (409) and records nothing', async () => {
    const id = await newRule('203.0.113.31');
    await t.db.exec("UPDATE Rule SET status = 'dropped' WHERE id = ?", [id]);
    const before = await t.db.rows('SELECT id FROM AuditLog');
    const csrf = await admin.token(`/rules/${id}`);
    const a = await admin.post(`/rules/${id}/edit`, { csrf, action: 'REJECT', reason: 'rewritten' });
    expect(a.status).toBe(409);
    expect(a.body).toContain(`rule ${id} is dropped`);
    expect(await t.db.rows('SELECT action, reason FROM Rule WHERE id = ?', [id])).toEqual([{ action: 'DROP', reason: 'threshold default' }]);
    expect(await t.db.rows('SELECT id FROM AuditLog')).toEqual(before);
  });

  it('answers 404 for a rule that does not exist, and records nothing', async () => {
    const csrf = await admin.token('/rules');
    const before = await t.db.rows('SELECT id FROM AuditLog');
    const a = await admin.post('/rules/999999/drop', { csrf });
    expect(a.status).toBe(404);
    expect(a.body).toContain('rule 999999 does not exist');
    expect((await admin.get('/rules/999999')).status).toBe(404);
    expect(await t.db.rows('SELECT id FROM AuditLog')).toEqual(before);
  });

  it('changes a threshold only after the confirmation, and not over a change made meanwhile', async () => {
    const csrf = await admin.token('/thresholds');
    const form = await admin.get('/thresholds/default');
    expect(form.body).toContain('name="max_hits" value="50"');
    const confirm = await admin.post('/thresholds/default/confirm', {
      csrf, enabled: 'yes', proto: 'any', dst_port: 'any', sensor: 'any', group_by: 'src', window: '1s', max_hits: '40', action: 'DROP', duration: 'never',
      description: "the paper's rule: 50 hits from one source within one second",
    });
    expect(confirm.status).toBe(200);
    expect(confirm.body).toMatch(/<td>max_hits<\/td><td>50<\/td><td><b>40<\/b><\/td>/);
    expect(confirm.body).not.toMatch(/<td>window_s<\/td>/);
    const [still] = await t.db.rows<{ max_hits: number }>("SELECT max_hits FROM Threshold WHERE name = 'default'");
    expect(still!.max_hits).toBe(50);
    const hidden = Object.fromEntries([...confirm.body.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!.replace(/&#39;/g, "'")]));
    expect(hidden.version).toMatch(/^[0-9a-f]{16}$/);
    // a DBA changes the row in between: the confirmed edit is refused
    await t.db.exec("UPDATE Threshold SET window_s = 2 WHERE name = 'default'");
    const stale = await admin.post('/thresholds/default/apply', hidden);
    expect(stale.status).toBe(409);
    await t.db.exec("UPDATE Threshold SET window_s = 1 WHERE name = 'default'");
    const applied = await admin.post('/thresholds/default/apply', hidden);
    expect(applied.status).toBe(303);
    const [now] = await t.db.rows<{ max_hits: number; window_s: number }>("SELECT max_hits, window_s FROM Threshold WHERE name = 'default'");
    expect(now).toEqual({ max_hits: 40, window_s: 1 });
    expect(await audit('threshold.set')).toEqual([{ who: 'alice', target: 'threshold default', detail: '{"max_hits":{"from":"50","to":"40"}}' }]);
  });
});

describe('the secret and the cookies', () => {
  it('keeps the session secret in the database: a restarted server knows the sessions', async () => {
    const c = new Client(srv.url);
    await c.login('alice', PW.alice);
    const token = await c.token('/rules');
    const [s] = await t.db.rows<{ n: number; len: number }>("SELECT COUNT(*) AS n, MAX(LENGTH(value)) AS len FROM WebSecret WHERE name = 'session'");
    expect({ n: Number(s!.n), len: Number(s!.len) }).toEqual({ n: 1, len: 32 });
    const second = await startConsole(t.db);
    try {
      const c2 = new Client(second.url);
      for (const [k, v] of c.cookies) c2.cookies.set(k, v);
      expect((await c2.get('/rules')).status).toBe(200);
      expect(await c2.token('/rules')).toBe(token);
    } finally {
      await second.close();
    }
  });

  it('behind a TLS proxy: __Host- Secure cookies, the public host accepted, forms only from the public origin', async () => {
    const proxied = await startConsole(t.db, { origin: 'https://ipms.example.net' });
    try {
      const c = new Client(proxied.url);
      const a = await c.get('/', { Host: 'ipms.example.net' });
      expect(a.status).toBe(200);
      expect(a.headers['strict-transport-security']).toBe('max-age=31536000');
      expect(([] as string[]).concat(a.headers['set-cookie'] ?? []).join()).toMatch(/^__Host-ipms_login=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Secure; Max-Age=3600$/);
      const csrf = /name="csrf" value="([^"]+)"/.exec(a.body)![1]!;
      const wrong = await c.post('/login', { csrf, name: 'alice', password: PW.alice }, { Host: 'ipms.example.net', Origin: proxied.url });
      expect(wrong.status).toBe(403);
      const ok = await c.post('/login', { csrf, name: 'alice', password: PW.alice }, { Host: 'ipms.example.net', Origin: 'https://ipms.example.net' });
      expect(ok.status).toBe(303);
      expect(([] as string[]).concat(ok.headers['set-cookie'] ?? []).join()).toMatch(/__Host-ipms_sid=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Secure/);
    } finally {
      await proxied.close();
    }
  });
});
