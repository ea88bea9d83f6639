import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { burst, insertHits, rules } from '../helpers/hits.ts';

let t: TestDb;

beforeAll(async () => {
  t = await freshDatabase('threshold');
  await t.db.exec("INSERT INTO Sensor (name) VALUES ('s1'), ('s2')");
});
afterAll(async () => t.close());

// Each test starts from the seeded threshold set and no rules or counters.
beforeEach(async () => {
  await t.db.exec('DELETE FROM RuleDevice');
  await t.db.exec('DELETE FROM Rule');
  await t.db.exec('DELETE FROM ThresholdCounter');
  await t.db.exec('DELETE FROM Whitelist');
  await t.db.exec("DELETE FROM Threshold WHERE name <> 'default'");
  await t.db.exec("UPDATE Threshold SET enabled = 1, max_hits = 50, window_s = 1, group_by = 'src', proto = NULL, dst_port = NULL, sensor_id = NULL, duration_s = NULL, action = 'DROP' WHERE name = 'default'");
});

describe('the SQL contract', () => {
  it('takes the plain inserts a DBA writes, and identical rows', async () => {
    const sql =
      "INSERT INTO SensorLog (sensor_id, ts, proto, src_ip, src_port, dst_ip, dst_port) VALUES (1, '2026-01-01 10:00:00.250', 'tcp', INET6_ATON('203.0.113.7'), 40000, INET6_ATON('192.168.2.1'), 1080)";
    await t.db.exec(sql);
    await t.db.exec(sql);
    const rows = await t.db.rows<{ kind: string; n: number }>(
      "SELECT kind, COUNT(*) AS n FROM SensorLog WHERE src_ip = INET6_ATON('203.0.113.7') AND ts = '2026-01-01 10:00:00.250' GROUP BY kind",
    );
    expect(rows).toEqual([{ kind: 'start', n: 2 }]);
    const [counter] = await t.db.rows<{ hits: number }>(
      "SELECT hits FROM ThresholdCounter WHERE src_ip = INET6_ATON('203.0.113.7')",
    );
    expect(counter?.hits).toBe(2);
  });

  it('keeps event_id unique but nullable', async () => {
    const ins = "INSERT INTO SensorLog (sensor_id, ts, src_ip, dst_ip, event_id) VALUES (1, '2026-01-02 00:00:00', INET6_ATON('198.51.100.1'), INET6_ATON('192.168.2.1'), ?)";
    await t.db.exec(ins, [null]);
    await t.db.exec(ins, [null]);
    await t.db.exec(ins, [Buffer.from('ev-1')]);
    await expect(t.db.exec(ins, [Buffer.from('ev-1')])).rejects.toThrow(/Duplicate/);
  });
});

describe('crossing a threshold', () => {
  it('creates no rule at max_hits - 1 and exactly one at max_hits', async () => {
    const hit = { ts: '2026-01-01 10:00:00.250', src: '203.0.113.7' };
    await insertHits(t.db, burst(49, hit));
    expect(await rules(t.db)).toEqual([]);
    await insertHits(t.db, [hit]);
    const [r, ...more] = await rules(t.db);
    expect(more).toEqual([]);
    expect(r).toMatchObject({
      src: '203.0.113.7', dst: null, dst_port: null, proto: null, action: 'DROP',
      origin: 'threshold', status: 'pending', hits: 50, threshold: 'default', expires_at: null,
    });
    // more hits in the same window, and in later windows, add nothing
    await insertHits(t.db, burst(60, hit));
    await insertHits(t.db, burst(60, { ...hit, ts: '2026-01-01 10:00:05.000' }));
    expect(await rules(t.db)).toHaveLength(1);
  });

  it('judges hits by their own time, in tumbling windows', async () => {
    // 25 + 25 hits across a second boundary: two windows, no rule
    await insertHits(t.db, burst(25, { ts: '2026-01-01 10:00:00.999', src: '203.0.113.8' }));
    await insertHits(t.db, burst(25, { ts: '2026-01-01 10:00:01.000', src: '203.0.113.8' }));
    expect(await rules(t.db)).toEqual([]);
    // the same 50 hits spread within one 10-second window do cross
    await t.db.exec("UPDATE Threshold SET window_s = 10 WHERE name = 'default'");
    await insertHits(t.db, burst(25, { ts: '2026-01-01 10:00:10.000', src: '203.0.113.9' }));
    await insertHits(t.db, burst(24, { ts: '2026-01-01 10:00:19.999', src: '203.0.113.9' }));
    await insertHits(t.db, burst(1, { ts: '2026-01-01 10:00:20.000', src: '203.0.113.9' }));
    expect(await rules(t.db)).toEqual([]);
    await insertHits(t.db, burst(1, { ts: '2026-01-01 10:00:12.500', src: '203.0.113.9' }));
    expect((await rules(t.db)).map((r) => r.src)).toEqual(['203.0.113.9']);
  });

  it('counts old events (a replayed spool) by when they happened', async () => {
    await insertHits(t.db, burst(50, { ts: '2001-09-09 01:46:40.000', src: '198.51.100.20' }));
    expect((await rules(t.db)).map((r) => r.src)).toEqual(['198.51.100.20']);
  });

  it('does not count connection ends or stray traffic', async () => {
    await insertHits(t.db, burst(50, { ts: '2026-01-01 11:00:00', src: '203.0.113.30', kind: 'end' }));
    await insertHits(t.db, burst(50, { ts: '2026-01-01 11:00:00', src: '203.0.113.30', kind: 'stray' }));
    expect(await rules(t.db)).toEqual([]);
    await insertHits(t.db, burst(50, { ts: '2026-01-01 11:00:00', src: '203.0.113.30', kind: 'probe' }));
    expect(await rules(t.db)).toHaveLength(1);
  });

  it('sets expires_at from the rule creation and the threshold duration', async () => {
    await t.db.exec("UPDATE Threshold SET duration_s = 3600, action = 'REJECT' WHERE name = 'default'");
    await insertHits(t.db, burst(50, { ts: '2020-01-01 00:00:00', src: '203.0.113.40' }));
    const [r] = await rules(t.db);
    expect(r?.action).toBe('REJECT');
    expect(r!.expires_at!.getTime() - r!.created_at.getTime()).toBe(3600_000);
  });
});

describe('what the DBA tunes', () => {
  it('applies an UPDATE of max_hits on the very next insert', async () => {
    await t.db.exec("UPDATE Threshold SET max_hits = 10 WHERE name = 'default'");
    await insertHits(t.db, burst(9, { ts: '2026-01-01 12:00:00', src: '203.0.113.50' }));
    expect(await rules(t.db)).toEqual([]);
    await insertHits(t.db, burst(1, { ts: '2026-01-01 12:00:00', src: '203.0.113.50' }));
    expect(await rules(t.db)).toHaveLength(1);
    // lowering it below a count already reached fires on the next hit of that window
    await t.db.exec("UPDATE Threshold SET max_hits = 50 WHERE name = 'default'");
    await insertHits(t.db, burst(20, { ts: '2026-01-01 12:00:00', src: '203.0.113.51' }));
    expect(await rules(t.db, "src = '203.0.113.51'")).toEqual([]);
    await t.db.exec("UPDATE Threshold SET max_hits = 10 WHERE name = 'default'");
    await insertHits(t.db, burst(1, { ts: '2026-01-01 12:00:00', src: '203.0.113.51' }));
    expect(await rules(t.db, "src = '203.0.113.51'")).toHaveLength(1);
    // the rule records the hits counted (21), not the threshold it crossed
    expect(await t.db.rows("SELECT hits FROM RuleView WHERE src = '203.0.113.51'")).toEqual([{ hits: 21 }]);
  });

  it('applies it also to the next insert of a transaction that began before the change', async () => {
    await t.db.pinned(async (a) => {
      await a.exec('START TRANSACTION');
      try {
        // (a read: the transaction's snapshot is taken before the DBA's change)
        await a.rows('SELECT COUNT(*) AS n FROM Sensor');
        await t.db.exec("UPDATE Threshold SET max_hits = 10 WHERE name = 'default'");
        await insertHits(a, burst(10, { ts: '2026-01-01 12:00:00', src: '203.0.113.52' }));
        expect(await a.rows("SELECT hits FROM RuleView WHERE src = '203.0.113.52'")).toEqual([{ hits: 10 }]);
      } finally {
        await a.exec('COMMIT');
      }
    });
    expect(await rules(t.db, "src = '203.0.113.52'")).toHaveLength(1);
  });

  it('stops counting a disabled threshold at once', async () => {
    await t.db.exec("UPDATE Threshold SET enabled = 0 WHERE name = 'default'");
    await insertHits(t.db, burst(100, { ts: '2026-01-01 12:00:00', src: '203.0.113.52' }));
    expect(await rules(t.db)).toEqual([]);
  });

  it('evaluates several thresholds and scopes at once', async () => {
    await t.db.exec(`INSERT INTO Threshold (name, proto, dst_port, group_by, window_s, max_hits, duration_s)
                     VALUES ('ssh', 'tcp', 22, 'src_dport', 60, 5, 600),
                            ('per-host', NULL, NULL, 'src_dst_dport', 60, 3, NULL),
                            ('s2-only', 'udp', NULL, 'tuple', 10, 4, NULL)`);
    await t.db.exec("UPDATE Threshold SET sensor_id = 2 WHERE name = 's2-only'");
    // ssh: 5 hits to port 22 spread over a minute, on two honeypots -> per-host sees 2 + 3
    await insertHits(t.db, [
      ...burst(2, { ts: '2026-01-01 13:00:01', src: '198.51.100.60', dst: '192.168.2.1', dstPort: 22 }),
      ...burst(3, { ts: '2026-01-01 13:00:40', src: '198.51.100.60', dst: '192.168.2.2', dstPort: 22 }),
    ]);
    const got = await rules(t.db);
    expect(got.map((r) => [r.threshold, r.src, r.dst, r.dst_port, r.proto]).sort()).toEqual([
      ['per-host', '198.51.100.60', '192.168.2.2', 22, 'tcp'],
      ['ssh', '198.51.100.60', null, 22, 'tcp'],
    ]);
    const ssh = got.find((r) => r.threshold === 'ssh')!;
    expect(ssh.expires_at!.getTime() - ssh.created_at.getTime()).toBe(600_000);
    // the sensor-scoped tuple threshold ignores sensor 1 and counts per source port on sensor 2
    await t.db.exec("UPDATE Threshold SET enabled = 0 WHERE name IN ('ssh', 'per-host')");
    await insertHits(t.db, burst(4, { sensor: 1, ts: '2026-01-01 13:05:00', src: '198.51.100.61', proto: 'udp', dstPort: 53 }));
    await insertHits(t.db, burst(3, { sensor: 2, ts: '2026-01-01 13:05:00', src: '198.51.100.62', proto: 'udp', srcPort: 1000, dstPort: 53 }));
    await insertHits(t.db, burst(3, { sensor: 2, ts: '2026-01-01 13:05:00', src: '198.51.100.62', proto: 'udp', srcPort: 1001, dstPort: 53 }));
    expect(await rules(t.db, "threshold = 's2-only'")).toEqual([]);
    await insertHits(t.db, burst(1, { sensor: 2, ts: '2026-01-01 13:05:00', src: '198.51.100.62', proto: 'udp', srcPort: 1001, dstPort: 53 }));
    expect((await rules(t.db, "threshold = 's2-only'")).map((r) => [r.src, r.dst, r.dst_port, r.proto])).toEqual([
      ['198.51.100.62', '192.168.2.1', 53, 'udp'],
    ]);
  });

  it('widens a rule to all protocols where the protocol of the hit does not exist in its address family', async () => {
    await t.db.exec("INSERT INTO Threshold (name, proto, group_by, window_s, max_hits) VALUES ('icmp-tuple', 'icmp', 'tuple', 60, 3)");
    await t.db.exec("UPDATE Threshold SET enabled = 0 WHERE name = 'default'");
    // a hit logged as icmp from an IPv6 source (a DBA's insert, a misparsed line): no error, no icmp rule for IPv6
    await insertHits(t.db, burst(3, { ts: '2026-01-01 13:10:00', src: '2001:db8:66::1', dst: '2001:db8::1', proto: 'icmp', dstPort: 0 }));
    await insertHits(t.db, burst(3, { ts: '2026-01-01 13:10:00', src: '198.51.100.66', proto: 'icmp', dstPort: 0 }));
    expect((await rules(t.db)).map((r) => [r.src, r.proto]).sort()).toEqual([['198.51.100.66', 'icmp'], ['2001:db8:66::1', null]]);
    // AH from an IPv6 source: an extension header devices cannot match there, so all protocols
    await t.db.exec("INSERT INTO Threshold (name, proto, group_by, window_s, max_hits) VALUES ('ah-tuple', 'ah', 'tuple', 60, 3)");
    await insertHits(t.db, burst(3, { ts: '2026-01-01 13:10:00', src: '2001:db8:67::1', dst: '2001:db8::1', proto: 'ah', dstPort: 0 }));
    await insertHits(t.db, burst(3, { ts: '2026-01-01 13:10:00', src: '198.51.100.67', proto: 'ah', dstPort: 0 }));
    expect((await rules(t.db, "src IN ('2001:db8:67::1', '198.51.100.67')")).map((r) => [r.src, r.proto]).sort()).toEqual([['198.51.100.67', 'ah'], ['2001:db8:67::1', null]]);
  });

  it('refuses in SQL a protocol no hit has, a protocol in capitals and a duration of 0 seconds', async () => {
    for (const [cols, vals, msg] of [
      ['proto', "'TCP'", /small letters/], ['proto', "'ssh'", /a threshold counts one of tcp/], ['duration_s', '0', /at least 1 second, or NULL/],
    ] as const) {
      await expect(t.db.exec(`INSERT INTO Threshold (name, ${cols}, max_hits, window_s) VALUES ('bad', ${vals}, 3, 10)`), `${cols}=${vals}`).rejects.toThrow(msg);
    }
    await expect(t.db.exec("UPDATE Threshold SET proto = 'Udp' WHERE name = 'default'")).rejects.toThrow(/small letters/);
  });

  it('reads every threshold also where GROUP_CONCAT is cut short (group_concat_max_len: MySQL keeps 1024 bytes)', async () => {
    await t.db.exec(`INSERT INTO Threshold (name, proto, dst_port, group_by, window_s, max_hits)
                     VALUES ('ssh', 'tcp', 22, 'src_dport', 60, 5), ('per-host', NULL, NULL, 'src_dst_dport', 60, 3)`);
    // the trigger's list: 'id,proto,port,sensor,group_by,window_s,max_hits' joined by ';'
    const [{ len }] = await t.db.rows<{ len: number }>(
      `SELECT SUM(LENGTH(CONCAT_WS(',', id, IFNULL(proto, ''), IFNULL(dst_port, ''), IFNULL(sensor_id, ''), group_by, window_s, max_hits)))
              + COUNT(*) - 1 AS len FROM Threshold WHERE enabled = 1`) as [{ len: number }];
    // cut inside the first item, and inside the last (as many items as thresholds, the last one short)
    for (const [max, minute] of [[4, 10], [Number(len) - 3, 11]] as const) {
      await t.db.exec('DELETE FROM Rule');
      const s = t.open(1);
      try {
        await s.exec('SET SESSION group_concat_max_len = ?', [max]);
        await insertHits(s, burst(5, { ts: `2026-01-01 13:${minute}:01`, src: '198.51.100.90', dstPort: 22 }));
        await insertHits(s, burst(50, { ts: `2026-01-01 13:${minute}:30`, src: '198.51.100.91', dstPort: 80 }));
      } finally {
        await s.end();
      }
      expect((await rules(t.db)).map((r) => [r.threshold, r.src]).sort()).toEqual([
        ['default', '198.51.100.91'],
        ['per-host', '198.51.100.90'],
        ['per-host', '198.51.100.91'], // its 3rd hit, before the 50th
        ['ssh', '198.51.100.90'],
      ]);
    }
  });

  it('gives no narrower rule to a source already blocked for all its traffic', async () => {
    await t.db.exec("INSERT INTO Threshold (name, proto, dst_port, group_by, window_s, max_hits) VALUES ('ssh', 'tcp', 22, 'src_dport', 60, 5)");
    await insertHits(t.db, burst(50, { ts: '2026-01-01 14:00:00', src: '198.51.100.70', dstPort: 80 }));
    await insertHits(t.db, burst(5, { ts: '2026-01-01 14:00:30', src: '198.51.100.70', dstPort: 22 }));
    expect((await rules(t.db)).map((r) => r.threshold)).toEqual(['default']);
    // a blacklisted range covers its addresses too
    await t.db.exec("INSERT INTO Blacklist (cidr, source) VALUES ('198.51.100.128/25', 'test')");
    await insertHits(t.db, burst(5, { ts: '2026-01-01 14:00:30', src: '198.51.100.130', dstPort: 22 }));
    expect((await rules(t.db, "origin = 'threshold'")).map((r) => r.src)).toEqual(['198.51.100.70']);
    // but a narrower rule does not stop the broader one
    await insertHits(t.db, burst(5, { ts: '2026-01-01 14:00:30', src: '198.51.100.71', dstPort: 22 }));
    await insertHits(t.db, burst(50, { ts: '2026-01-01 14:00:31', src: '198.51.100.71', dstPort: 80 }));
    expect((await rules(t.db, "src = '198.51.100.71'")).map((r) => r.threshold)).toEqual(['ssh', 'default']);
  });

  it('finds the covering rule at any prefix length, among many rules of the same /8 and /16', async () => {
    // the look-up cuts the source to each prefix length; these lengths cross byte and
    // 64-bit boundaries. Many other rules share the /8 (IPv4) and /16 (IPv6).
    await t.db.exec(
      `INSERT INTO Rule (src_ip, src_prefix, origin)
       SELECT INET6_ATON(CONCAT('77.', n DIV 2, '.', n MOD 2, '.9')), 32, 'manual' FROM PrefixLength
       UNION ALL
       SELECT INET6_ATON(CONCAT('2001:db8:ffff:', HEX(n), '::9')), 128, 'manual' FROM PrefixLength`,
    );
    const ranges: [string, string, string][] = [
      // [rule, a source inside it but not at its start, the first address after it]
      ['77.128.0.0/9', '77.200.1.2', '78.0.0.0'],
      ['78.8.0.0/13', '78.15.255.254', '78.16.0.0'],
      ['79.1.2.0/24', '79.1.2.77', '79.1.3.0'],
      ['79.1.3.4/31', '79.1.3.5', '79.1.3.6'],
      ['2a00::/16', '2a00:1234::1', '2a01::'],
      ['2001:db8:8000::/33', '2001:db8:ffff:ffff::1', '2001:db9::'],
      ['2001:db8:1:2::/64', '2001:db8:1:2:ffff::1', '2001:db8:1:3::'],
      ['2001:db8:1:5::/65', '2001:db8:1:5:7fff::1', '2001:db8:1:5:8000::'],
      ['2001:db8:1:4::10/127', '2001:db8:1:4::11', '2001:db8:1:4::12'],
    ];
    for (const [cidr] of ranges) {
      const [ip, len] = cidr.split('/');
      await t.db.exec("INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON(?), ?, 'manual')", [ip, Number(len)]);
    }
    for (const [, inside, after] of ranges) {
      const dst = inside.includes(':') ? '2001:db8::1' : '192.168.2.1';
      await insertHits(t.db, burst(50, { ts: '2026-01-01 14:10:00', src: inside, dst }));
      await insertHits(t.db, burst(50, { ts: '2026-01-01 14:10:00', src: after, dst }));
    }
    expect((await rules(t.db, "origin = 'threshold'")).map((r) => r.src).sort()).toEqual(ranges.map((r) => r[2]).sort());
    // and an address protected later drops the rule that covers it, found the same way
    await t.db.exec("INSERT INTO Whitelist (cidr, comment) VALUES ('78.9.9.9/32', 'x'), ('2001:db8:1:5:1::/80', 'y')");
    const dropped = await t.db.rows<{ src: string }>(
      "SELECT src FROM RuleView WHERE status = 'dropped' ORDER BY src",
    );
    expect(dropped.map((r) => r.src)).toEqual(['2001:db8:1:5::/65', '78.8.0.0/13']);
  });
});

describe('whitelists', () => {
  it('never blocks IPv4 and IPv6 whitelisted ranges, and blocks just outside them', async () => {
    await t.db.exec("INSERT INTO Whitelist (cidr, comment) VALUES ('203.0.113.0/28', 'partner'), ('2001:db8:10::/48', 'v6 partner')");
    for (const src of ['203.0.113.0', '203.0.113.15', '2001:db8:10::1', '2001:db8:10:ffff:ffff:ffff:ffff:ffff']) {
      await insertHits(t.db, burst(60, { ts: '2026-01-01 15:00:00', src, dst: src.includes(':') ? '2001:db8::1' : '192.168.2.1' }));
    }
    expect(await rules(t.db)).toEqual([]);
    for (const src of ['203.0.113.16', '2001:db8:11::1']) {
      await insertHits(t.db, burst(50, { ts: '2026-01-01 15:00:00', src, dst: src.includes(':') ? '2001:db8::1' : '192.168.2.1' }));
    }
    expect((await rules(t.db)).map((r) => r.src)).toEqual(['203.0.113.16', '2001:db8:11::1']);
  });

  it('takes an IPv4-mapped address for its IPv4 address, in whitelist entries, hits and rules written in SQL', async () => {
    await t.db.exec("INSERT INTO Whitelist (cidr) VALUES ('::ffff:198.51.100.0/120')");
    // (also when the writer gives the bytes too, as the CLI does for a single address)
    await t.db.exec("INSERT INTO Whitelist (cidr, first_ip, prefix) VALUES ('::ffff:192.0.2.9/128', INET6_ATON('::ffff:192.0.2.9'), 128)");
    expect(await t.db.rows('SELECT cidr, LENGTH(first_ip) AS n FROM Whitelist ORDER BY id')).toEqual([{ cidr: '198.51.100.0/24', n: 4 }, { cidr: '192.0.2.9/32', n: 4 }]);
    await insertHits(t.db, burst(50, { ts: '2026-01-01 15:20:00', src: '::ffff:198.51.100.9', dst: '::ffff:192.168.2.1' }));
    expect(await rules(t.db)).toEqual([]);
    await insertHits(t.db, burst(50, { ts: '2026-01-01 15:20:00', src: '::ffff:203.0.113.77', dst: '::ffff:192.168.2.1' }));
    expect((await rules(t.db)).map((r) => r.src)).toEqual(['203.0.113.77']);
    const [len] = await t.db.rows<{ n: number }>("SELECT LENGTH(src_ip) AS n FROM Rule");
    expect(len!.n).toBe(4);
    await t.db.exec("INSERT INTO Rule (src_ip, src_prefix, dst_ip, origin) VALUES (INET6_ATON('::ffff:203.0.114.0'), 120, INET6_ATON('::ffff:192.168.2.9'), 'manual')");
    expect((await rules(t.db, "origin = 'manual'")).map((r) => [r.src, r.dst])).toEqual([['203.0.114.0/24', '192.168.2.9']]);
    await expect(t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('::ffff:198.51.100.20'), 'manual')"))
      .rejects.toThrow(/refused to block 198\.51\.100\.20\/32: protected by whitelist 198\.51\.100\.0\/24/);
  });

  it('does not confuse an IPv4 address with IPv6 bytes of the same prefix', async () => {
    // ::/96 holds 16-byte addresses whose last 4 bytes look like any IPv4 address
    await t.db.exec("INSERT INTO Whitelist (cidr) VALUES ('::/96')");
    await insertHits(t.db, burst(50, { ts: '2026-01-01 15:30:00', src: '203.0.113.99' }));
    expect((await rules(t.db)).map((r) => r.src)).toEqual(['203.0.113.99']);
  });

  it('finds the whitelist entry at any prefix length among thousands, by hits and by rules written', async () => {
    // 2000 entries below the addresses asked about (a range scan from the bottom would read them
    // all), then entries of many lengths, nested in one another
    const low = Array.from({ length: 2000 }, (_, i) => `${20 + (i >> 10)}.${(i >> 8) & 3}.${i & 255}.0/24`);
    await t.db.exec(`INSERT INTO Whitelist (cidr) VALUES ${low.map(() => '(?)').join(',')}`, low);
    const [{ n } = { n: 0 }] = await t.db.rows<{ n: number }>('SELECT COUNT(*) AS n FROM Whitelist');
    expect(n).toBe(2000);
    await t.db.exec(`INSERT INTO Whitelist (cidr) VALUES ('100.0.0.0/9'), ('100.200.0.0/13'), ('100.200.7.0/24'),
      ('100.250.0.6/31'), ('100.251.0.9/32'), ('2001:db8::/33'), ('2001:db8:8000:1::/65'), ('2001:db8:8000:2::4/127')`);
    const refused = async (cidr: string) =>
      t.db.exec(`INSERT INTO Rule (src_ip, src_prefix, origin) VALUES (INET6_ATON(?), ?, 'manual')`, cidr.split('/'))
        .then(() => 'allowed', (e: Error) => (/protected by (whitelist \S+)/.exec(e.message)?.[1] ?? e.message));
    // a point inside an entry of each length; a range holding an entry; a range inside an entry
    expect(await refused('100.127.255.255/32')).toBe('whitelist 100.0.0.0/9');
    expect(await refused('100.207.1.1/32')).toBe('whitelist 100.200.0.0/13');
    expect(await refused('100.200.7.200/32')).toMatch(/^whitelist 100\.200\.(0\.0\/13|7\.0\/24)$/);
    expect(await refused('100.250.0.7/32')).toBe('whitelist 100.250.0.6/31');
    expect(await refused('100.251.0.0/16')).toBe('whitelist 100.251.0.9/32');
    expect(await refused('100.200.64.0/18')).toBe('whitelist 100.200.0.0/13');
    expect(await refused('2001:db8:7fff::1/128')).toBe('whitelist 2001:db8::/33');
    expect(await refused('2001:db8:8000:1:7fff::/80')).toBe('whitelist 2001:db8:8000:1::/65');
    expect(await refused('2001:db8:8000:2::5/128')).toBe('whitelist 2001:db8:8000:2::4/127');
    expect(await refused('2001:db8:8000::/48')).toMatch(/^whitelist 2001:db8:8000:(1::\/65|2::4\/127)$/);
    // just outside each
    for (const c of ['100.128.0.0/32', '100.208.0.0/32', '100.250.0.8/32', '100.251.0.10/32', '2001:db8:8000:1:8000::/128', '2001:db8:8000:2::6/128', '20.10.0.0/24']) {
      expect(await refused(c), c).toBe('allowed');
    }
    // the threshold path asks the same question
    for (const src of ['100.207.9.9', '2001:db8:8000:1::77', '21.3.99.1']) {
      await insertHits(t.db, burst(50, { ts: '2026-01-01 15:40:00', src, dst: src.includes(':') ? '2001:db8::1' : '192.168.2.1' }));
    }
    expect((await rules(t.db)).filter((r) => r.origin === 'threshold')).toEqual([]);
    // an entry edited to a length the whitelist did not have yet, and one taken away
    await t.db.exec("UPDATE Whitelist SET cidr = '100.128.0.0/10' WHERE cidr = '100.0.0.0/9'");
    expect(await refused('100.129.0.1/32')).toBe('whitelist 100.128.0.0/10');
    expect(await refused('100.127.0.1/32')).toBe('allowed');
    await t.db.exec("DELETE FROM Whitelist WHERE cidr = '100.250.0.6/31'");
    expect(await refused('100.250.0.6/32')).toBe('allowed');
  });

  it('never blocks sensors, honeypots or device management addresses', async () => {
    await t.db.exec("UPDATE Sensor SET address = INET6_ATON('198.51.100.201') WHERE id = 1");
    // (a honeypot protects its address inside a range an admin approved for its sensor)
    await t.db.exec("INSERT INTO SensorNet (sensor_id, cidr) VALUES (1, '198.51.100.202/32')");
    await t.db.exec("INSERT INTO VirtHost (sensor_id, address) VALUES (1, INET6_ATON('198.51.100.202'))");
    await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('fw-prot', '198.51.100.203', 'nftables', 'dry-run')");
    for (const src of ['198.51.100.201', '198.51.100.202', '198.51.100.203']) {
      await insertHits(t.db, burst(50, { ts: '2026-01-01 16:00:00', src }));
    }
    expect(await rules(t.db)).toEqual([]);
    await expect(
      t.db.exec("INSERT INTO Rule (src_ip, origin) VALUES (INET6_ATON('198.51.100.203'), 'manual')"),
    ).rejects.toThrow(/refused to block 198\.51\.100\.203\/32: protected by device fw-prot/);
    await t.db.exec("UPDATE Sensor SET address = NULL WHERE id = 1");
    await t.db.exec('DELETE FROM VirtHost');
    await t.db.exec('DELETE FROM SensorNet');
    await t.db.exec("DELETE FROM Device WHERE name = 'fw-prot'");
  });
});
