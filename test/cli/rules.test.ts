import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { ipms } from '../helpers/cli.ts';
import { burst, insertHits } from '../helpers/hits.ts';

let t: TestDb;
beforeAll(async () => {
  t = await freshDatabase('cli_rules');
  await t.db.exec("INSERT INTO Sensor (name) VALUES ('s1'), ('s2')");
  await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('fw1', 'fw1.example.net', 'nftables', 'dry-run'), ('fw2', 'fw2.example.net', 'iptables', 'dry-run')");
  await insertHits(t.db, burst(50, { sensor: 2, ts: '2026-05-01 10:00:00', src: '203.0.113.7' }));
});
afterAll(async () => t.close());

interface RuleJson {
  id: number; src: string; dst: string | null; dst_port: number | null; proto: string | null; action: string;
  status: string; origin: string; hits: number; created_at: string; expires_at: string | null;
  devices: { device: string; state: string; last_error: string | null }[];
}

describe('ipms rules list', () => {
  it('prints the JSON contract', async () => {
    const r = await ipms(t.url, 'rules', 'list', '--json');
    expect(r.code).toBe(0);
    const [rule, ...rest] = r.json<RuleJson[]>();
    expect(rest).toEqual([]);
    expect(rule).toMatchObject({
      src: '203.0.113.7', dst: null, dst_port: null, proto: null, action: 'DROP', status: 'pending',
      origin: 'threshold', hits: 50, expires_at: null,
      devices: [
        { device: 'fw1', state: 'pending', last_error: null },
        { device: 'fw2', state: 'pending', last_error: null },
      ],
    });
    expect(rule!.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    for (const k of ['id', 'src', 'dst', 'dst_port', 'proto', 'action', 'status', 'origin', 'hits', 'created_at', 'expires_at', 'devices']) {
      expect(rule).toHaveProperty(k);
    }
  });

  it('prints an aligned table for people', async () => {
    const r = await ipms(t.url, 'rules', 'list');
    expect(r.code).toBe(0);
    const [head, row] = r.out.split('\n');
    expect(head).toMatch(/^ID\s+SRC\s+TO\s+ACTION\s+STATUS\s+ORIGIN\s+HITS\s+AGE\s+EXPIRES\s+DEVICES$/);
    expect(row).toMatch(/203\.0\.113\.7\s+any\s+DROP\s+pending\s+threshold:default\s+50 .* never\s+2 pending$/);
  });

  it('filters by status, origin, source, sensor and time', async () => {
    const q = async (...a: string[]) => (await ipms(t.url, 'rules', 'list', '--json', ...a)).json<RuleJson[]>().length;
    expect(await q('--status', 'pending')).toBe(1);
    expect(await q('--status', 'dropped,expired')).toBe(0);
    expect(await q('--origin', 'manual')).toBe(0);
    expect(await q('--src', '203.0.113.0/24')).toBe(1);
    expect(await q('--src', '2001:db8::/32')).toBe(0);
    expect(await q('--sensor', 's2')).toBe(1);
    expect(await q('--sensor', 's1')).toBe(0);
    expect(await q('--since', '1h')).toBe(1);
    expect(await q('--since', '2999-01-01')).toBe(0);
  });

  it('says a sensor it does not know does not exist (exit 4), in rules list and logs', async () => {
    for (const cmd of [['rules', 'list'], ['logs']]) {
      const r = await ipms(t.url, ...cmd, '--sensor', 'nosuch');
      expect([r.code, r.err]).toEqual([4, 'ipms: sensor nosuch does not exist']);
    }
  });

  it('rejects bad input with one line and exit 2', async () => {
    for (const args of [
      ['--status', 'frozen'], ['--src', '10.0.0.300'], ['--src', '10.1.2.3/8'], ['--since', 'yesterday'], ['--limit', '-3'],
    ]) {
      const r = await ipms(t.url, 'rules', 'list', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/^ipms: (--status|--src|--since|--limit)/);
      expect(r.out).toBe('');
    }
  });
});

describe('adding and changing rules', () => {
  it('refuses a protocol that does not exist in the address family of the source', async () => {
    for (const [src, proto] of [['2001:db8:99::1', 'icmp'], ['198.18.0.1', 'icmpv6'], ['2001:db8:99::1', 'igmp']]) {
      const r = await ipms(t.url, 'rules', 'add', src!, '--proto', proto!);
      expect([r.code, r.err], `${src} ${proto}`).toEqual([2, expect.stringMatching(new RegExp(`^ipms: --proto ${proto} does not exist for IPv`))]);
    }
    expect((await ipms(t.url, 'rules', 'add', '2001:db8:99::1', '--proto', 'icmpv6')).code).toBe(0);
    // AH in IPv6 is an extension header the firewalls' protocol match skips: it would block nothing
    const ah = await ipms(t.url, 'rules', 'add', '2001:db8:99::2', '--proto', 'ah');
    expect([ah.code, ah.err]).toEqual([2, "ipms: --proto ah cannot be blocked for IPv6: there AH is an extension header, which the firewalls' protocol match skips (block the source for all protocols)"]);
    await expect(t.db.exec("INSERT INTO Rule (src_ip, proto, origin) VALUES (INET6_ATON('2001:db8:99::2'), 'ah', 'manual')")).rejects.toThrow(/icmp, igmp and ah are IPv4 only/);
    expect((await ipms(t.url, 'rules', 'add', '198.18.0.2', '--proto', 'ah')).code).toBe(0);
  });

  it('adds a manual rule for named devices, and refuses duplicates and whitelisted sources', async () => {
    const add = await ipms(t.url, 'rules', 'add', '198.51.100.0/24', '--dst-port', '22', '--duration', '4h', '--reason', 'ssh brute force', '--device', 'fw1', '--json');
    expect(add.code).toBe(0);
    const rule = add.json<RuleJson>();
    expect(rule).toMatchObject({ src: '198.51.100.0/24', dst_port: 22, proto: 'tcp', origin: 'manual', status: 'pending' });
    expect(rule.devices.map((d) => d.device)).toEqual(['fw1']);
    expect(Date.parse(rule.expires_at!) - Date.parse(rule.created_at)).toBe(4 * 3600_000);

    const dup = await ipms(t.url, 'rules', 'add', '198.51.100.0/24', '--dst-port', '22');
    expect(dup.code).toBe(5);
    expect(dup.err).toBe(`ipms: rule ${rule.id} already covers this traffic and is open`);

    await t.db.exec("INSERT INTO Whitelist (cidr, comment) VALUES ('192.0.2.0/24', 'partners')");
    const wl = await ipms(t.url, 'rules', 'add', '192.0.2.0/23');
    expect(wl.code).toBe(5);
    expect(wl.err).toBe('ipms: refused to block 192.0.2.0/23: protected by whitelist 192.0.2.0/24');
    // nothing wider than /8 (IPv4) or /16 (IPv6): 0.0.0.0/0 would cut the network off the Internet
    for (const [wide, bits] of [['0.0.0.0/0', 8], ['64.0.0.0/2', 8], ['2000::/3', 16]] as const) {
      const w = await ipms(t.url, 'rules', 'add', wide);
      expect([w.code, w.err], wide).toEqual([5, `ipms: refused to block ${wide}: wider than /${bits} is not a block ipms makes`]);
    }
    // the IPv4-mapped IPv6 spelling of a whitelisted address is the same address
    const mapped = await ipms(t.url, 'rules', 'add', '::ffff:192.0.2.9');
    expect(mapped.code).toBe(5);
    expect(mapped.err).toBe('ipms: refused to block 192.0.2.9/32: protected by whitelist 192.0.2.0/24');
    // loopback is that before it is a dry-run device's address
    await t.db.exec("INSERT INTO Device (name, host, adapter, transport, enabled) VALUES ('lo-dev', '127.0.0.1', 'nftables', 'dry-run', 0)");
    const lo = await ipms(t.url, 'rules', 'add', '127.0.0.1');
    expect([lo.code, lo.err]).toEqual([5, 'ipms: refused to block 127.0.0.1/32: protected by no-source range loopback 127.0.0.0/8']);
    await t.db.exec("DELETE FROM Device WHERE name = 'lo-dev'");

    const bad = await ipms(t.url, 'rules', 'add', '192.0.2.1', '--dst-port', '22', '--proto', 'icmp');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^ipms: --dst-port needs --proto/);
    // several devices after one --device, or --device repeated
    const both = await ipms(t.url, 'rules', 'add', '198.51.103.0/24', '--device', 'fw1', 'fw2', '--json');
    expect(both.json<RuleJson>().devices.map((d) => d.device)).toEqual(['fw1', 'fw2']);
    const again = await ipms(t.url, 'rules', 'add', '198.51.104.0/24', '--device', 'fw2', '--reason', 'x', '--device', 'fw1', '--json');
    expect(again.json<RuleJson>().devices.map((d) => d.device)).toEqual(['fw1', 'fw2']);
    await t.db.exec("DELETE rd FROM RuleDevice rd JOIN Rule r ON r.id = rd.rule_id WHERE r.reason = 'x' OR r.src_ip = INET6_ATON('198.51.103.0')");
    await t.db.exec("DELETE FROM Rule WHERE reason = 'x' OR src_ip = INET6_ATON('198.51.103.0')");
    const nodev = await ipms(t.url, 'rules', 'add', '203.0.113.99', '--device', 'nope');
    expect(nodev.code).toBe(4);
    expect((await ipms(t.url, 'rules', 'list', '--src', '203.0.113.99', '--json')).json<RuleJson[]>()).toEqual([]);
  });

  it('says when a device of its scope cannot express it (a port on an ipset device), which then does not take it', async () => {
    await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('ips1', 'ips1.example.net', 'ipset', 'dry-run')");
    const port = await ipms(t.url, 'rules', 'add', '198.51.100.140', '--dst-port', '22', '--json');
    expect(port.code).toBe(0);
    expect(port.err).toMatch(/^ipms: device ips1 \(ipset\) does not take rule \d+: ipset matches source addresses only; .*$/);
    expect(port.json<RuleJson>().devices.map((d) => d.device)).not.toContain('ips1');
    // named by hand, it gets the rule, and it fails there, visibly
    const forced = await ipms(t.url, 'rules', 'add', '198.51.100.143', '--dst-port', '22', '--device', 'ips1');
    expect(forced.err).toMatch(/^ipms: device ips1 \(ipset\) cannot carry rule \d+: ipset matches source addresses only; .*; it fails there until dropped \(or give --device\)$/);
    const plain = await ipms(t.url, 'rules', 'add', '198.51.100.141');
    expect([plain.code, plain.err]).toEqual([0, '']);
    const named = await ipms(t.url, 'rules', 'add', '198.51.100.142', '--dst-port', '22', '--device', 'fw1');
    expect([named.code, named.err]).toEqual([0, '']);
    expect((await ipms(t.url, 'devices', 'remove', 'ips1', '--leave-rules')).code).toBe(0);
  });

  it('disables, enables, drops and edits, with the right exit codes', async () => {
    const [rule] = (await ipms(t.url, 'rules', 'list', '--origin', 'threshold', '--json')).json<RuleJson[]>();
    const id = String(rule!.id);
    expect((await ipms(t.url, 'rules', 'disable', id)).out).toBe(`rule ${id}: disabled`);
    // twice is fine (a script run again); what cannot be done is refused
    const again = await ipms(t.url, 'rules', 'disable', id);
    expect([again.code, again.out, again.err]).toEqual([0, `rule ${id}: already disabled`, '']);
    expect((await ipms(t.url, 'rules', 'enable', id)).code).toBe(0);
    const twice = await ipms(t.url, 'rules', 'enable', id);
    expect([twice.code, twice.out]).toEqual([0, `rule ${id}: already pending`]);
    // each change is in the audit log, as the console's are (a repeat changed nothing: none)
    const audit = await t.db.rows<{ action: string; who: string; via: string }>('SELECT action, who, via FROM AuditLog WHERE target = ? ORDER BY id', [`rule ${id}`]);
    expect(audit.map((a) => [a.action, a.via])).toEqual([['rule.disable', 'cli'], ['rule.enable', 'cli']]);
    expect(audit[0]!.who).not.toMatch(/^(unknown|)$/);
    expect((await ipms(t.url, 'rules', 'show', id, '--json')).json<RuleJson>().status).toBe('pending');
    const edit = await ipms(t.url, 'rules', 'edit', id, '--duration', '2h', '--action', 'reject');
    expect(edit.code).toBe(0);
    const shown = (await ipms(t.url, 'rules', 'show', id, '--json')).json<RuleJson>();
    expect(shown.action).toBe('REJECT');
    expect(Date.parse(shown.expires_at!) - Date.parse(shown.created_at)).toBe(7200_000);
    // a lifetime from creation that is over already is refused, saying how to take it off now
    await t.db.exec('UPDATE Rule SET created_at = created_at - INTERVAL 10 MINUTE WHERE id = ?', [rule!.id]);
    const past = await ipms(t.url, 'rules', 'edit', id, '--duration', '1m');
    expect([past.code, past.err]).toEqual([5, expect.stringMatching(new RegExp(`^ipms: rule ${id} was created at \\S+ \\S+Z: a duration from its creation that is over already would expire it at once \\(to take it off now: ipms rules drop ${id}\\)$`))]);
    expect((await ipms(t.url, 'rules', 'show', id, '--json')).json<RuleJson>().expires_at).toBe(shown.expires_at);
    const drop = await ipms(t.url, 'rules', 'drop', id, '999999');
    expect(drop.code).toBe(4);
    expect(drop.out).toBe(`rule ${id}: dropped`);
    expect(drop.err).toBe('ipms: rule 999999 does not exist');
    const back = await ipms(t.url, 'rules', 'enable', id);
    expect([back.code, back.err]).toEqual([5, `ipms: rule ${id} is dropped: nothing to enable`]);
    const devs = await t.db.rows<{ desired: string }>('SELECT desired FROM RuleDevice WHERE rule_id = ?', [rule!.id]);
    expect(devs.map((d) => d.desired)).toEqual(['absent', 'absent']);
    expect((await ipms(t.url, 'rules', 'show', '0')).code).toBe(2);
    expect((await ipms(t.url, 'rules', 'show', '424242')).code).toBe(4);
  });
});

describe('configuration errors', () => {
  it('says how to configure the database, exit 2; unreachable is exit 3', async () => {
    const none = await ipms(undefined, 'rules', 'list');
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/^ipms: no database configured: set IPMS_DATABASE_URL/);
    const down = await ipms('mysql://x:y@127.0.0.1:1/ipms', 'rules', 'list');
    expect(down.code).toBe(3);
    expect(down.err).toBe('ipms: cannot reach the database at 127.0.0.1:1 (ECONNREFUSED)');
    const help = await ipms(undefined, '--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/Exit codes:\n\s+0\s+ok/);
  });

  it('answers bad usage with one line and exit 2; a command group without its command shows its help, exit 2', async () => {
    for (const [args, msg] of [
      [['rules', 'list', '--bogus'], "ipms: unknown option '--bogus' (see --help)"],
      [['rules', 'drop'], "ipms: missing required argument 'id' (see --help)"],
      [['nosuch'], "ipms: unknown command 'nosuch' (see --help)"],
    ] as const) {
      const r = await ipms(undefined, ...args);
      expect([r.code, r.err, r.out], args.join(' ')).toEqual([2, msg, '']);
    }
    for (const args of [[], ['rules']]) {
      const r = await ipms(undefined, ...args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^Usage: ipms /);
    }
    // help asked for is a success, on stdout
    for (const args of [['help'], ['help', 'rules'], ['rules', 'help', 'list'], ['help', 'check'], ['check', '--help']]) {
      const r = await ipms(undefined, ...args);
      expect([r.code, r.err], args.join(' ')).toEqual([0, '']);
      expect(r.out).toMatch(/^Usage: ipms /);
    }
  });
});
