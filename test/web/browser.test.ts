/**
 * The console in a real browser: Debian's Chromium (/usr/bin/chromium) driven by
 * playwright-core, which never downloads a browser of its own. Log in, insert hits until a
 * rule appears, see it, disable it (the light turns red), drop it; an attacker's payload is
 * shown as text and runs nothing. A screenshot of every page is kept in test-artifacts/web/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { insertHits } from '../helpers/hits.ts';
import type { WebServer } from '../../web/server.ts';
import { makeUser, startConsole } from './helpers.ts';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/web/', import.meta.url));
const ATTACK = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">`;
const UPLOAD = `/var/spool/mydoom/"><script>window.__pwned = 3</script>.exe`;

let t: TestDb;
let srv: WebServer;
let browser: BrowserContext;
let page: Page;
let profile: string;

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true, timeout: 10_000 });
}

async function go(path: string): Promise<void> {
  const res = await page.goto(srv.url + path, { timeout: 10_000 });
  expect(res?.status(), path).toBe(200);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  t = await freshDatabase('web_browser');
  await t.db.exec("INSERT INTO Sensor (name) VALUES ('dmz-1'), ('dmz-2')");
  await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('edge-fw', '192.0.2.1', 'nftables', 'dry-run'), ('core-rtr', '192.0.2.2', 'iptables', 'dry-run')");
  await makeUser(t.db, 'alice', 'admin', 'alice password 1');
  srv = await startConsole(t.db);
  profile = mkdtempSync(join(tmpdir(), 'ipms-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
    timeout: 30_000,
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(10_000);
  page.setDefaultNavigationTimeout(10_000);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await srv?.close();
  await t?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('the console in Chromium', () => {
  it('shows the login form without a script, and logs in', async () => {
    await go('/');
    await expect.poll(() => page.locator('form.login input[name=password]').count()).toBe(1);
    expect(await page.locator('script').count()).toBe(0);
    await shot('01-login');
    await page.fill('input[name=name]', 'alice');
    await page.fill('input[name=password]', 'alice password 1');
    await Promise.all([page.waitForURL(`${srv.url}/`), page.click('form.login button[type=submit]')]);
    expect(await page.textContent('h1')).toBe('Overview');
  });

  it('shows a rule once enough hits came in; disabling turns its light red; dropping closes it', async () => {
    const ts = new Date().toISOString().slice(0, 19).replace('T', ' ');
    const src = '203.0.113.50';
    let rule: { id: number } | undefined;
    // hits of one second, ten at a time, until the threshold (50 in 1 s) makes a rule
    for (let i = 0; i < 20 && !rule; i++) {
      await insertHits(t.db, Array.from({ length: 10 }, () => ({ sensor: 1, ts, src, dstPort: 445 })));
      [rule] = await t.db.rows<{ id: number }>('SELECT id FROM RuleView WHERE src = ?', [src]);
    }
    expect(rule).toBeDefined();
    const id = rule!.id;
    await t.db.exec(
      "UPDATE RuleDevice SET state = 'failed', attempts = 1, last_error = ? WHERE rule_id = ? AND device_id = (SELECT id FROM Device WHERE name = 'core-rtr')",
      ['ssh: host key mismatch <b>not bold</b>', id],
    );

    await go('/');
    expect(await page.locator('svg.chart').count()).toBe(2);
    expect(await page.locator('text=203.0.113.50').count()).toBeGreaterThan(0);
    await shot('02-overview');

    await go('/rules');
    const row = page.locator(`tr#rule-${id}`);
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.locator('td').nth(2).textContent()).toBe(src);
    expect(await row.locator('.light').getAttribute('class')).toBe('light green');
    expect(await row.textContent()).toContain('edge-fw: pending');
    expect(await row.textContent()).toContain('core-rtr: failed ssh: host key mismatch <b>not bold</b>');
    expect(await row.locator('b').count()).toBe(0);
    await shot('03-rules-green');

    await Promise.all([page.waitForURL(/\/rules/), row.locator('button', { hasText: 'disable' }).click()]);
    await expect.poll(() => page.locator(`tr#rule-${id} .light`).getAttribute('class')).toBe('light red');
    expect(await page.locator(`tr#rule-${id}`).getAttribute('data-status')).toBe('disabled');
    expect(await page.locator('p.flash').textContent()).toBe(`rule ${id}: disabled`);
    const [status] = await t.db.rows<{ status: string }>('SELECT status FROM Rule WHERE id = ?', [id]);
    expect(status!.status).toBe('disabled');
    await shot('04-rules-red');

    await go(`/rules/${id}`);
    expect(await page.textContent('h1')).toBe(`Rule ${id}`);
    await shot('05-rule-detail');

    await go('/rules');
    await Promise.all([page.waitForURL(/\/rules/), page.locator(`tr#rule-${id} button`, { hasText: 'drop' }).click()]);
    await expect.poll(() => page.locator(`tr#rule-${id}`).count()).toBe(0);
    expect(await page.locator('p.flash').textContent()).toBe(`rule ${id}: dropped`);
    await go('/rules?status=all');
    expect(await page.locator(`tr#rule-${id}`).getAttribute('data-status')).toBe('dropped');
    expect(await page.locator(`tr#rule-${id} .light`).getAttribute('class')).toBe('light grey');
    await shot('06-rules-dropped');

    const audit = await t.db.rows<{ who: string; action: string; target: string }>(
      "SELECT who, action, target FROM AuditLog WHERE action LIKE 'rule.%' ORDER BY id",
    );
    expect(audit).toEqual([
      { who: 'alice', action: 'rule.disable', target: `rule ${id}` },
      { who: 'alice', action: 'rule.drop', target: `rule ${id}` },
    ]);
  });

  it('shows a payload that holds <script> as text, and nothing in it runs', async () => {
    const { insertId: logId } = await t.db.exec(
      `INSERT INTO SensorLog (sensor_id, ts, kind, proto, src_ip, src_port, dst_ip, dst_port)
       VALUES (2, UTC_TIMESTAMP(3), 'start', 'tcp', INET6_ATON('198.51.100.66'), 1025, INET6_ATON('192.168.2.9'), 3127)`,
    );
    await t.db.exec(
      "INSERT INTO Data (sensorlog_id, sensor_id, ts, source, script, payload, file_path) VALUES (?, 2, UTC_TIMESTAMP(3), 'script', 'mydoom.pl', ?, ?)",
      [logId, ATTACK, UPLOAD],
    );
    await go('/records?sensor=dmz-2');
    expect(await page.locator(`a[href="/records/${logId}"]`).count()).toBe(1);
    await shot('07-records');

    // The CSP forbids every script anyway; take it away for this page, so that what is tested
    // here is the escaping alone.
    await page.route(`${srv.url}/records/${logId}`, async (route) => {
      const res = await route.fetch();
      const headers = { ...res.headers() };
      delete headers['content-security-policy'];
      await route.fulfill({ response: res, headers });
    });
    await go(`/records/${logId}`);
    expect(await page.locator('pre.payload-text').textContent()).toBe(ATTACK);
    expect(await page.locator('main').textContent()).toContain(UPLOAD);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('script').count()).toBe(0);
    expect(await page.locator('main img').count()).toBe(0);
    await shot('08-record-detail');
    await page.unroute(`${srv.url}/records/${logId}`);
  });

  it('changes a threshold after a confirmation, whitelists, and shows every other page', async () => {
    await go('/thresholds');
    await shot('09-thresholds');
    await page.click('a[href="/thresholds/default"]');
    await page.fill('input[name=max_hits]', '40');
    await shot('10-threshold-edit');
    await Promise.all([page.waitForURL(/\/confirm$/), page.click('text=Review the change')]);
    expect(await page.locator('table.confirm tbody tr').count()).toBe(1);
    const [before] = await t.db.rows<{ max_hits: number }>("SELECT max_hits FROM Threshold WHERE name = 'default'");
    expect(before!.max_hits).toBe(50);
    await shot('11-threshold-confirm');
    await Promise.all([page.waitForURL(/\/thresholds$/), page.click('button:has-text("Apply")')]);
    const [after] = await t.db.rows<{ max_hits: number }>("SELECT max_hits FROM Threshold WHERE name = 'default'");
    expect(after!.max_hits).toBe(40);
    expect(await page.locator('p.flash').textContent()).toBe('threshold default: max_hits 40');

    await go('/lists');
    await page.fill('form[action="/whitelist/add"] input[name=cidr]', '192.0.2.0/24');
    await page.fill('form[action="/whitelist/add"] input[name=comment]', 'our devices');
    await Promise.all([page.waitForURL(/\/lists/), page.click('text=Add to whitelist')]);
    expect(await page.locator('table.whitelist').textContent()).toContain('192.0.2.0/24');
    await shot('12-lists');

    await go('/devices');
    expect(await page.locator('table.devices tbody tr').count()).toBe(2);
    await shot('13-devices');

    await go('/audit');
    const actions = await page.locator('table.audit tbody tr td:nth-child(5)').allTextContents();
    expect(actions).toEqual(expect.arrayContaining(['login', 'rule.disable', 'rule.drop', 'threshold.set', 'whitelist.add']));
    await shot('14-audit');
  });
});
