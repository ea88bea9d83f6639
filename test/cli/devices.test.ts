/**
 * `ipms devices ...` against the real server: adding with validation (nothing is contacted),
 * listing in both forms, disabling and enabling (what a device gets), and removing, which asks
 * what to do with the rules it enforces. Devices use the dry-run transport, which prints what
 * it would send; real devices over SSH are in test/e2e.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipms } from '../helpers/cli.ts';
import { freshDatabase, type TestDb } from '../helpers/db.ts';

let t: TestDb;
const FP = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';

beforeAll(async () => {
  t = await freshDatabase('cli_devices');
});
afterAll(async () => t?.close());

interface DeviceJson {
  name: string; host: string; port: number; adapter: string; transport: string; user: string | null; key: string | null;
  host_key: string | null; applies_to: string; enabled: boolean; applied: number; pending: number; failed: number;
}

describe('ipms devices', () => {
  it('adds devices without contacting them, and lists them in both forms', async () => {
    const a = await ipms(t.url, 'devices', 'add', 'edge', '--adapter', 'nftables', '--host', '192.0.2.1', '--user', 'ipms',
      '--key', '/etc/ipms/keys/edge', '--host-key', FP, '--applies-to', 'external', '--sudo');
    expect([a.code, a.out]).toEqual([0, 'device edge: added']);
    // several devices may share a host
    expect((await ipms(t.url, 'devices', 'add', 'edge-v6', '--adapter', 'iptables', '--host', '192.0.2.1', '--user', 'ipms',
      '--key', '/etc/ipms/keys/edge', '--host-key', FP)).code).toBe(0);
    expect((await ipms(t.url, 'devices', 'add', 'lab', '--adapter', 'ipset', '--transport', 'dry-run', '--host', 'fw.lab.example')).code).toBe(0);

    const list = (await ipms(t.url, 'devices', 'list', '--json')).json<DeviceJson[]>();
    expect(list.map((d) => d.name)).toEqual(['edge', 'edge-v6', 'lab']);
    expect(list[0]).toMatchObject({
      host: '192.0.2.1', port: 22, adapter: 'nftables', transport: 'ssh', user: 'ipms', key: '/etc/ipms/keys/edge',
      host_key: FP, applies_to: 'external', enabled: true, applied: 0, pending: 0, failed: 0,
    });
    expect(list[2]).toMatchObject({ host: 'fw.lab.example', transport: 'dry-run', applies_to: 'any', sudo: false });
    expect(list[0]).toMatchObject({ sudo: true });
    const table = (await ipms(t.url, 'devices', 'list')).out.split('\n');
    expect(table[0]).toMatch(/^NAME\s+ADAPTER\s+TRANSPORT\s+HOST\s+TAKES\s+ENABLED\s+APPLIED\s+PENDING\s+FAILED\s+LAST ERROR$/i);
    expect(table[1]).toMatch(/^edge\s+nftables\s+ssh\s+192\.0\.2\.1:22\s+external\s+yes\s+0\s+0\s+0/);

    const show = await ipms(t.url, 'devices', 'show', 'edge', '--json');
    expect(show.json()).toMatchObject({ name: 'edge', host_key: FP, busy: null });
    expect((await ipms(t.url, 'devices', 'show', 'nope')).code).toBe(4);
  });

  it('refuses bad input with one line, exit 2, and stores nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['--adapter', 'juniper'], /--adapter/],
      [['--adapter', 'nftables', '--transport', 'telnet'], /--transport/],
      [['--adapter', 'nftables', '--user', 'ipms', '--key', '/k'], /--host-key SHA256:\.\.\. is needed/],
      [['--adapter', 'nftables', '--user', 'ipms', '--key', '/k', '--host-key', 'MD5:aa:bb'], /--host-key: 'MD5:aa:bb' is not an OpenSSH SHA256/],
      // an SSH device on 127.0.0.1 by default would be this host, not the firewall
      [['--adapter', 'nftables', '--user', 'ipms', '--key', '/k', '--host-key', FP], /--host is needed with --transport ssh/],
      [['--adapter', 'nftables', '--user', 'ipms', '--key', 'relative/key', '--host-key', FP], /--key: give an absolute path/],
      [['--adapter', 'nftables', '--user', 'root; reboot', '--key', '/k', '--host-key', FP], /--user: 'root; reboot' is not a user name/],
      [['--adapter', 'nftables', '--transport', 'dry-run', '--host', 'fw;rm -rf /'], /--host: 'fw;rm -rf \/' is neither an IP address nor a host name/],
      [['--adapter', 'nftables', '--transport', 'dry-run', '--port', '70000'], /--port/],
      [['--adapter', 'nftables', '--transport', 'dry-run', '--applies-to', 'everyone'], /--applies-to/],
      [['--adapter', 'nftables', '--transport', 'dry-run', '--option', 'table=ipms; flush ruleset'], /--option: .* must be key=value/],
      [['--adapter', 'cisco-ios', '--transport', 'dry-run', '--sudo'], /--sudo: cisco-ios is configured through its own CLI/],
    ];
    for (const [args, msg] of cases) {
      const r = await ipms(t.url, 'devices', 'add', 'bad', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(msg);
      expect(r.err.split('\n')).toHaveLength(1);
    }
    expect((await ipms(t.url, 'devices', 'add', 'bad name', '--adapter', 'nftables', '--transport', 'dry-run')).code).toBe(2);
    expect((await ipms(t.url, 'devices', 'add', 'lab', '--adapter', 'nftables', '--transport', 'dry-run')).code).toBe(5);
    const names = (await ipms(t.url, 'devices', 'list', '--json')).json<DeviceJson[]>().map((d) => d.name);
    expect(names).not.toContain('bad');
  });

  it('changes how a device is reached, its pin, scope and options; refuses what would not work', async () => {
    const NEW_FP = 'SHA256:7cBhPc0ZEDQgRfiF5j6GmK/VsjDv7Dk1fxWwRxc5xWk';
    const r = await ipms(t.url, 'devices', 'set', 'edge', '--host-key', NEW_FP, '--port', '2222', '--no-sudo', '--option', 'table=ipms_fw');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`device edge: port, host_key ${NEW_FP}, sudo, options changed`);
    // (it holds no rules: nothing to send again)
    expect(r.err).toBe('');
    expect((await ipms(t.url, 'devices', 'show', 'edge', '--json')).json()).toMatchObject({ port: 2222, host_key: NEW_FP, sudo: false, options: '{"table":"ipms_fw"}' });
    // a dry-run device going live must say how to log in
    const live = await ipms(t.url, 'devices', 'set', 'lab', '--transport', 'ssh');
    expect([live.code, live.err]).toEqual([2, 'ipms: --user is needed with --transport ssh']);
    const cases: [string[], RegExp][] = [
      [['edge'], /say what to change/],
      [['edge', '--host-key', 'SHA256:short'], /--host-key: 'SHA256:short' is not an OpenSSH SHA256/],
      [['edge', '--option', 'tabel=fw'], /nftables options: unknown key 'tabel'/],
      [['edge', '--applies-to', 'some'], /--applies-to/],
    ];
    for (const [args, msg] of cases) {
      const x = await ipms(t.url, 'devices', 'set', ...args);
      expect([x.code, x.err.split('\n').length], args.join(' ')).toEqual([2, 1]);
      expect(x.err).toMatch(msg);
    }
    expect((await ipms(t.url, 'devices', 'set', 'nope', '--port', '22')).code).toBe(4);
    // unknown adapter options are refused at add time too
    expect((await ipms(t.url, 'devices', 'add', 'typo', '--adapter', 'ipset', '--transport', 'dry-run', '--option', 'maxelm=5')).err)
      .toMatch(/ipset options: unknown key 'maxelm'/);
    expect((await ipms(t.url, 'devices', 'set', 'edge', '--port', '22', '--sudo')).code).toBe(0);
  });

  it('refuses a second device on the same table in the same place, and drops rules over a new management address', async () => {
    const base = ['--adapter', 'nftables', '--host', '192.0.2.9', '--user', 'ipms', '--key', '/etc/ipms/keys/k', '--host-key', FP];
    expect((await ipms(t.url, 'devices', 'add', 'twin-a', ...base)).code).toBe(0);
    const twin = await ipms(t.url, 'devices', 'add', 'twin-b', ...base);
    expect([twin.code, twin.err]).toEqual([5, "ipms: device twin-a already keeps nftables table ipms there: two devices on one table undo each other's rules; give this one its own (--option)"]);
    // every object counts: pf's second table is <table>_reject
    const pf = ['--adapter', 'pf', '--host', '192.0.2.9', '--user', 'ipms', '--key', '/etc/ipms/keys/k', '--host-key', FP];
    expect((await ipms(t.url, 'devices', 'add', 'pf-a', ...pf, '--option', 'table=ipmsx')).code).toBe(0);
    expect((await ipms(t.url, 'devices', 'add', 'pf-b', ...pf, '--option', 'anchor=ipmsb', '--option', 'table=ipmsx_reject')).err)
      .toMatch(/already keeps pf table ipmsx_reject there/);
    // and its anchor: setup loads the anchor's rules whole
    expect((await ipms(t.url, 'devices', 'add', 'pf-b', ...pf, '--option', 'table=ipmsy')).err).toMatch(/already keeps pf anchor ipms there/);
    expect((await ipms(t.url, 'devices', 'remove', 'pf-a')).code).toBe(0);
    expect((await ipms(t.url, 'devices', 'add', 'twin-b', ...base, '--option', 'table=ipms2')).code).toBe(0);
    expect((await ipms(t.url, 'devices', 'set', 'twin-b', '--option', 'table=ipms')).code).toBe(5);
    // a disabled device writes nothing; it is checked again when enabled
    expect((await ipms(t.url, 'devices', 'disable', 'twin-b')).code).toBe(0);
    expect((await ipms(t.url, 'devices', 'set', 'twin-b', '--option', 'table=ipms')).code).toBe(0);
    expect((await ipms(t.url, 'devices', 'enable', 'twin-b')).err).toMatch(/already keeps nftables table ipms/);
    expect((await ipms(t.url, 'devices', 'set', 'twin-b', '--option', 'table=ipms2')).code).toBe(0);
    expect((await ipms(t.url, 'devices', 'enable', 'twin-b')).code).toBe(0);
    // a foreign table is refused outright: ipms rewrites the chains of its table
    expect((await ipms(t.url, 'devices', 'set', 'twin-b', '--option', 'table=filter')).err).toMatch(/'filter' is a table other software keeps/);
    // the admin's own objects: ipms rewrites what it owns whole
    expect((await ipms(t.url, 'devices', 'set', 'twin-b', '--option', 'table=fw')).err).toBe("ipms: nftables: table fw must start with 'ipms': ipms rewrites what it owns whole, and would overwrite an object of that name");
    for (const [adapter, opt] of [['cisco-ios', 'acl=OUTSIDE-IN'], ['pf', 'table=bruteforce'], ['ipset', 'set=blocklist'], ['routeros', 'list=blacklist']]) {
      const r = await ipms(t.url, 'devices', 'add', `theirs-${adapter}`, '--adapter', adapter!, '--transport', 'dry-run', '--option', opt!);
      expect([r.code, r.err], opt).toEqual([2, expect.stringMatching(/must start with 'ipms'/)]);
    }

    await t.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('198.18.0.0'), 16, 'manual')");
    const moved = await ipms(t.url, 'devices', 'set', 'twin-b', '--host', '198.18.4.4');
    expect(moved.code).toBe(0);
    expect(moved.out.split('\n')[1]).toMatch(/^rule \d+ \(198\.18\.0\.0\/16\): dropped, 198\.18\.4\.4 is device twin-b's management address$/);
    expect((await t.db.rows<{ status: string }>("SELECT status FROM Rule WHERE src_ip = INET6_ATON('198.18.0.0')"))[0]!.status).toBe('dropped');
    for (const n of ['twin-a', 'twin-b']) expect((await ipms(t.url, 'devices', 'remove', n, '--leave-rules')).code).toBe(0);
    await t.db.exec("DELETE FROM Rule WHERE src_ip = INET6_ATON('198.18.0.0')");
  });

  it('a disabled device gets nothing new; enabled again, it gets the open rules', async () => {
    expect((await ipms(t.url, 'devices', 'disable', 'lab')).out).toBe('device lab: disabled');
    const add = await ipms(t.url, 'rules', 'add', '198.51.100.9', '--json');
    expect(add.code, add.err).toBe(0);
    const id = add.json<{ id: number }>().id;
    const devicesOf = async () => (await ipms(t.url, 'rules', 'show', String(id), '--json')).json<{ devices: { device: string }[] }>().devices.map((d) => d.device);
    expect(await devicesOf()).toEqual(['edge', 'edge-v6']);
    expect((await ipms(t.url, 'devices', 'enable', 'lab')).out).toBe('device lab: enabled');
    expect(await devicesOf()).toEqual(['edge', 'edge-v6', 'lab']);
  });

  it('lists devices also when a hand edit left one with options that are not JSON', async () => {
    expect((await ipms(t.url, 'devices', 'add', 'mangled', '--adapter', 'nftables', '--transport', 'dry-run')).code).toBe(0);
    await t.db.exec("UPDATE Device SET options = '{not json' WHERE name = 'mangled'");
    const list = await ipms(t.url, 'devices', 'list', '--json');
    expect(list.code, list.err).toBe(0);
    expect(list.json<{ name: string; options: unknown }[]>().find((d) => d.name === 'mangled')!.options).toBeNull();
    expect((await ipms(t.url, 'devices', 'list')).code).toBe(0);
    const set = await ipms(t.url, 'devices', 'set', 'mangled', '--option', 'table=ipms_m');
    expect([set.code, set.err]).toEqual([2, expect.stringMatching(/options in the database are not a JSON object/)]);
    expect((await ipms(t.url, 'devices', 'remove', 'mangled')).code).toBe(0);
  });

  it('devices set of where rules land (address, transport, table) sends what was recorded as applied again', async () => {
    expect((await ipms(t.url, 'devices', 'add', 'mover', '--adapter', 'nftables', '--transport', 'dry-run')).code).toBe(0);
    const rule = (await ipms(t.url, 'rules', 'add', '198.18.30.1', '--device', 'mover', '--json')).json<{ id: number }>();
    // (it also takes the open rules of earlier tests)
    const first = await ipms(t.url, 'apply', '--once', '--device', 'mover');
    const n = Number(/mover: (\d+) applied, 0 removed, 0 failed/.exec(first.out)?.[1]);
    expect(n).toBeGreaterThanOrEqual(1);
    // a key or a user is the same device, and so is an option that names no object: nothing to send again
    expect((await ipms(t.url, 'devices', 'set', 'mover', '--user', 'ipms')).out).toBe('device mover: username changed');
    expect((await ipms(t.url, 'devices', 'set', 'mover', '--option', 'table=ipms')).out).toBe('device mover: options changed');
    const moved = await ipms(t.url, 'devices', 'set', 'mover', '--option', 'table=ipms_moved');
    expect([moved.code, moved.out]).toEqual([0, `device mover: options changed\ndevice mover: ${n} rule(s) recorded as applied go to it again (its options changed)`]);
    const [rd] = await t.db.rows<{ state: string }>('SELECT state FROM RuleDevice WHERE rule_id = ?', [rule.id]);
    expect(rd!.state).toBe('pending');
    const again = await ipms(t.url, 'apply', '--once', '--device', 'mover');
    expect(again.out).toMatch(/add element inet ipms_moved drop4 \{\n(\s*\|.*\n)*\s*\|\s*198\.18\.30\.1,?\n/);
    expect(again.out).toContain(`mover: ${n} applied, 0 removed, 0 failed`);
    // a worker's batch in flight (its lease held): the change waits for it, then sends again
    // (and the last look at the old box is forgotten: schema 0017)
    await t.db.exec("UPDATE Device SET claimed_by = 'w-busy', claimed_until = UTC_TIMESTAMP(3) + INTERVAL 1.5 SECOND, looked_at = UTC_TIMESTAMP() - INTERVAL 1 DAY WHERE name = 'mover'");
    const t0 = Date.now();
    const waited = await ipms(t.url, 'devices', 'set', 'mover', '--host', '192.0.2.77');
    expect(waited.out).toMatch(/rule\(s\) recorded as applied go to it again \(its host changed\)/);
    expect(Date.now() - t0).toBeGreaterThan(1000);
    expect((await t.db.rows<{ c: string | null; b: Date | null }>("SELECT claimed_by AS c, looked_at AS b FROM Device WHERE name = 'mover'"))[0]).toEqual({ c: null, b: null });
    // an iptables device switched to the other xtables backend (another kernel ruleset): sent again
    expect((await ipms(t.url, 'devices', 'add', 'xt', '--adapter', 'iptables', '--transport', 'dry-run')).code).toBe(0);
    expect((await ipms(t.url, 'apply', '--once', '--device', 'xt')).code).toBe(0);
    expect((await ipms(t.url, 'devices', 'set', 'xt', '--option', 'backend=legacy')).out).toMatch(/rule\(s\) recorded as applied go to it again \(its options changed\)/);
    expect((await ipms(t.url, 'devices', 'remove', 'xt', '--leave-rules')).code).toBe(0);
    expect((await ipms(t.url, 'rules', 'drop', String(rule.id))).code).toBe(0);
    expect((await ipms(t.url, 'apply', '--once', '--device', 'mover')).code).toBe(0);
    expect((await ipms(t.url, 'devices', 'remove', 'mover', '--leave-rules')).code).toBe(0);
  });

  it('a device with the option ipv6=false takes no IPv6 rule; turned off later, it says the IPv6 entries stay', async () => {
    expect((await ipms(t.url, 'devices', 'add', 'v4box', '--adapter', 'iptables', '--transport', 'dry-run', '--option', 'ipv6=false')).code).toBe(0);
    const added = await ipms(t.url, 'rules', 'add', '2001:db8:99::5');
    expect(added.code).toBe(0);
    const id = Number(/^rule (\d+)/.exec(added.out)?.[1]);
    expect(added.err).toContain(`device v4box (iptables) does not take rule ${id}: IPv6 is turned off for this device (option ipv6)`);
    const rowsOf = () => t.db.rows<{ desired: string; state: string }>("SELECT rd.desired, rd.state FROM RuleDevice rd JOIN Device d ON d.id = rd.device_id WHERE d.name = 'v4box' AND rd.rule_id = ?", [id]);
    expect(await rowsOf()).toEqual([]);
    // (it also takes the open rules of earlier tests)
    expect((await ipms(t.url, 'apply', '--once', '--device', 'v4box')).code).toBe(0);
    // turned on: the open IPv6 rules go there
    expect((await ipms(t.url, 'devices', 'set', 'v4box', '--option', 'ipv6=true')).code).toBe(0);
    expect(await rowsOf()).toEqual([{ desired: 'present', state: 'pending' }]);
    const on = await ipms(t.url, 'apply', '--once', '--device', 'v4box');
    expect(on.code).toBe(0);
    expect(on.out).toContain('2001:db8:99::5');
    // off again: no longer wanted there, and the admin told that the entries ipms put there stay
    const off = await ipms(t.url, 'devices', 'set', 'v4box', '--option', 'ipv6=false');
    expect([off.code, off.out]).toEqual([0, 'device v4box: options changed']);
    expect(off.err).toMatch(/^ipms: device v4box: IPv6 is off: the \d+ IPv6 rule\(s\) ipms put there stay on the device \(ipms no longer touches IPv6 on it\); take them off by hand, or turn ipv6 on again$/);
    expect(await rowsOf()).toEqual([{ desired: 'absent', state: 'pending' }]);
    const done = await ipms(t.url, 'apply', '--once', '--device', 'v4box');
    expect(done.code).toBe(0);
    expect(done.out).not.toContain('ip6tables');
    expect(await rowsOf()).toEqual([{ desired: 'absent', state: 'removed' }]);
    expect((await ipms(t.url, 'rules', 'drop', String(id))).code).toBe(0);
    expect((await ipms(t.url, 'devices', 'remove', 'v4box', '--leave-rules')).code).toBe(0);
  });

  it('devices add says what the administrator does by hand (IOS: bind the ACLs; pf: the anchor line)', async () => {
    const ios = await ipms(t.url, 'devices', 'add', 'edge-ios', '--adapter', 'cisco-ios', '--transport', 'dry-run', '--disabled');
    expect(ios.out).toMatch(/^device edge-ios: added \(disabled\)\ndevice edge-ios: yours to do by hand, once, on the device \(ipms does not; its rules depend on it\):\n/);
    expect(ios.out).toContain('   ip access-group IPMS-IN in\n');
    expect(ios.out).toContain('   ipv6 traffic-filter IPMS6-IN in');
    const pf = await ipms(t.url, 'devices', 'add', 'edge-pf', '--adapter', 'pf', '--transport', 'dry-run', '--option', 'anchor=ipms_edge', '--disabled');
    expect(pf.out).toContain('  anchor "ipms_edge"');
    const nft = await ipms(t.url, 'devices', 'add', 'edge-nft', '--adapter', 'nftables', '--transport', 'dry-run', '--disabled');
    expect(nft.out).toBe('device edge-nft: added (disabled)');
    for (const d of ['edge-ios', 'edge-pf', 'edge-nft']) expect((await ipms(t.url, 'devices', 'remove', d)).code).toBe(0);
  });

  it('devices test: a device it cannot reach is a failed test (exit 1), said as such', async () => {
    expect((await ipms(t.url, 'devices', 'add', 'far', '--adapter', 'nftables', '--host', '127.0.0.1', '--port', '1', '--user', 'root',
      '--key', '/nonexistent/ipms-key', '--host-key', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).code).toBe(0);
    const r = await ipms(t.url, 'devices', 'test', 'far');
    expect([r.code, r.err]).toEqual([1, expect.stringMatching(/^ipms: device far: .*\/nonexistent\/ipms-key/)]);
    expect(r.err).not.toMatch(/unexpected/);
    expect((await ipms(t.url, 'devices', 'remove', 'far')).code).toBe(0);
    // a dry-run device is not said to be connected
    expect((await ipms(t.url, 'devices', 'add', 'dry', '--adapter', 'nftables', '--transport', 'dry-run')).code).toBe(0);
    const dry = await ipms(t.url, 'devices', 'test', 'dry');
    expect([dry.code, dry.out]).toEqual([0, 'device dry: dry-run transport: nothing is contacted (its batches are printed, and recorded as applied)']);
    expect((await ipms(t.url, 'devices', 'remove', 'dry')).code).toBe(0);
  });

  it('devices test on pf: pf disabled is a failed test; a main ruleset that does not call the anchor is said', async () => {
    // pf cannot run here (no BSD kernel): a fake pfctl, first on PATH, prints what the real one
    // prints for these reads (`-s info`'s status line, `-s rules`'s anchor line)
    const dir = mkdtempSync(join(tmpdir(), 'ipms-fakepf-'));
    writeFileSync(join(dir, 'pfctl'), '#!/bin/sh\nd=$(dirname "$0")\ncase "$*" in\n  "-s info") cat "$d/info" ;;\n  "-s rules") cat "$d/rules" ;;\n' +
      '  "-a ipms -s rules") echo "block drop in quick from <ipms> to any" ;;\nesac\n', { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path}`;
    try {
      expect((await ipms(t.url, 'devices', 'add', 'pfbox', '--adapter', 'pf', '--transport', 'local')).code).toBe(0);
      writeFileSync(join(dir, 'info'), 'Status: Enabled for 0 days 00:01:02           Debug: Urgent\n');
      writeFileSync(join(dir, 'rules'), 'block drop in all\nanchor "ipms" all\npass out all flags S/SA\n');
      const ok = await ipms(t.url, 'devices', 'test', 'pfbox');
      expect([ok.code, ok.err]).toEqual([0, '']);
      expect(ok.out).toMatch(/^device pfbox: connected \(host key not used\); Status: Enabled/);
      writeFileSync(join(dir, 'rules'), 'block drop in all\npass out all flags S/SA\n');
      const unhooked = await ipms(t.url, 'devices', 'test', 'pfbox');
      expect([unhooked.code, unhooked.err]).toEqual([0, 'ipms: device pfbox: pf\'s main ruleset does not call anchor "ipms" (pfctl -s rules): unless another anchor calls it, nothing ipms puts there blocks; add the line below to pf.conf']);
      expect(unhooked.out).toContain('  anchor "ipms"');
      writeFileSync(join(dir, 'info'), 'Status: Disabled for 0 days 00:00:09           Debug: Urgent\n');
      const off = await ipms(t.url, 'devices', 'test', 'pfbox');
      expect(off.code).toBe(1);
      expect(off.err).toMatch(/ipms: device pfbox: pf is disabled \(pfctl -e.*\): nothing ipms puts there blocks$/);
      expect((await ipms(t.url, 'devices', 'remove', 'pfbox')).code).toBe(0);
    } finally {
      process.env.PATH = path;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps a device, with its rules wanted there, when taking them off fails', async () => {
    // pf through the local transport: pfctl does not exist on this machine, so every command
    // fails (nothing is changed anywhere); it stands for a device that cannot be reached
    expect((await ipms(t.url, 'devices', 'add', 'pfbox', '--adapter', 'pf', '--transport', 'local')).code).toBe(0);
    const rule = (await ipms(t.url, 'rules', 'add', '198.18.20.0/24', '--device', 'pfbox', '--json')).json<{ id: number }>();
    await t.db.exec("UPDATE RuleDevice SET state = 'applied', applied_at = UTC_TIMESTAMP(3) WHERE rule_id = ?", [rule.id]);
    const off = await ipms(t.url, 'devices', 'remove', 'pfbox', '--take-off');
    expect(off.code).toBe(1);
    expect(off.err).toMatch(/^ipms: could not take the rules off pfbox: .*; the device is kept with its rules$/);
    expect(await t.db.rows('SELECT rd.desired, rd.state, rd.claimed_by FROM RuleDevice rd WHERE rd.rule_id = ?', [rule.id]))
      .toEqual([{ desired: 'present', state: 'pending', claimed_by: null }]);
    expect((await ipms(t.url, 'devices', 'remove', 'pfbox', '--leave-rules')).code).toBe(0);
    await t.db.exec('DELETE FROM Rule WHERE id = ?', [rule.id]);
  });

  it('removing a device that enforces rules asks what to do with them', async () => {
    const apply = await ipms(t.url, 'apply', '--once', '--device', 'lab');
    expect(apply.code, apply.err).toBe(0);
    expect((await ipms(t.url, 'devices', 'remove', 'lab', '--take-off', '--leave-rules')).err).toBe('ipms: --take-off and --leave-rules: one or the other');
    const refused = await ipms(t.url, 'devices', 'remove', 'lab');
    expect(refused.code).toBe(5);
    expect(refused.err).toBe('ipms: device lab enforces 1 rule(s): pass --take-off to remove them from it first, or --leave-rules');
    // a dry-run device reads nothing back: reconcile says so instead of failing on its output
    const rec = await ipms(t.url, 'devices', 'reconcile', 'lab', '--dry-run');
    expect([rec.code, rec.err]).toEqual([2, 'ipms: device lab uses the dry-run transport, which cannot read what a device enforces; reconcile needs ssh or local']);

    const off = await ipms(t.url, 'devices', 'remove', 'lab', '--take-off');
    expect(off.code, off.err).toBe(0);
    // what it sent: the rule's address deleted from the set
    expect(off.out).toMatch(/\[dry-run lab\] ipset restore -exist\n {2}\| del ipms4 198\.51\.100\.9/);
    // then ipms's own sets, their iptables rules first
    expect(off.out).toMatch(/iptables -w 10 -D INPUT -m set --match-set ipms4 src -j DROP[^]*ipset destroy ipms4/);
    expect(off.out.split('\n').slice(-2)).toEqual([
      "device lab: ipms's objects taken off (set ipms4, set ipms6, set ipms4-reject, set ipms6-reject) (dry run: sent nowhere)", 'device lab: removed']);
    expect((await ipms(t.url, 'devices', 'show', 'lab')).code).toBe(4);

    // a device that enforces nothing yet goes without a question; --leave-rules leaves them
    expect((await ipms(t.url, 'devices', 'remove', 'edge-v6')).code).toBe(0);
    await t.db.exec("UPDATE RuleDevice rd JOIN Device d ON d.id = rd.device_id SET rd.state = 'applied', rd.applied_at = UTC_TIMESTAMP(3) WHERE d.name = 'edge'");
    expect((await ipms(t.url, 'devices', 'remove', 'edge')).code).toBe(5);
    expect((await ipms(t.url, 'devices', 'remove', 'edge', '--leave-rules')).out).toBe('device edge: removed');
    expect((await ipms(t.url, 'devices', 'list', '--json')).json()).toEqual([]);
  });
});
