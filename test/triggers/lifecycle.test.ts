import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { burst, insertHits, rules } from '../helpers/hits.ts';

let t: TestDb;

interface RdRow {
  rule_id: number;
  device: string;
  desired: string;
  state: string;
  version: number;
}

async function deviceRows(ruleId?: number): Promise<RdRow[]> {
  return t.db.rows<RdRow>(
    `SELECT rd.rule_id, d.name AS device, rd.desired, rd.state, rd.version
     FROM RuleDevice rd JOIN Device d ON d.id = rd.device_id
     ${ruleId === undefined ? '' : 'WHERE rd.rule_id = ?'} ORDER BY rd.rule_id, d.name`,
    ruleId === undefined ? [] : [ruleId],
  );
}

async function status(id: number): Promise<string> {
  const [r] = await t.db.rows<{ status: string }>('SELECT status FROM Rule WHERE id = ?', [id]);
  return r!.status;
}

beforeAll(async () => {
  t = await freshDatabase('lifecycle');
  await t.db.exec("INSERT INTO Sensor (name) VALUES ('s1')");
});
afterAll(async () => t.close());
beforeEach(async () => {
  await t.db.exec('DELETE FROM RuleDevice');
  await t.db.exec('DELETE FROM Rule');
  await t.db.exec('DELETE FROM Device');
  await t.db.exec('DELETE FROM Whitelist');
  await t.db.exec('DELETE FROM Blacklist');
  await t.db.exec('DELETE FROM ThresholdCounter');
});

async function addDevices(): Promise<void> {
  await t.db.exec(`INSERT INTO Device (name, host, adapter, transport, applies_to, enabled) VALUES
    ('border', 'fw.example.net', 'nftables', 'dry-run', 'external', 1),
    ('core', 'core.example.net', 'iptables', 'dry-run', 'internal', 1),
    ('all', 'all.example.net', 'ipset', 'dry-run', 'any', 1),
    ('off', 'off.example.net', 'pf', 'dry-run', 'any', 0)`);
}

describe('which devices get a rule', () => {
  it('gives a rule to every enabled device that takes its scope, for every origin', async () => {
    await addDevices();
    await insertHits(t.db, burst(50, { ts: '2026-02-01 10:00:00', src: '203.0.113.1' }));
    await insertHits(t.db, burst(50, { ts: '2026-02-01 10:00:00', src: '10.9.8.7' }));
    await t.db.exec("INSERT INTO Blacklist (cidr) VALUES ('198.51.100.0/24')");
    await t.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('2001:db8:77::'), 48, 'manual')");
    const got = await t.db.rows<{ src: string; scope: string; devices: string }>(
      `SELECT v.src, v.scope, GROUP_CONCAT(d.name ORDER BY d.name) AS devices
       FROM RuleView v JOIN RuleDevice rd ON rd.rule_id = v.id JOIN Device d ON d.id = rd.device_id
       GROUP BY v.id, v.src, v.scope ORDER BY v.id`,
    );
    expect(got).toEqual([
      { src: '203.0.113.1', scope: 'external', devices: 'all,border' },
      { src: '10.9.8.7', scope: 'internal', devices: 'all,core' },
      { src: '198.51.100.0/24', scope: 'external', devices: 'all,border' },
      { src: '2001:db8:77::/48', scope: 'external', devices: 'all,border' },
    ]);
  });

  it('gives a rule with a destination, protocol or port only to devices that can carry it (not ipset, pf, RouterOS)', async () => {
    await addDevices();
    await t.db.exec("INSERT INTO Rule (src_ip, proto, dst_port, origin) VALUES (INET6_ATON('203.0.113.41'), 'tcp', 22, 'manual')");
    await t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('203.0.113.42'), 'manual')");
    const [port, plain] = await rules(t.db);
    const devicesOf = async (id: number) => (await deviceRows(id)).map((x) => x.device);
    expect([await devicesOf(port!.id), await devicesOf(plain!.id)]).toEqual([['border'], ['all', 'border']]);
    // active once the device that can carry it has it
    await t.db.exec("UPDATE RuleDevice SET state = 'applied', applied_at = UTC_TIMESTAMP(3) WHERE rule_id = ?", [port!.id]);
    expect(await status(port!.id)).toBe('active');
    // a source-only device added or enabled later neither takes it nor holds it back
    await t.db.exec("UPDATE Device SET enabled = 1 WHERE name = 'off'");
    await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('ros', 'ros.example.net', 'routeros', 'dry-run')");
    expect(await devicesOf(port!.id)).toEqual(['border']);
    expect(await status(port!.id)).toBe('active');
    expect(await devicesOf(plain!.id)).toEqual(['all', 'border', 'off', 'ros']);
    // nor when the rule is closed and opened again
    await t.db.exec("UPDATE Rule SET status = 'disabled' WHERE id = ?", [port!.id]);
    await t.db.exec("UPDATE Rule SET status = 'pending' WHERE id = ?", [port!.id]);
    expect(await devicesOf(port!.id)).toEqual(['border']);
    // a rule for all traffic, off every device, edited to a port and opened again: the rows the
    // source-only devices had stay off, also when such a device is disabled and enabled again
    await t.db.exec("UPDATE RuleDevice SET state = 'applied', applied_at = UTC_TIMESTAMP(3) WHERE rule_id = ?", [plain!.id]);
    await t.db.exec("UPDATE Rule SET status = 'dropped' WHERE id = ?", [plain!.id]);
    await t.db.exec("UPDATE RuleDevice SET state = 'removed', removed_at = UTC_TIMESTAMP(3) WHERE rule_id = ?", [plain!.id]);
    await t.db.exec("UPDATE Rule SET proto = 'tcp', dst_port = 22, status = 'pending' WHERE id = ?", [plain!.id]);
    const wanted = async (id: number) => (await deviceRows(id)).filter((x) => x.desired === 'present').map((x) => x.device);
    expect(await wanted(plain!.id)).toEqual(['border']);
    await t.db.exec("UPDATE Device SET enabled = 0 WHERE name = 'all'");
    await t.db.exec("UPDATE Device SET enabled = 1 WHERE name = 'all'");
    expect(await wanted(plain!.id)).toEqual(['border']);
    // an open port rule that only source-only devices would take (none has it) edited to all
    // traffic: they get it now
    await t.db.exec("UPDATE Device SET enabled = 0 WHERE name IN ('border', 'core')");
    await t.db.exec("INSERT INTO Rule (src_ip, proto, dst_port, origin) VALUES (INET6_ATON('203.0.113.43'), 'tcp', 22, 'manual')");
    const [, , only] = await rules(t.db);
    expect(await devicesOf(only!.id)).toEqual([]);
    await t.db.exec("UPDATE Rule SET proto = NULL, dst_port = NULL WHERE id = ?", [only!.id]);
    expect(await wanted(only!.id)).toEqual(['all', 'off', 'ros']);
    // RuleView counts the devices that should hold a rule, not the rows of those that do not
    expect(await t.db.rows('SELECT devices, devices_applied FROM RuleView WHERE id IN (?, ?) ORDER BY id', [plain!.id, only!.id])).toEqual([{ devices: 0, devices_applied: 0 }, { devices: 3, devices_applied: 0 }]);
  });

  it('fills in open rules when a device is added or enabled, and takes them off when it narrows', async () => {
    await insertHits(t.db, burst(50, { ts: '2026-02-01 10:00:00', src: '203.0.113.2' }));
    const [r] = await rules(t.db);
    expect(await deviceRows(r!.id)).toEqual([]);
    await addDevices();
    expect((await deviceRows(r!.id)).map((x) => x.device)).toEqual(['all', 'border']);
    await t.db.exec("UPDATE Device SET enabled = 1 WHERE name = 'off'");
    expect((await deviceRows(r!.id)).map((x) => x.device)).toEqual(['all', 'border', 'off']);
    const onAll = async () => (await deviceRows(r!.id)).find((x) => x.device === 'all');
    // narrowed before it got the rule: the worker takes it off (a failed batch may have put it
    // there), and the rule, which waited only for it, is active on the devices that hold it
    await t.db.exec("UPDATE RuleDevice rd JOIN Device d ON d.id = rd.device_id SET rd.state = 'applied', rd.applied_at = UTC_TIMESTAMP(3) WHERE rd.rule_id = ? AND d.name <> 'all'", [r!.id]);
    expect(await status(r!.id)).toBe('pending');
    await t.db.exec("UPDATE Device SET applies_to = 'internal' WHERE name = 'all'");
    expect(await onAll()).toMatchObject({ desired: 'absent', state: 'pending' });
    expect(await status(r!.id)).toBe('active');
    // widened again: wanted there again, and the active rule pending until it is
    await t.db.exec("UPDATE Device SET applies_to = 'any' WHERE name = 'all'");
    expect(await onAll()).toMatchObject({ desired: 'present', state: 'pending' });
    expect(await status(r!.id)).toBe('pending');
    await t.db.exec("UPDATE RuleDevice SET state = 'applied', applied_at = UTC_TIMESTAMP(3) WHERE rule_id = ?", [r!.id]);
    expect(await status(r!.id)).toBe('active');
    // narrowed while it holds the rule: the worker takes it off; the rule stays active
    await t.db.exec("UPDATE Device SET applies_to = 'internal' WHERE name = 'all'");
    expect(await onAll()).toMatchObject({ desired: 'absent', state: 'pending' });
    expect(await status(r!.id)).toBe('active');
    // taken off, then widened again: wanted there again, and the active rule pending until it is
    await t.db.exec("UPDATE RuleDevice SET state = 'removed', removed_at = UTC_TIMESTAMP(3) WHERE rule_id = ? AND desired = 'absent'", [r!.id]);
    await t.db.exec("UPDATE Device SET applies_to = 'any' WHERE name = 'all'");
    expect(await onAll()).toMatchObject({ desired: 'present', state: 'pending' });
    expect(await status(r!.id)).toBe('pending');
  });

  it('gives no IPv6 rule to a device whose adapter option ipv6 is false, and follows that option when it changes', async () => {
    await t.db.exec(`INSERT INTO Device (name, host, adapter, transport, applies_to, options) VALUES
      ('border', 'fw.example.net', 'nftables', 'dry-run', 'any', NULL),
      ('v4only', 'v4.example.net', 'iptables', 'dry-run', 'any', '{"ipv6": false}'),
      ('ros', 'ros.example.net', 'routeros', 'dry-run', 'any', '{"list": "ipms", "ipv6": true}'),
      ('odd', 'odd.example.net', 'ipset', 'dry-run', 'any', 'not json')`);
    expect(await t.db.rows('SELECT name, ipv6 FROM Device ORDER BY name')).toEqual([
      { name: 'border', ipv6: 1 }, { name: 'odd', ipv6: 1 }, { name: 'ros', ipv6: 1 }, { name: 'v4only', ipv6: 0 }]);
    await insertHits(t.db, burst(50, { ts: '2026-02-01 10:00:00', src: '2001:db8:5::7' }));
    await insertHits(t.db, burst(50, { ts: '2026-02-01 10:00:00', src: '203.0.113.9' }));
    await t.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('2001:db8:6::'), 48, 'manual')");
    const [six, four, manual6] = await rules(t.db);
    const devicesOf = async (id: number) => (await deviceRows(id)).filter((x) => x.desired === 'present').map((x) => x.device);
    expect(await devicesOf(six!.id)).toEqual(['border', 'odd', 'ros']);
    expect(await devicesOf(four!.id)).toEqual(['border', 'odd', 'ros', 'v4only']);
    expect(await devicesOf(manual6!.id)).toEqual(['border', 'odd', 'ros']);
    // active once the devices that take it have it
    await t.db.exec("UPDATE RuleDevice SET state = 'applied', applied_at = UTC_TIMESTAMP(3) WHERE rule_id = ?", [six!.id]);
    expect(await status(six!.id)).toBe('active');
    // closed and opened again: still not there
    await t.db.exec("UPDATE Rule SET status = 'disabled' WHERE id = ?", [manual6!.id]);
    await t.db.exec("UPDATE Rule SET status = 'pending' WHERE id = ?", [manual6!.id]);
    expect(await devicesOf(manual6!.id)).toEqual(['border', 'odd', 'ros']);
    // IPv6 turned on (by the CLI, or a DBA's UPDATE of options): the open IPv6 rules go there
    await t.db.exec(`UPDATE Device SET options = '{"ipv6": true}' WHERE name = 'v4only'`);
    expect(await devicesOf(six!.id)).toEqual(['border', 'odd', 'ros', 'v4only']);
    expect(await status(six!.id)).toBe('pending');
    // turned off again before it got them: no longer waited for, the rule active again
    await t.db.exec(`UPDATE Device SET options = '{"ipv6": false}' WHERE name = 'v4only'`);
    expect(await devicesOf(six!.id)).toEqual(['border', 'odd', 'ros']);
    expect((await deviceRows(six!.id)).find((x) => x.device === 'v4only')).toMatchObject({ desired: 'absent', state: 'pending' });
    expect(await status(six!.id)).toBe('active');
    // the IPv4 rule stays wherever IPv6 is turned on or off
    await t.db.exec(`UPDATE Device SET options = '{"list": "ipms", "ipv6": false}' WHERE name = 'ros'`);
    expect(await devicesOf(four!.id)).toEqual(['border', 'odd', 'ros', 'v4only']);
    expect(await devicesOf(six!.id)).toEqual(['border', 'odd']);
    // a rule chosen for that device by hand keeps its row there (it fails visibly: the admin named it)
    await t.db.exec("INSERT INTO Rule (src_ip, origin, targeted) VALUES (INET6_ATON('2001:db8:7::1'), 'manual', 1)");
    const [, , , targeted] = await rules(t.db);
    await t.db.exec("INSERT INTO RuleDevice (rule_id, device_id) SELECT ?, id FROM Device WHERE name = 'v4only'", [targeted!.id]);
    await t.db.exec("UPDATE Rule SET status = 'disabled' WHERE id = ?", [targeted!.id]);
    await t.db.exec("UPDATE Rule SET status = 'pending' WHERE id = ?", [targeted!.id]);
    expect(await devicesOf(targeted!.id)).toEqual(['v4only']);
  });
});

describe('the lifecycle a DBA drives with Rule.status', () => {
  it('turns drop / disable / expire into removals and pending / active back into presence', async () => {
    await addDevices();
    await insertHits(t.db, burst(50, { ts: '2026-02-01 11:00:00', src: '203.0.113.3' }));
    const [r] = await rules(t.db);
    const id = r!.id;
    for (const closed of ['dropped', 'disabled', 'expired']) {
      await t.db.exec("UPDATE RuleDevice SET state = 'applied' WHERE rule_id = ?", [id]);
      await t.db.exec('UPDATE Rule SET status = ? WHERE id = ?', [closed, id]);
      expect((await deviceRows(id)).map((x) => [x.desired, x.state])).toEqual([
        ['absent', 'pending'],
        ['absent', 'pending'],
      ]);
      await t.db.exec("UPDATE RuleDevice SET state = 'removed' WHERE rule_id = ?", [id]);
      await t.db.exec("UPDATE Rule SET status = 'pending' WHERE id = ?", [id]);
      expect((await deviceRows(id)).map((x) => [x.desired, x.state])).toEqual([
        ['present', 'pending'],
        ['present', 'pending'],
      ]);
    }
    // every change of desired bumped the version (3 closes + 3 re-opens)
    expect((await deviceRows(id)).map((x) => x.version)).toEqual([6, 6]);
  });

  it('stops waiting for a device that is disabled before it got a rule, and waits again once it is enabled', async () => {
    await addDevices();
    await t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.51.100.45'), 'manual')");
    const [r] = await rules(t.db);
    await t.db.exec("UPDATE RuleDevice rd JOIN Device d ON d.id = rd.device_id SET rd.state = 'applied', rd.applied_at = UTC_TIMESTAMP(3) WHERE d.name = 'all'");
    expect(await status(r!.id)).toBe('pending');
    await t.db.exec("UPDATE Device SET enabled = 0 WHERE name = 'border'");
    expect(await status(r!.id)).toBe('active');
    expect((await deviceRows(r!.id)).map((x) => [x.device, x.desired, x.state])).toEqual([['all', 'present', 'applied'], ['border', 'absent', 'removed']]);
    await t.db.exec("UPDATE Device SET enabled = 1 WHERE name = 'border'");
    expect(await status(r!.id)).toBe('pending');
    expect((await deviceRows(r!.id)).map((x) => [x.device, x.desired, x.state])).toEqual([['all', 'present', 'applied'], ['border', 'present', 'pending']]);
    // a device that held the rule once and took it off (the rule was closed and re-opened) does not hold it now either
    await t.db.exec(`UPDATE RuleDevice rd JOIN Device d ON d.id = rd.device_id
      SET rd.applied_at = UTC_TIMESTAMP(3) - INTERVAL 2 HOUR, rd.removed_at = UTC_TIMESTAMP(3) - INTERVAL 1 HOUR WHERE d.name = 'border'`);
    await t.db.exec("UPDATE Device SET enabled = 0 WHERE name = 'border'");
    expect(await status(r!.id)).toBe('active');
  });

  it('keeps a rule pending that a DBA sets active (or re-opens as active) before every device has applied it', async () => {
    await addDevices();
    await t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.51.100.48'), 'manual')");
    const [r] = await rules(t.db);
    await t.db.exec("UPDATE Rule SET status = 'active' WHERE id = ?", [r!.id]);
    expect(await status(r!.id)).toBe('pending');
    await t.db.exec("UPDATE RuleDevice SET state = 'applied', applied_at = UTC_TIMESTAMP(3) WHERE rule_id = ?", [r!.id]);
    expect(await status(r!.id)).toBe('active');
    await t.db.exec("UPDATE Rule SET status = 'dropped' WHERE id = ?", [r!.id]);
    await t.db.exec("UPDATE Rule SET status = 'active' WHERE id = ?", [r!.id]);
    expect(await status(r!.id)).toBe('pending');
    expect([...new Set((await deviceRows(r!.id)).map((x) => `${x.desired} ${x.state}`))]).toEqual(['present pending']);
  });

  it('stops waiting for a device that is removed (a DBA\'s DELETE too): its rows go, the rule is active on the devices left', async () => {
    await addDevices();
    await t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.51.100.46'), 'manual')");
    const [r] = await rules(t.db);
    await t.db.exec("UPDATE RuleDevice rd JOIN Device d ON d.id = rd.device_id SET rd.state = 'applied', rd.applied_at = UTC_TIMESTAMP(3) WHERE d.name = 'all'");
    expect(await status(r!.id)).toBe('pending');
    await t.db.exec("DELETE FROM Device WHERE name = 'border'");
    expect(await status(r!.id)).toBe('active');
    expect((await deviceRows(r!.id)).map((x) => x.device)).toEqual(['all']);
    // a rule no device is left to take stays pending (nothing has applied it)
    await t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.51.100.47'), 'manual')");
    const lone = (await rules(t.db)).find((x) => x.src === '198.51.100.47')!;
    await t.db.exec("DELETE FROM Device WHERE name = 'all'");
    expect(await status(lone.id)).toBe('pending');
  });

  it('makes a rule active once every device has applied it', async () => {
    await addDevices();
    await insertHits(t.db, burst(50, { ts: '2026-02-01 12:00:00', src: '203.0.113.4' }));
    const [r] = await rules(t.db);
    const rows = await t.db.rows<{ id: number }>('SELECT id FROM RuleDevice WHERE rule_id = ? ORDER BY id', [r!.id]);
    await t.db.exec("UPDATE RuleDevice SET state = 'applied' WHERE id = ?", [rows[0]!.id]);
    expect(await status(r!.id)).toBe('pending');
    await t.db.exec("UPDATE RuleDevice SET state = 'failed' WHERE id = ?", [rows[1]!.id]);
    expect(await status(r!.id)).toBe('pending');
    await t.db.exec("UPDATE RuleDevice SET state = 'applied' WHERE id = ?", [rows[1]!.id]);
    expect(await status(r!.id)).toBe('active');
    // a new device means the rule is not everywhere any more
    await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('new', 'new.example.net', 'nftables', 'dry-run')");
    expect(await status(r!.id)).toBe('pending');
  });


  it("lets the worker's batch flag (@ipms_batch_record) past for pending -> active only", async () => {
    // the worker sets it while it records a batch (Rule_before_update then skips its column
    // comparisons); left set on a session, it must not let a closing or an edit skip its work
    await addDevices();
    await insertHits(t.db, burst(50, { ts: '2026-02-01 12:10:00', src: '203.0.113.40' }));
    await insertHits(t.db, burst(50, { ts: '2026-02-01 12:10:00', src: '203.0.113.41' }));
    const [a, b] = await rules(t.db);
    await t.db.pinned(async (q) => {
      await q.exec('SET @ipms_batch_record = 1');
      await q.exec("UPDATE Rule SET status = 'active' WHERE id = ?", [a!.id]);
      // closing still takes the rule off every device
      await q.exec("UPDATE Rule SET status = 'expired' WHERE id = ?", [b!.id]);
      // and the traffic of a rule on its way to devices still cannot change
      await expect(q.exec("UPDATE Rule SET src_prefix = 24 WHERE id = ?", [a!.id])).rejects.toThrow(/it is on devices/);
      await q.exec('SET @ipms_batch_record = NULL');
    });
    const [ra] = await t.db.rows<{ status: string; updated: number }>(
      'SELECT status, updated_at IS NOT NULL AS updated FROM Rule WHERE id = ?', [a!.id]);
    expect(ra).toEqual({ status: 'active', updated: 1 });
    expect((await deviceRows(b!.id)).map((x) => x.desired)).toEqual(['absent', 'absent']);
  });
  it('refuses to re-open a rule whose source has been whitelisted since', async () => {
    await insertHits(t.db, burst(50, { ts: '2026-02-01 13:00:00', src: '203.0.113.5' }));
    const [r] = await rules(t.db);
    await t.db.exec("INSERT INTO Whitelist (cidr, comment) VALUES ('203.0.113.0/24', 'friends')");
    expect(await status(r!.id)).toBe('dropped');
    await expect(t.db.exec("UPDATE Rule SET status = 'pending' WHERE id = ?", [r!.id])).rejects.toThrow(
      /protected by whitelist 203\.0\.113\.0\/24/,
    );
  });

  it('drops open rules over an address that becomes protected later: whitelist edit, sensor, honeypot, device', async () => {
    const open = async (src: string) => {
      await t.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON(?), ?, 'manual')", [src, src.includes(':') ? 48 : 24]);
      const [r] = await t.db.rows<{ id: number }>('SELECT id FROM Rule WHERE src_ip = INET6_ATON(?)', [src]);
      return r!.id;
    };
    const reason = async (id: number) =>
      (await t.db.rows<{ status: string; reason: string }>('SELECT status, reason FROM Rule WHERE id = ?', [id]))[0];
    await addDevices();
    const w = await open('198.51.100.0');
    const s = await open('198.51.101.0');
    const h = await open('198.51.102.0');
    const d = await open('2001:db8:5::');
    const other = await open('198.51.103.0');
    await t.db.exec("INSERT INTO Whitelist (cidr, comment) VALUES ('192.0.2.1/32', 'dns')");
    await t.db.exec("UPDATE Whitelist SET cidr = '198.51.100.64/26' WHERE cidr = '192.0.2.1/32'");
    expect(await reason(w)).toEqual({ status: 'dropped', reason: ' [dropped: whitelisted 198.51.100.64/26]' });
    await t.db.exec("UPDATE Sensor SET address = INET6_ATON('198.51.101.9') WHERE name = 's1'");
    expect(await reason(s)).toEqual({ status: 'dropped', reason: ' [dropped: sensor s1]' });
    // a honeypot outside its sensor's approved ranges protects nothing; approving its range does
    await t.db.exec("INSERT INTO VirtHost (sensor_id, address) SELECT id, INET6_ATON('198.51.102.80') FROM Sensor WHERE name = 's1'");
    expect(await status(h)).toBe('pending');
    await t.db.exec("INSERT INTO SensorNet (sensor_id, cidr) SELECT id, '198.51.102.64/27' FROM Sensor WHERE name = 's1'");
    expect(await reason(h)).toEqual({ status: 'dropped', reason: ' [dropped: whitelisted 198.51.102.64/27]' });
    await t.db.exec("UPDATE Device SET host = '2001:db8:5::1' WHERE name = 'border'");
    expect(await reason(d)).toEqual({ status: 'dropped', reason: ' [dropped: device border]' });
    // the drops became removals on the devices; the rule nothing protects stays
    expect(new Set((await deviceRows(d)).map((x) => x.desired))).toEqual(new Set(['absent']));
    expect(await status(other)).toBe('pending');
    await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('edge', '198.51.103.1', 'nftables', 'dry-run')");
    expect(await reason(other)).toEqual({ status: 'dropped', reason: ' [dropped: device edge]' });
    // the widest rule there is (/8) is found from an address far into it
    await t.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('100.0.0.0'), 8, 'manual')");
    const [wide] = await t.db.rows<{ id: number }>("SELECT id FROM Rule WHERE src_ip = INET6_ATON('100.0.0.0')");
    await t.db.exec("UPDATE Device SET host = '100.255.255.254' WHERE name = 'edge'");
    expect(await reason(wide!.id)).toEqual({ status: 'dropped', reason: ' [dropped: device edge]' });
    await t.db.exec('DELETE FROM VirtHost');
    await t.db.exec("UPDATE Sensor SET address = NULL WHERE name = 's1'");
  });

  it("notes the old action on the rows of devices that may hold the rule, for the worker to take that entry off too", async () => {
    await addDevices();
    await t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.51.104.7'), 'manual')");
    const [r] = await t.db.rows<{ id: number }>("SELECT id FROM Rule WHERE src_ip = INET6_ATON('198.51.104.7')");
    const rows = async () => (await t.db.rows<{ device: string; desired: string; state: string; old_action: string | null }>(
      'SELECT d.name AS device, rd.desired, rd.state, rd.old_action FROM RuleDevice rd JOIN Device d ON d.id = rd.device_id WHERE rd.rule_id = ? ORDER BY d.name', [r!.id]));
    // border applied it; all's batch failed (it may have put the entry there all the same:
    // a RouterOS session goes on after a failing line)
    await t.db.exec("UPDATE RuleDevice rd JOIN Device d ON d.id = rd.device_id SET rd.state = 'applied', rd.applied_at = UTC_TIMESTAMP(3) WHERE rd.rule_id = ? AND d.name = 'border'", [r!.id]);
    await t.db.exec("UPDATE RuleDevice rd JOIN Device d ON d.id = rd.device_id SET rd.state = 'failed' WHERE rd.rule_id = ? AND d.name = 'all'", [r!.id]);
    await t.db.exec("UPDATE Rule SET action = 'REJECT' WHERE id = ?", [r!.id]);
    expect(await rows()).toEqual([
      { device: 'all', desired: 'present', state: 'pending', old_action: 'DROP' },
      { device: 'border', desired: 'present', state: 'pending', old_action: 'DROP' },
    ]);
    // a removal under way is sent again, with a new version: one claimed before the change
    // took off the new action's entry only, and must not be recorded as done
    await t.db.exec("UPDATE Rule SET status = 'disabled' WHERE id = ?", [r!.id]);
    const [before] = await t.db.rows<{ version: number }>("SELECT rd.version FROM RuleDevice rd JOIN Device d ON d.id = rd.device_id WHERE rd.rule_id = ? AND d.name = 'border'", [r!.id]);
    await t.db.exec("UPDATE Rule SET action = 'DROP' WHERE id = ?", [r!.id]);
    expect(await t.db.rows("SELECT rd.desired, rd.state, rd.old_action, rd.version FROM RuleDevice rd JOIN Device d ON d.id = rd.device_id WHERE rd.rule_id = ? AND d.name = 'border'", [r!.id]))
      .toEqual([{ desired: 'absent', state: 'pending', old_action: 'REJECT', version: before!.version + 1 }]);
    await t.db.exec("UPDATE Rule SET status = 'pending', action = 'REJECT' WHERE id = ?", [r!.id]);
    // closed and changed back in one statement: the device may now hold it as REJECT or DROP
    // (the worker may have sent the REJECT); its removal takes the other one off too
    await t.db.exec("UPDATE Rule SET action = 'DROP', status = 'dropped' WHERE id = ?", [r!.id]);
    expect((await rows()).find((x) => x.device === 'border')).toEqual({ device: 'border', desired: 'absent', state: 'pending', old_action: 'REJECT' });
    // a row off the device has nothing under any action
    await t.db.exec("UPDATE RuleDevice SET state = 'removed', old_action = NULL WHERE rule_id = ?", [r!.id]);
    await t.db.exec("UPDATE Rule SET action = 'REJECT' WHERE id = ?", [r!.id]);
    expect((await rows()).map((x) => x.old_action)).toEqual([null, null]);
  });

  it('keeps management addresses written in SQL as IPv4-mapped IPv6 in their IPv4 form, and refuses device hosts read two ways', async () => {
    await addDevices();
    await t.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('192.0.2.0'), 24, 'manual')");
    const [covering] = await t.db.rows<{ id: number }>("SELECT id FROM Rule WHERE src_ip = INET6_ATON('192.0.2.0')");
    await t.db.exec("INSERT INTO Sensor (name, address) VALUES ('mapped', INET6_ATON('::ffff:192.0.2.10'))");
    await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('fw-m', '::FFFF:198.18.0.1', 'nftables', 'dry-run')");
    expect(await t.db.rows('SELECT INET6_NTOA(address) AS a FROM Sensor WHERE name = ?', ['mapped'])).toEqual([{ a: '192.0.2.10' }]);
    expect(await t.db.rows('SELECT host FROM Device WHERE name = ?', ['fw-m'])).toEqual([{ host: '198.18.0.1' }]);
    // so every check sees them: the open rule over the sensor is dropped, new ones are refused
    expect(await status(covering!.id)).toBe('dropped');
    for (const a of ['192.0.2.10', '198.18.0.1']) {
      await expect(t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON(?), 'manual')", [a])).rejects.toThrow(/protected by (sensor mapped|device fw-m)/);
    }
    expect(await t.db.rows("SELECT reason, what, first_addr, last_addr FROM ProtectedRange WHERE what IN ('mapped', 'fw-m') ORDER BY what")).toEqual([
      { reason: 'device', what: 'fw-m', first_addr: '198.18.0.1', last_addr: '198.18.0.1' },
      { reason: 'sensor', what: 'mapped', first_addr: '192.0.2.10', last_addr: '192.0.2.10' }]);
    await t.db.exec("UPDATE Sensor SET address = INET6_ATON('::ffff:192.0.2.11') WHERE name = 'mapped'");
    await t.db.exec("UPDATE Device SET host = '::ffff:198.18.0.2' WHERE name = 'fw-m'");
    expect(await t.db.rows("SELECT (SELECT INET6_NTOA(address) FROM Sensor WHERE name = 'mapped') AS s, (SELECT host FROM Device WHERE name = 'fw-m') AS d"))
      .toEqual([{ s: '192.0.2.11', d: '198.18.0.2' }]);
    // a honeypot's address too (a sensor's account could write it so)
    await t.db.exec("INSERT INTO VirtHost (sensor_id, address) SELECT id, INET6_ATON('::ffff:192.0.2.80') FROM Sensor WHERE name = 'mapped'");
    expect(await t.db.rows('SELECT INET6_NTOA(address) AS a FROM VirtHost')).toEqual([{ a: '192.0.2.80' }]);
    // text a resolver reads as another address than the database would, or as an address where
    // the database sees a name, is refused; names are kept in lower case
    for (const host of ['198.051.100.007', '3325256711', '0xc6.0x33.0x64.7', '198.51.25863', 'fw_1.example', 'fw..example', '-fw',
      'fw.example.com\n', ' fw.example.com', '::102:304', '::', '0.0.0.0', '255.255.255.255', '224.0.0.1', 'ff02::1']) {
      await expect(t.db.exec("UPDATE Device SET host = ? WHERE name = 'fw-m'", [host]), host).rejects.toThrow(/Device\.host .*(leading zero|neither an IP address|control character|IPv4-compatible|no device is)/);
    }
    // an adapter or transport the worker does not have is refused; the adapter cannot change
    // under the rules a device has
    await expect(t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('x', 'x.example', 'nft', 'dry-run')")).rejects.toThrow(/Device\.adapter is one of/);
    await expect(t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('x', 'x.example', 'nftables', 'telnet')")).rejects.toThrow(/Device\.transport is one of/);
    await t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.51.104.99'), 'manual')");
    await expect(t.db.exec("UPDATE Device SET adapter = 'ipset' WHERE name = 'border'")).rejects.toThrow(/adapter cannot change while it has rules/);
    await t.db.exec("UPDATE Device SET host = '::1' WHERE name = 'fw-m'");
    await t.db.exec("UPDATE Device SET host = 'FW-1.Example.NET' WHERE name = 'fw-m'");
    expect(await t.db.rows("SELECT host FROM Device WHERE name = 'fw-m'")).toEqual([{ host: 'fw-1.example.net' }]);
    await t.db.exec('DELETE FROM VirtHost');
    await t.db.exec("DELETE FROM Sensor WHERE name = 'mapped'");
  });

  it("protects a sensor's honeypots only inside the ranges approved for that sensor, and whitelists those ranges", async () => {
    await t.db.exec("INSERT INTO Sensor (name) VALUES ('s2')");
    const [s1, s2] = (await t.db.rows<{ id: number }>("SELECT id FROM Sensor WHERE name IN ('s1', 's2') ORDER BY name")).map((r) => r.id);
    const approved = async () => (await t.db.rows<{ a: string; ok: number }>(
      "SELECT INET6_NTOA(address) AS a, approved AS ok FROM VirtHost WHERE address BETWEEN INET6_ATON('203.0.113.0') AND INET6_ATON('203.0.113.255') ORDER BY address",
    )).map((r) => `${r.a}:${r.ok}`);
    const whitelisted = async () => (await t.db.rows<{ cidr: string }>(
      "SELECT cidr FROM Whitelist WHERE created_by = 'ipms-honeypots' AND cidr LIKE '203.0.113.%' ORDER BY first_ip")).map((r) => r.cidr);
    try {
      // a writer's own `approved` is not taken: the triggers derive it
      await t.db.exec("INSERT INTO VirtHost (sensor_id, address, approved) VALUES (?, INET6_ATON('203.0.113.10'), 1), (?, INET6_ATON('203.0.113.20'), 1)", [s1, s1]);
      expect(await approved()).toEqual(['203.0.113.10:0', '203.0.113.20:0']);
      // hits from an unapproved honeypot's address make a rule like any other, and a wide rule
      // over it stays: registering a honeypot drops nothing (a sensor's account registers them)
      await insertHits(t.db, burst(50, { ts: '2026-02-01 12:20:00', src: '203.0.113.10' }));
      const [r] = await rules(t.db);
      expect(r).toBeDefined();
      await t.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('203.0.112.0'), 23, 'manual')");
      const [wide] = await t.db.rows<{ id: number }>("SELECT id FROM Rule WHERE src_prefix = 23");
      await t.db.exec("INSERT INTO VirtHost (sensor_id, address) VALUES (?, INET6_ATON('203.0.113.30'))", [s1]);
      expect(await status(wide!.id)).toBe('pending');
      // a range approved for another sensor approves nothing of s1 (it is protected, though:
      // an approved range is whitelisted, and the rules over it are dropped)
      await t.db.exec("INSERT INTO SensorNet (sensor_id, cidr) VALUES (?, '203.0.113.128/25')", [s2]);
      expect(await approved()).toEqual(['203.0.113.10:0', '203.0.113.20:0', '203.0.113.30:0']);
      expect(await status(wide!.id)).toBe('dropped');
      // s1's ranges: its honeypots in them are approved, the rule over one is dropped, and no
      // rule may cover them any more
      await t.db.exec("INSERT INTO SensorNet (sensor_id, cidr) VALUES (?, '203.0.113.0/28'), (?, '203.0.113.8/29')", [s1, s1]);
      expect(await approved()).toEqual(['203.0.113.10:1', '203.0.113.20:0', '203.0.113.30:0']);
      expect(await whitelisted()).toEqual(['203.0.113.0/28', '203.0.113.8/29', '203.0.113.128/25']);
      expect(await status(r!.id)).toBe('dropped');
      await expect(t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('203.0.113.10'), 'manual')"))
        .rejects.toThrow(/protected by honeypot range 203\.0\.113\.0\/28/);
      // revoking one of two ranges that hold it keeps it approved; revoking both does not
      await t.db.exec("DELETE FROM SensorNet WHERE sensor_id = ? AND cidr = '203.0.113.0/28'", [s1]);
      expect(await approved()).toEqual(['203.0.113.10:1', '203.0.113.20:0', '203.0.113.30:0']);
      // a range edited in place moves the approval and the whitelist entry
      await t.db.exec("UPDATE SensorNet SET cidr = '203.0.113.16/28' WHERE sensor_id = ? AND cidr = '203.0.113.8/29'", [s1]);
      expect(await approved()).toEqual(['203.0.113.10:0', '203.0.113.20:1', '203.0.113.30:1']);
      expect(await whitelisted()).toEqual(['203.0.113.16/28', '203.0.113.128/25']);
      await t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('203.0.113.10'), 'manual')");
      // an admin's own whitelist entry of the same range is not ipms's to remove
      await t.db.exec("INSERT INTO Whitelist (cidr, comment) VALUES ('203.0.113.64/26', 'ours')");
      await t.db.exec("INSERT INTO SensorNet (sensor_id, cidr) VALUES (?, '203.0.113.64/26')", [s1]);
      await t.db.exec("DELETE FROM SensorNet WHERE cidr = '203.0.113.64/26'");
      expect((await t.db.rows("SELECT comment FROM Whitelist WHERE cidr = '203.0.113.64/26'"))).toEqual([{ comment: 'ours' }]);
    } finally {
      await t.db.exec("DELETE FROM VirtHost WHERE address BETWEEN INET6_ATON('203.0.113.0') AND INET6_ATON('203.0.113.255')");
      await t.db.exec("DELETE FROM SensorNet WHERE cidr LIKE '203.0.113.%'");
      await t.db.exec("DELETE FROM Whitelist WHERE cidr LIKE '203.0.113.%'");
      await t.db.exec("DELETE FROM Sensor WHERE name = 's2'");
    }
  });

  it('refuses to change the traffic of a rule a device has or may have, and allows it once it is off', async () => {
    await addDevices();
    await insertHits(t.db, burst(50, { ts: '2026-02-01 13:30:00', src: '203.0.113.6' }));
    const [r] = await rules(t.db);
    await t.db.exec("UPDATE RuleDevice SET state = 'applied' WHERE rule_id = ?", [r!.id]);
    for (const set of ["src_ip = INET6_ATON('203.0.113.66')", 'src_prefix = 24', "dst_ip = INET6_ATON('192.0.2.1')", "proto = 'tcp'"]) {
      await expect(t.db.exec(`UPDATE Rule SET ${set} WHERE id = ?`, [r!.id])).rejects.toThrow(
        new RegExp(`refused to change the traffic of rule ${r!.id}: it is on devices .*drop it and add a new rule`),
      );
    }
    // action and expiry may change: they are put on every device again
    await t.db.exec("UPDATE Rule SET action = 'REJECT' WHERE id = ?", [r!.id]);
    expect((await deviceRows(r!.id)).map((x) => x.state)).toEqual(['pending', 'pending']);
    await t.db.exec("UPDATE Rule SET status = 'dropped' WHERE id = ?", [r!.id]);
    await expect(t.db.exec("UPDATE Rule SET src_prefix = 24 WHERE id = ?", [r!.id])).rejects.toThrow(/it is on devices/);
    await t.db.exec("UPDATE RuleDevice SET state = 'removed' WHERE rule_id = ?", [r!.id]);
    await expect(t.db.exec("UPDATE Rule SET dst_port = 22 WHERE id = ?", [r!.id])).rejects.toThrow(/needs proto tcp/);
    // derived columns written by hand are put back
    await t.db.exec("UPDATE Rule SET src_last = INET6_ATON('203.0.113.255'), scope = 'internal' WHERE id = ?", [r!.id]);
    expect((await t.db.rows('SELECT INET6_NTOA(src_last) AS last, scope FROM Rule WHERE id = ?', [r!.id]))[0]).toEqual({ last: '203.0.113.6', scope: 'external' });
    await t.db.exec("UPDATE Rule SET src_prefix = 24, dst_port = 22, proto = 'TCP', status = 'pending' WHERE id = ?", [r!.id]);
    const [v] = await t.db.rows<{ src: string; dst_port: number; proto: string }>('SELECT src, dst_port, proto FROM RuleView WHERE id = ?', [r!.id]);
    expect(v).toEqual({ src: '203.0.113.0/24', dst_port: 22, proto: 'tcp' });
    // (now with a port: the ipset device, which holds source addresses only, does not take it)
    expect((await deviceRows(r!.id)).map((x) => [x.device, x.desired, x.state])).toEqual([
      ['all', 'absent', 'removed'],
      ['border', 'present', 'pending'],
    ]);
    // a protocol in other letters is another value to the devices: refused while it is on one
    await t.db.exec("UPDATE RuleDevice SET state = 'applied' WHERE rule_id = ?", [r!.id]);
    await expect(t.db.exec("UPDATE Rule SET proto = 'TCP' WHERE id = ?", [r!.id])).rejects.toThrow(/it is on devices/);
  });

  it('moves an open rule to the devices of its new scope when a network is added or removed around it', async () => {
    await addDevices();
    await t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('203.0.113.173'), 'manual')");
    const [r] = await rules(t.db);
    await t.db.exec("UPDATE RuleDevice SET state = 'applied', applied_at = UTC_TIMESTAMP(3) WHERE rule_id = ?", [r!.id]);
    const rows = async () => (await deviceRows(r!.id)).map((x) => [x.device, x.desired, x.state]);
    expect(await rows()).toEqual([['all', 'present', 'applied'], ['border', 'present', 'applied']]);
    await t.db.exec("INSERT INTO Network (cidr, description) VALUES ('203.0.113.0/24', 'our DMZ')");
    const scope = async () => (await t.db.rows<{ scope: string }>('SELECT scope FROM Rule WHERE id = ?', [r!.id]))[0]!.scope;
    expect(await scope()).toBe('internal');
    expect(await rows()).toEqual([['all', 'present', 'applied'], ['border', 'absent', 'pending'], ['core', 'present', 'pending']]);
    // a scope written by hand is put back to what the networks say
    await t.db.exec("UPDATE Rule SET scope = 'external' WHERE id = ?", [r!.id]);
    expect(await scope()).toBe('internal');
    await t.db.exec("DELETE FROM Network WHERE cidr = '203.0.113.0/24'");
    expect(await scope()).toBe('external');
    expect(await rows()).toEqual([['all', 'present', 'applied'], ['border', 'present', 'pending'], ['core', 'absent', 'pending']]);
  });

  it('takes feed entries over a new inside network away, with their rules (feeds never block inside ranges)', async () => {
    await addDevices();
    await t.db.exec("INSERT INTO Blacklist (cidr, source) VALUES ('203.0.115.0/24', 'feed'), ('203.0.116.0/24', 'feed')");
    const [over] = await t.db.rows<{ id: number }>("SELECT id FROM Rule WHERE src_ip = INET6_ATON('203.0.115.0')");
    await t.db.exec("INSERT INTO Network (cidr, description) VALUES ('203.0.115.128/25', 'our dc')");
    expect(await t.db.rows('SELECT cidr FROM Blacklist ORDER BY cidr')).toEqual([{ cidr: '203.0.116.0/24' }]);
    expect(await status(over!.id)).toBe('dropped');
    // no device is given it as an internal rule: every row is on its way off
    expect(new Set((await deviceRows(over!.id)).map((x) => x.desired))).toEqual(new Set(['absent']));
    // a network moved over another entry: the same
    await t.db.exec("UPDATE Network SET cidr = '203.0.116.0/25' WHERE cidr = '203.0.115.128/25'");
    expect(await t.db.rows('SELECT cidr FROM Blacklist')).toEqual([]);
    await t.db.exec("DELETE FROM Network WHERE cidr = '203.0.116.0/25'");
  });

  it('re-opens an edited rule only on the devices that take it now', async () => {
    await addDevices();
    await t.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('198.51.100.0'), 24, 'manual')");
    const [r] = await rules(t.db);
    expect((await deviceRows(r!.id)).map((x) => x.device)).toEqual(['all', 'border']);
    await t.db.exec("UPDATE Rule SET status = 'dropped' WHERE id = ?", [r!.id]);
    await t.db.exec("UPDATE RuleDevice SET state = 'removed' WHERE rule_id = ?", [r!.id]);
    // now an inside range: the external-only border device does not take it
    await t.db.exec("UPDATE Rule SET src_ip = INET6_ATON('10.1.2.0'), status = 'pending' WHERE id = ?", [r!.id]);
    expect((await deviceRows(r!.id)).map((x) => [x.device, x.desired])).toEqual([['all', 'present'], ['border', 'absent'], ['core', 'present']]);
  });

  it('refuses in SQL too a rule wider than /8 (IPv4) or /16 (IPv6), also by widening one', async () => {
    await expect(t.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('0.0.0.0'), 0, 'manual')"))
      .rejects.toThrow(/refused to block 0\.0\.0\.0\/0: wider than \/8/);
    await expect(t.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('2000::'), 3, 'manual')"))
      .rejects.toThrow(/refused to block 2000::\/3: wider than \/16/);
    await t.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('203.0.0.0'), 8, 'manual')");
    await expect(t.db.exec("UPDATE Rule SET src_prefix = 7 WHERE src_ip = INET6_ATON('203.0.0.0')")).rejects.toThrow(/wider than \/8/);
  });

  it('never blocks a range no packet comes from (loopback, 0/8, multicast, broadcast, ::, ::1, ff00::/8) or a link-local one, whoever asks', async () => {
    for (const [src, what] of [['127.0.0.1', 'loopback 127.0.0.0/8'], ['0.0.0.0', 'this network 0.0.0.0/8'], ['224.0.0.251', 'multicast and reserved'],
      ['240.1.2.3', 'multicast and reserved'], ['255.255.255.255', 'the limited broadcast'], ['::', 'the unspecified address'], ['::1', 'loopback ::1'],
      ['ff02::1', 'multicast ff00::/8'], ['fe80::1', 'link-local, never routed fe80::/10'], ['169.254.169.254', 'link-local, never routed 169.254.0.0/16']]) {
      await expect(t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON(?), 'manual')", [src]), src!).rejects.toThrow(new RegExp(`refused to block .*: protected by ${what}`));
    }
    // spoofed hits from them cross no threshold (the insert goes through, no rule is made)
    await insertHits(t.db, burst(60, { ts: '2026-01-01 10:00:00.000', src: '127.0.0.1' }));
    await insertHits(t.db, burst(60, { ts: '2026-01-01 10:00:00.000', src: '224.0.0.251' }));
    // (a host on the sensor's link claiming the router's link-local address)
    await insertHits(t.db, burst(60, { ts: '2026-01-01 10:00:00.000', src: 'fe80::1' }));
    await insertHits(t.db, burst(60, { ts: '2026-01-01 10:00:00.000', src: '198.51.100.250' }));
    expect((await rules(t.db)).map((r) => r.src)).toEqual(['198.51.100.250']);
    // next to them is fine
    await t.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON('126.0.0.0'), 8, 'manual'), (INET6_ATON('223.255.255.0'), 24, 'manual'), (INET6_ATON('::2'), 128, 'manual'), (INET6_ATON('169.253.255.0'), 24, 'manual'), (INET6_ATON('fec0::'), 16, 'manual')");
    // ProtectedRange (why, the worker, the blacklist import) holds them too
    const [lo] = await t.db.rows<{ what: string }>("SELECT what FROM ProtectedRange WHERE reason = 'no-source range' AND first_ip <= INET6_ATON('127.0.0.1') AND last_ip >= INET6_ATON('127.0.0.1')");
    expect(lo).toEqual({ what: 'loopback 127.0.0.0/8' });
  });

  it('refuses to delete a rule a device has or may have, and deletes it once it is off', async () => {
    await addDevices();
    await t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.51.100.44'), 'manual')");
    const [r] = await rules(t.db);
    await expect(t.db.exec('DELETE FROM Rule WHERE id = ?', [r!.id])).rejects.toThrow(/refused to delete rule \d+: a device has it \(or may have it\); drop it first, delete it once off every device$/);
    await t.db.exec("UPDATE RuleDevice SET state = 'applied', applied_at = UTC_TIMESTAMP(3) WHERE rule_id = ?", [r!.id]);
    await t.db.exec("UPDATE Rule SET status = 'dropped' WHERE id = ?", [r!.id]);
    await expect(t.db.exec('DELETE FROM Rule WHERE id = ?', [r!.id])).rejects.toThrow(/refused to delete rule/);
    await t.db.exec("UPDATE RuleDevice SET state = 'removed' WHERE rule_id = ?", [r!.id]);
    await t.db.exec('DELETE FROM Rule WHERE id = ?', [r!.id]);
    expect(await rules(t.db)).toEqual([]);
    expect(await deviceRows()).toEqual([]);
  });

  it('allows one open rule per traffic key, and a new one once the old is closed', async () => {
    const ins = "INSERT INTO Rule (src_ip, dst_port, proto, origin) VALUES (INET6_ATON('198.51.100.9'), NULL, NULL, 'manual')";
    await t.db.exec(ins);
    await expect(t.db.exec(ins)).rejects.toThrow(/Duplicate/);
    await t.db.exec("UPDATE Rule SET status = 'dropped'");
    await t.db.exec(ins);
    expect((await rules(t.db)).map((r) => r.status)).toEqual(['dropped', 'pending']);
  });

  it('leaves the devices untouched when re-opening a rule is refused for an identical open one', async () => {
    await addDevices();
    const ins = "INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.51.100.10'), 'manual')";
    await t.db.exec(ins);
    const [old] = await rules(t.db);
    await t.db.exec("UPDATE Rule SET status = 'dropped' WHERE id = ?", [old!.id]);
    await t.db.exec(ins);
    const before = await deviceRows(old!.id);
    expect(before.map((x) => x.desired)).toEqual(['absent', 'absent']);
    // the device rows are written before the Rule row (one BEFORE UPDATE trigger): the refused
    // row takes them back with it
    await expect(t.db.exec("UPDATE Rule SET status = 'pending' WHERE id = ?", [old!.id])).rejects.toThrow(/Duplicate/);
    expect(await deviceRows(old!.id)).toEqual(before);
    expect(await status(old!.id)).toBe('dropped');
  });
});

describe('sensors', () => {
  it('takes only names the CLI accepts, in SQL too (a sensor account registers its sensor; pages and links show the name)', async () => {
    await t.db.exec("INSERT INTO Sensor (name) VALUES ('dmz-1.hp_2')");
    for (const bad of ['dmz-1\u202elanif', 'x"><b>', 'with space', '-dash', '', 'a'.repeat(63) + '\u00e9', 'abc\n']) {
      await expect(t.db.exec('INSERT INTO Sensor (name) VALUES (?)', [bad])).rejects.toThrow(/sensor name is 1-64 letters, digits/);
    }
    await expect(t.db.exec("UPDATE Sensor SET name = 'caf\u00e9' WHERE name = 'dmz-1.hp_2'")).rejects.toThrow(/sensor name is 1-64/);
    // other changes of a sensor are not held to it
    await t.db.exec("UPDATE Sensor SET description = 'dmz' WHERE name = 'dmz-1.hp_2'");
    await t.db.exec("UPDATE Sensor SET name = 'DMZ-2' WHERE name = 'dmz-1.hp_2'");
    expect(await t.db.rows("SELECT name, description FROM Sensor WHERE name = 'DMZ-2'")).toEqual([{ name: 'DMZ-2', description: 'dmz' }]);
  });
});

describe('whitelist and blacklist', () => {
  it('derives ranges from the cidr text a DBA writes, and rejects bad text', async () => {
    await t.db.exec("INSERT INTO Whitelist (cidr) VALUES ('10.1.2.3/8'), ('2001:DB8::1/33'), ('192.0.2.7')");
    const got = await t.db.rows<{ cidr: string; first: string; last: string; prefix: number }>(
      'SELECT cidr, INET6_NTOA(first_ip) AS first, INET6_NTOA(last_ip) AS last, prefix FROM Whitelist ORDER BY id',
    );
    expect(got).toEqual([
      { cidr: '10.0.0.0/8', first: '10.0.0.0', last: '10.255.255.255', prefix: 8 },
      { cidr: '2001:db8::/33', first: '2001:db8::', last: '2001:db8:7fff:ffff:ffff:ffff:ffff:ffff', prefix: 33 },
      { cidr: '192.0.2.7/32', first: '192.0.2.7', last: '192.0.2.7', prefix: 32 },
    ]);
    await expect(t.db.exec("INSERT INTO Whitelist (cidr) VALUES ('10.0.0.0/33')")).rejects.toThrow(/bad prefix length/);
    await expect(t.db.exec("INSERT INTO Whitelist (cidr) VALUES ('300.1.1.1')")).rejects.toThrow(/not an IP address/);
  });

  it('turns blacklist entries into rules and drops them with the entry', async () => {
    await t.db.exec("INSERT INTO Blacklist (cidr, source, expires_at) VALUES ('192.0.2.0/24', 'feed', '2030-01-01 00:00:00')");
    const [r] = await rules(t.db);
    expect(r).toMatchObject({ src: '192.0.2.0/24', origin: 'blacklist', status: 'pending' });
    expect(r!.expires_at!.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    await t.db.exec("DELETE FROM Blacklist WHERE cidr = '192.0.2.0/24'");
    expect(await status(r!.id)).toBe('dropped');
  });

  it('refuses inside ranges in a blacklist written in SQL, as the import does', async () => {
    for (const [cidr, what] of [['192.168.5.0/24', 'the internal network 192.168.0.0/16'], ['127.0.0.1', 'the internal network 127.0.0.0/8'],
      ['0.0.0.0/8', 'this network 0.0.0.0/8'], ['255.255.255.255', 'the limited broadcast'], ['::/128', 'the unspecified address'],
      ['fd00:1::/32', 'the internal network fc00::/7']]) {
      await expect(t.db.exec('INSERT INTO Blacklist (cidr) VALUES (?)', [cidr]), cidr!).rejects.toThrow(new RegExp(`refused to blacklist .*: it overlaps ${what}`));
    }
    await t.db.exec("INSERT INTO Blacklist (cidr) VALUES ('198.51.100.0/24')");
    await expect(t.db.exec("UPDATE Blacklist SET cidr = '10.1.0.0/16' WHERE cidr = '198.51.100.0/24'")).rejects.toThrow(/internal network 10\.0\.0\.0\/8/);
    expect(await rules(t.db)).toMatchObject([{ src: '198.51.100.0/24' }]);
  });

  it('follows a DBA renewing an entry: new expiry to the devices, a new rule once the old one expired', async () => {
    await addDevices();
    await t.db.exec("INSERT INTO Blacklist (cidr, expires_at) VALUES ('198.51.100.0/24', '2030-01-01 00:00:00')");
    const [r] = await rules(t.db);
    await t.db.exec("UPDATE RuleDevice SET state = 'applied' WHERE rule_id = ?", [r!.id]);
    await t.db.exec("UPDATE Blacklist SET expires_at = '2031-01-01 00:00:00' WHERE cidr = '198.51.100.0/24'");
    const [same] = await rules(t.db);
    expect(same!.id).toBe(r!.id);
    expect(same!.expires_at!.toISOString()).toBe('2031-01-01T00:00:00.000Z');
    expect((await deviceRows(r!.id)).map((x) => [x.device, x.state, x.version])).toEqual([['all', 'pending', 1], ['border', 'pending', 1]]);
    await t.db.exec("UPDATE Rule SET status = 'expired' WHERE id = ?", [r!.id]);
    await t.db.exec("UPDATE Blacklist SET expires_at = '2032-01-01 00:00:00', action = 'REJECT' WHERE cidr = '198.51.100.0/24'");
    const now = await rules(t.db);
    expect(now.map((x) => [x.status, x.action, x.expires_at!.toISOString()]).sort()).toEqual([
      ['expired', 'DROP', '2031-01-01T00:00:00.000Z'], ['pending', 'REJECT', '2032-01-01T00:00:00.000Z'],
    ]);
  });

  it('moves the block with an entry whose range a DBA changes', async () => {
    await t.db.exec("INSERT INTO Blacklist (cidr) VALUES ('203.0.114.5')");
    const [old] = await rules(t.db);
    await t.db.exec("UPDATE Blacklist SET cidr = '203.0.115.0/24' WHERE cidr = '203.0.114.5/32'");
    const now = await rules(t.db);
    expect(now.map((r) => [r.src, r.status]).sort()).toEqual([['203.0.114.5', 'dropped'], ['203.0.115.0/24', 'pending']]);
    // the old rule is no longer the entry's: a renewal makes no second rule for the new range
    const [{ n } = { n: 0 }] = await t.db.rows<{ n: number }>('SELECT COUNT(*) AS n FROM Rule WHERE id = ? AND blacklist_id IS NULL', [old!.id]);
    expect(n).toBe(1);
    await t.db.exec("UPDATE Blacklist SET expires_at = '2031-01-01 00:00:00' WHERE cidr = '203.0.115.0/24'");
    expect((await rules(t.db, "status = 'pending'")).map((r) => [r.src, r.expires_at!.toISOString()])).toEqual([['203.0.115.0/24', '2031-01-01T00:00:00.000Z']]);
  });

  it('refuses a blacklist entry that would block a whitelisted address', async () => {
    await t.db.exec("INSERT INTO Whitelist (cidr, comment) VALUES ('192.0.2.77/32', 'our DNS')");
    await expect(t.db.exec("INSERT INTO Blacklist (cidr) VALUES ('192.0.2.0/24')")).rejects.toThrow(
      /refused to block 192\.0\.2\.0\/24: protected by whitelist 192\.0\.2\.77\/32/,
    );
    expect(await t.db.rows('SELECT * FROM Blacklist')).toEqual([]);
    expect(await rules(t.db)).toEqual([]);
  });
});
