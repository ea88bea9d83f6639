import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crowdsecExpiry, parseFeed } from '../../lib/feeds.ts';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { ipms } from '../helpers/cli.ts';
import { burst, insertHits } from '../helpers/hits.ts';

let t: TestDb;
const dir = mkdtempSync(join(tmpdir(), 'ipms-feeds-'));
beforeAll(async () => {
  t = await freshDatabase('cli_lists');
  await t.db.exec("INSERT INTO Sensor (name) VALUES ('s1')");
});
afterAll(async () => t.close());

describe('ipms whitelist', () => {
  it('adds an entry, drops the open rules it covers and says which', async () => {
    await insertHits(t.db, burst(50, { ts: '2026-06-01 10:00:00', src: '198.51.100.77' }));
    const add = await ipms(t.url, 'whitelist', 'add', '198.51.100.0/24', '--comment', 'partner net');
    expect(add.code).toBe(0);
    expect(add.out).toMatch(/^whitelist: added 198\.51\.100\.0\/24\nrule \d+ \(198\.51\.100\.77\): dropped, now whitelisted$/);
    const list = (await ipms(t.url, 'whitelist', 'list', '--json')).json<{ cidr: string; comment: string }[]>();
    expect(list).toMatchObject([{ cidr: '198.51.100.0/24', comment: 'partner net' }]);
    expect((await ipms(t.url, 'whitelist', 'add', '198.51.100.0/24')).code).toBe(5);
    expect((await ipms(t.url, 'whitelist', 'add', '198.51.100.1/24')).err).toMatch(/host bits set; did you mean 198\.51\.100\.0\/24/);
  });

  it('refuses entries wider than /8 (IPv4) or /16 (IPv6, but for the inside ranges): a slip would drop every rule', async () => {
    await insertHits(t.db, burst(50, { ts: '2026-06-01 10:00:00', src: '203.0.113.77' }));
    for (const wide of ['0.0.0.0/0', '128.0.0.0/1', '2000::/3', '::/0', '2a00::/7', '2000::/15']) {
      const r = await ipms(t.url, 'whitelist', 'add', wide);
      expect([r.code, r.err], wide).toEqual([2, expect.stringMatching(/^ipms: whitelist entry \S+ is wider than \/8 \(IPv4\) or \/16 \(IPv6 but fc00::\/7, fe80::\/10\)$/)]);
    }
    // a DBA's INSERT, and an edit, the same
    await expect(t.db.exec("INSERT INTO Whitelist (cidr) VALUES ('0.0.0.0/0')")).rejects.toThrow(/wider than \/8/);
    const inside = ['10.0.0.0/8', 'fc00::/7', 'fd00::/8', 'fe80::/10', '2001:db8::/32'];
    await t.db.exec(`INSERT INTO Whitelist (cidr) VALUES ${inside.map(() => '(?)').join(', ')}`, inside);
    await expect(t.db.exec("UPDATE Whitelist SET cidr = '0.0.0.0/4' WHERE cidr = '10.0.0.0/8'")).rejects.toThrow(/wider than \/8/);
    await t.db.exec(`DELETE FROM Whitelist WHERE cidr IN (${inside.map(() => '?').join(', ')})`, inside);
    expect((await t.db.rows<{ status: string }>("SELECT status FROM RuleView WHERE src = '203.0.113.77'")).map((r) => r.status)).toEqual(['pending']);
  });

  it('checks an address (exit 0 protected, 1 not) and removes entries', async () => {
    const yes = await ipms(t.url, 'whitelist', 'check', '198.51.100.5');
    expect([yes.code, yes.out]).toEqual([0, '198.51.100.5: protected by whitelist 198.51.100.0/24']);
    const no = await ipms(t.url, 'whitelist', 'check', '2001:db8::5');
    expect([no.code, no.out]).toEqual([1, '2001:db8::5: not whitelisted']);
    expect((await ipms(t.url, 'whitelist', 'check', 'fish')).code).toBe(2);
    expect((await ipms(t.url, 'whitelist', 'remove', '198.51.100.0/24')).out).toBe('whitelist: removed 198.51.100.0/24');
    expect((await ipms(t.url, 'whitelist', 'remove', '198.51.100.0/24')).code).toBe(4);
    // the worker's own address (it writes it from a new connection only) goes with --force only
    await t.db.exec("INSERT INTO Whitelist (cidr, comment, created_by) VALUES ('198.18.9.1/32', 'the ipms worker', 'ipms-worker')");
    const kept = await ipms(t.url, 'whitelist', 'remove', '198.18.9.1/32');
    expect([kept.code, kept.err]).toEqual([5, expect.stringMatching(/^ipms: whitelist entry 198\.18\.9\.1\/32 is the worker's own address as a device sees it: .*ipms whitelist remove --force$/)]);
    expect((await ipms(t.url, 'whitelist', 'remove', '198.18.9.1/32', '--force')).out).toBe('whitelist: removed 198.18.9.1/32');
  });

  it("tells an OS account named like ipms's own (a service account ipms-worker) apart from them", async () => {
    const saved = process.env.USER;
    process.env.USER = 'ipms-worker';
    try {
      expect((await ipms(t.url, 'whitelist', 'add', '198.18.9.2', '--comment', 'from cron')).code).toBe(0);
    } finally {
      process.env.USER = saved;
    }
    expect(await t.db.rows("SELECT created_by FROM Whitelist WHERE cidr = '198.18.9.2/32'")).toEqual([{ created_by: 'os:ipms-worker' }]);
    // so it is no worker's entry: removed without --force
    expect((await ipms(t.url, 'whitelist', 'remove', '198.18.9.2/32')).out).toBe('whitelist: removed 198.18.9.2/32');
  });
});

describe('ipms blacklist', () => {
  it('turns entries into rules, refuses whitelisted ones, and drops the rule on removal', async () => {
    await ipms(t.url, 'whitelist', 'add', '192.0.2.10');
    const add = await ipms(t.url, 'blacklist', 'add', '203.0.113.0/25', '--expire', '7d');
    expect(add.out).toBe('blacklist: added 203.0.113.0/25');
    const refused = await ipms(t.url, 'blacklist', 'add', '192.0.2.0/24');
    expect(refused.code).toBe(5);
    expect(refused.err).toBe('ipms: refused to blacklist 192.0.2.0/24: protected by whitelist 192.0.2.10/32');
    const rules = (await ipms(t.url, 'rules', 'list', '--origin', 'blacklist', '--json')).json<{ id: number; src: string; expires_at: string; status: string }[]>();
    expect(rules).toMatchObject([{ src: '203.0.113.0/25', status: 'pending' }]);
    expect(Date.parse(rules[0]!.expires_at) - Date.now()).toBeGreaterThan(6.9 * 86400_000);
    await ipms(t.url, 'blacklist', 'remove', '203.0.113.0/25');
    expect((await ipms(t.url, 'rules', 'show', String(rules[0]!.id), '--json')).json<{ status: string }>().status).toBe('dropped');
  });

  it('imports every feed format, reporting refused and unreadable lines', async () => {
    const files: Record<string, string> = {
      plain: '# comment\n203.0.113.1\n203.0.113.0/30\n192.0.2.10\nnot-an-ip\n2001:db8:66::/48\n',
      firehol: '#\n# firehol_level1\n#\n198.18.0.0/15\n203.0.113.64/26\n',
      dshield: '# DShield.org Suspicious Source Summary\nStart\tEnd\tNetblock\tAttacks\tName\n203.0.113.128\t203.0.113.255\t25\t1234\tExample\n',
      spamhaus: '; Spamhaus DROP List\n198.51.101.0/24 ; SBL123456\n',
      // what `cscli decisions list -o raw` writes (crowdsec's cmd/crowdsec-cli decisions code):
      // the ip column is SCOPE:VALUE; captcha, simulated and country decisions are skipped
      'crowdsec-csv': [
        'id,source,ip,reason,action,country,as,events_count,expiration,simulated,alert_id',
        '801,crowdsec,Ip:203.0.113.200,crowdsecurity/ssh-bf,ban,FR,64496 Example Net,6,3h59m45.1s,false,801',
        '802,cscli,Range:198.51.102.0/24,"manual \'ban\' from \'b76cc7\'",ban,,,1,3h50m58.1s,false,802',
        '803,crowdsec,Ip:203.0.113.201,crowdsecurity/http-probing,captcha,,,3,1h,false,803',
        '804,crowdsec,Ip:203.0.113.202,crowdsecurity/ssh-bf,ban,,,6,4h,true,804',
        '805,CAPI,Country:FR,x,ban,,,1,1h,false,805',
        '806,crowdsec,Ip:2001:db8:77::1,crowdsecurity/ssh-bf,ban,,,6,4h,false,806',
        '807,crowdsec,Ip:not-an-address,crowdsecurity/ssh-bf,ban,,,6,4h,false,807',
        // time up (cscli shows what is left, negative once past): not imported
        '808,crowdsec,Ip:203.0.113.203,crowdsecurity/ssh-bf,ban,,,6,-2m3s,false,808',
      ].join('\n'),
    };
    const got: Record<string, unknown> = {};
    for (const [format, text] of Object.entries(files)) {
      const f = join(dir, `${format}.txt`);
      writeFileSync(f, text);
      const r = await ipms(t.url, 'blacklist', 'import', f, '--format', format, '--source', format, '--json');
      expect(r.code, format).toBe(0);
      got[format] = r.json();
    }
    expect(got.plain).toMatchObject({ entries: 4, added: 3, refused: [{ line: 4, cidr: '192.0.2.10/32', why: 'protected by whitelist 192.0.2.10/32' }], rejected: [{ line: 5 }] });
    expect(got.firehol).toMatchObject({ entries: 2, added: 2 });
    expect(got.dshield).toMatchObject({ entries: 1, added: 1 });
    expect(got.spamhaus).toMatchObject({ entries: 1, added: 1 });
    expect(got['crowdsec-csv']).toMatchObject({ entries: 3, added: 3, skipped: 4, rejected: [{ line: 8 }] });
    // each ban keeps its own time left (3h59m45.1s, 3h50m58.1s, 4h), as the rule's expiry
    const left = await t.db.rows<{ cidr: string; s: number }>(
      "SELECT cidr, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), expires_at) AS s FROM Blacklist WHERE source = 'crowdsec-csv' ORDER BY cidr");
    const want: Record<string, number> = { '203.0.113.200/32': 14386, '198.51.102.0/24': 13859, '2001:db8:77::1/128': 14400 };
    for (const r of left) expect(Math.abs(Number(r.s) - want[r.cidr]!), r.cidr).toBeLessThan(30);
    const [rule] = await t.db.rows<{ s: number }>("SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), expires_at) AS s FROM RuleView WHERE src = '203.0.113.200' AND status = 'pending'");
    expect(Math.abs(Number(rule!.s) - 14386)).toBeLessThan(30);
    // the same CSV again a little later: the same ends (time left is now less), nothing renewed
    // and nothing sent again; the rule's device rows are not touched
    const [v0] = await t.db.rows<{ v: number }>("SELECT SUM(version) AS v FROM RuleDevice rd JOIN RuleView r ON r.id = rd.rule_id WHERE r.src = '203.0.113.200'");
    const reimport = await ipms(t.url, 'blacklist', 'import', join(dir, 'crowdsec-csv.txt'), '--format', 'crowdsec-csv', '--source', 'crowdsec-csv', '--json');
    expect(reimport.json()).toMatchObject({ added: 0, renewed: 0, present: 3 });
    const [v1] = await t.db.rows<{ v: number }>("SELECT SUM(version) AS v FROM RuleDevice rd JOIN RuleView r ON r.id = rd.rule_id WHERE r.src = '203.0.113.200'");
    expect(v1!.v).toEqual(v0!.v);
    const srcs = (await ipms(t.url, 'blacklist', 'list', '--json')).json<{ cidr: string; source: string }[]>().map((e) => `${e.cidr} ${e.source}`);
    expect(srcs).toEqual(expect.arrayContaining(['203.0.113.128/25 dshield', '198.51.101.0/24 spamhaus', '203.0.113.200/32 crowdsec-csv', '198.51.102.0/24 crowdsec-csv', '2001:db8:77::1/128 crowdsec-csv', '2001:db8:66::/48 plain']));
    // FireHOL level1 lists the bogons too: the inside ranges (the shared CGNAT and overlay space
    // among them), 0.0.0.0/8 and multicast are refused, with the reason
    const bogons = join(dir, 'level1.netset');
    writeFileSync(bogons, '# firehol_level1\n0.0.0.0/8\n10.0.0.0/8\n192.168.0.0/16\n224.0.0.0/3\n100.64.0.0/10\n239.0.0.0/8\n');
    const l1 = await ipms(t.url, 'blacklist', 'import', bogons, '--format', 'firehol', '--json');
    expect(l1.code).toBe(0);
    expect(l1.json()).toMatchObject({
      entries: 6, added: 0, refused: [
        { line: 2, cidr: '0.0.0.0/8', why: 'overlaps the special range 0.0.0.0/8 (this network): no packet comes from it' },
        { line: 3, cidr: '10.0.0.0/8', why: 'overlaps the internal network 10.0.0.0/8 (private (RFC 1918)): a feed does not block inside ranges (ipms rules add does)' },
        { line: 4, cidr: '192.168.0.0/16', why: expect.stringMatching(/^overlaps the internal network 192\.168\.0\.0\/16/) },
        { line: 5, cidr: '224.0.0.0/3', why: 'wider than /8 is not a block ipms makes' },
        { line: 6, cidr: '100.64.0.0/10', why: 'overlaps the internal network 100.64.0.0/10 (shared address space: carrier-grade NAT, overlays (RFC 6598)): a feed does not block inside ranges (ipms rules add does)' },
        // (one by one, before the database would refuse the whole batch for it)
        { line: 7, cidr: '239.0.0.0/8', why: 'overlaps the special range 224.0.0.0/3 (multicast and reserved): no packet comes from it' },
      ],
    });
    // importing again adds nothing
    const again = await ipms(t.url, 'blacklist', 'import', join(dir, 'firehol.txt'), '--format', 'firehol', '--json');
    expect(again.json()).toMatchObject({ added: 0, renewed: 0, present: 2 });
    expect((await ipms(t.url, 'blacklist', 'import', join(dir, 'nope.txt'), '--format', 'plain')).code).toBe(2);
    expect((await ipms(t.url, 'blacklist', 'import', join(dir, 'plain.txt'), '--format', 'csv')).code).toBe(2);
    // the wrong format for a file: nothing reads, exit 2 and said so
    const wrong = await ipms(t.url, 'blacklist', 'import', join(dir, 'dshield.txt'), '--format', 'spamhaus');
    expect(wrong.code).toBe(2);
    expect(wrong.out).toBe('blacklist import: 0 entries, 0 added, 0 renewed, 0 already present, 0 refused, 2 unreadable');
    expect(wrong.err).toMatch(/no line of .*dshield\.txt reads as spamhaus: nothing imported/);
  });

  it('renews entries a feed lists again: the new expiry reaches the rule, and an expired entry is blocked again', async () => {
    const feed = join(dir, 'renew.txt');
    writeFileSync(feed, '198.18.20.0/24\n198.18.21.9\n');
    const first = await ipms(t.url, 'blacklist', 'import', feed, '--format', 'plain', '--expire', '1h', '--json');
    expect(first.json()).toMatchObject({ added: 2, renewed: 0, present: 0 });
    const ruleOf = async (cidr: string) => (await ipms(t.url, 'rules', 'list', '--origin', 'blacklist', '--src', cidr, '--json'))
      .json<{ id: number; src: string; status: string; expires_at: string }[]>().filter((r) => r.src === cidr);
    const [r1] = await ruleOf('198.18.20.0/24');
    // the first rule expires; an admin drops the other one by hand
    await t.db.exec("UPDATE Rule SET status = 'expired' WHERE id = ?", [r1!.id]);
    const [d1] = await ruleOf('198.18.21.9');
    expect((await ipms(t.url, 'rules', 'drop', String(d1!.id))).code).toBe(0);
    const again = await ipms(t.url, 'blacklist', 'import', feed, '--format', 'plain', '--expire', '2d');
    expect(again.out).toMatch(/^blacklist import: 2 entries, 0 added, 2 renewed, 0 already present, 0 refused, 0 unreadable$/);
    const net = await ruleOf('198.18.20.0/24');
    expect(net.map((r) => r.status).sort()).toEqual(['expired', 'pending']);
    const fresh = net.find((r) => r.status === 'pending')!;
    expect(Date.parse(fresh.expires_at) - Date.now()).toBeGreaterThan(47 * 3600_000);
    // the dropped one stays dropped: the admin's word (a whitelist entry keeps it unblocked for good)
    expect((await ruleOf('198.18.21.9')).map((r) => r.status)).toEqual(['dropped']);
    // an open rule takes the new expiry, and goes to the devices again with it
    const third = await ipms(t.url, 'blacklist', 'add', '198.18.20.0/24', '--expire', '3d');
    expect(third.out).toBe('blacklist: renewed 198.18.20.0/24');
    const [now] = (await ruleOf('198.18.20.0/24')).filter((r) => r.status === 'pending');
    expect(now!.id).toBe(fresh.id);
    expect(Date.parse(now!.expires_at) - Date.now()).toBeGreaterThan(71 * 3600_000);
    expect((await ipms(t.url, 'blacklist', 'add', '198.18.20.0/24', '--expire', '3d')).out).toBe('blacklist: renewed 198.18.20.0/24');
    // the admin's add took the entry over: the feed no longer changes it
    const feedAgain = await ipms(t.url, 'blacklist', 'import', feed, '--format', 'plain', '--expire', '1h', '--json');
    expect(feedAgain.json()).toMatchObject({ added: 0, renewed: 1, present: 1 });
    const [kept] = (await ruleOf('198.18.20.0/24')).filter((r) => r.status === 'pending');
    expect(Date.parse(kept!.expires_at) - Date.now()).toBeGreaterThan(71 * 3600_000);
    const entries = (await ipms(t.url, 'blacklist', 'list', '--json')).json<{ cidr: string; source: string }[]>();
    expect(entries.find((e) => e.cidr === '198.18.20.0/24')!.source).toBe('manual');
    // an admin's disabled rule takes a renewal's expiry and stays disabled (expired, it would come back)
    await t.db.exec("UPDATE Rule SET status = 'disabled' WHERE id = ?", [kept!.id]);
    expect((await ipms(t.url, 'blacklist', 'add', '198.18.20.0/24', '--expire', '5d')).out).toBe('blacklist: renewed 198.18.20.0/24');
    const after = await ruleOf('198.18.20.0/24');
    expect(after.filter((r) => r.status === 'pending')).toEqual([]);
    expect(Date.parse(after.find((r) => r.status === 'disabled')!.expires_at) - Date.now()).toBeGreaterThan(119 * 3600_000);
  });

  it("reads a CrowdSec decision's time left: a Go duration, or the date it ends", () => {
    const now = Date.UTC(2026, 0, 1);
    expect(['3h59m45.1s', '4h', '59m', '1.5s', '120ms', '1d', '2026-01-01T01:00:00Z', ''].map((x) => crowdsecExpiry(x, now)))
      .toEqual([14386, 14400, 3540, 2, 1, 86400, 3600, undefined]);
    // a decision whose time is up is not imported (not blocked for good), and text that is no
    // time is a refused line
    expect(['0s', '-5m', '-1h2m', '2025-12-31T00:00:00Z', 'soon'].map((x) => crowdsecExpiry(x, now)))
      .toEqual(['expired', 'expired', 'expired', 'expired', 'unreadable']);
  });

  it('parses feed lines strictly but clears host bits feeds publish', () => {
    const r = parseFeed('10.1.2.3/8\n999.1.1.1\n198.51.100.0/24\n2001:db8::1/64\n', 'plain');
    expect(r.entries.map((e) => e.cidr.text)).toEqual(['10.0.0.0/8', '198.51.100.0/24', '2001:db8::/64']);
    expect(r.rejects[0]!.reason).toMatch(/not an IP address/);
    // and says which it cleared (a network written right is not among them)
    expect(r.rounded).toEqual([{ line: 1, text: '10.1.2.3/8', cidr: '10.0.0.0/8' }, { line: 4, text: '2001:db8::1/64', cidr: '2001:db8::/64' }]);
  });

  it('says which feed entries had host bits set, and what they were read as', async () => {
    const f = join(dir, 'hostbits.txt');
    writeFileSync(f, '198.51.104.77/28\n198.51.104.200\n');
    const r = await ipms(t.url, 'blacklist', 'import', f, '--format', 'plain', '--source', 'hostbits');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^blacklist import: 2 entries, 2 added,/);
    expect(r.err).toBe('ipms: line 1: 198.51.104.77/28 has host bits set: read as 198.51.104.64/28');
    const j = (await ipms(t.url, 'blacklist', 'import', f, '--format', 'plain', '--source', 'hostbits', '--json')).json();
    expect(j).toMatchObject({ entries: 2, added: 0, present: 2, rounded: [{ line: 1, text: '198.51.104.77/28', cidr: '198.51.104.64/28' }] });
  });

  it("shows each entry's rule and its status: one dropped by a later whitelist entry is seen as such", async () => {
    expect((await ipms(t.url, 'blacklist', 'add', '198.51.106.0/25')).code).toBe(0);
    const entry = () => ipms(t.url, 'blacklist', 'list', '--json').then((r) => r.json<{ cidr: string; rule_id: number | null; rule_status: string | null }[]>()
      .find((e) => e.cidr === '198.51.106.0/25'));
    const before = await entry();
    expect(before).toMatchObject({ rule_id: expect.any(Number), rule_status: 'pending' });
    expect((await ipms(t.url, 'whitelist', 'add', '198.51.106.7')).code).toBe(0);
    expect(await entry()).toMatchObject({ rule_id: before!.rule_id, rule_status: 'dropped' });
    expect((await ipms(t.url, 'blacklist', 'list')).out).toMatch(new RegExp(`198\\.51\\.106\\.0/25 .* ${before!.rule_id} dropped`));
  });
});
