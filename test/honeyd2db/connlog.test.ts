import { describe, expect, it } from 'vitest';
import { parseConnLog } from '../../honeyd2db/parse/connlog.ts';
import type { ConnEvent, ParseResult } from '../../honeyd2db/parse/types.ts';
import { localLines, sharedLines } from '../fixtures/honeyd/lines.ts';

const UTC = { tz: 'UTC' };

function conn(line: string, ctx = UTC): ConnEvent {
  const r = parseConnLog(line, ctx);
  if (r.type !== 'conn') throw new Error(`expected a conn event for '${line}', got ${JSON.stringify(r)}`);
  return r;
}

function reason(r: ParseResult): string {
  if (r.type !== 'rejected') throw new Error(`expected a rejection, got ${JSON.stringify(r)}`);
  return `${r.code}: ${r.reason}`;
}

/** honeyd's own printf of an event (log.c), to compare with the line it came from. */
function render(e: ConnEvent): string {
  const k = { start: 'S', end: 'E', probe: '-' }[e.kind];
  const tuple = e.src_port !== null ? `${e.src} ${e.src_port} ${e.dst} ${e.dst_port}` : `${e.src} ${e.dst}`;
  let tail = '';
  if (e.kind === 'end') tail = `: ${e.bytes_in} ${e.bytes_out}`;
  if (e.kind === 'probe') {
    tail = `: ${e.icmp_type !== null ? `${e.icmp_type}(${e.icmp_code}): ` : ''}${e.length}${e.tcp_flags !== null ? ` ${e.tcp_flags}` : ''}`;
  }
  if (e.os !== null) tail += ` [${e.os}]`;
  if (e.remark !== null) tail += ` {${e.remark}}`;
  return `${e.proto}(${e.proto_num}) ${k} ${tuple}${tail}`;
}

/** The UTC text a line's stamp must give when the zone is UTC: 4th fraction digit cut. */
function utcText(line: string): string {
  return `${line.slice(0, 10)} ${line.slice(11, 19)}.${line.slice(20, 23)}`;
}

/** Every -l fixture, and how many of its lines are events, markers and rejections. */
const FILES: Record<string, { conn: number; marker: number; rejected: number; local?: boolean }> = {
  'public/blackrain-honeyd-comments-2011.log': { conn: 9, marker: 3, rejected: 0 },
  'public/haskell-parser-comments-2008.log': { conn: 17, marker: 0, rejected: 0 },
  'public/honeyd-docker-honeyd.log': { conn: 0, marker: 14, rejected: 0 },
  'public/honeydsum-comments-anonymized.log': { conn: 0, marker: 0, rejected: 10 },
  'public/honeyevse-honeyd.log': { conn: 394, marker: 37, rejected: 0 },
  'public/hpfeeds-collector-readme-excerpt.log': { conn: 4, marker: 0, rejected: 0 },
  'public/kippo_log-honeyd.log': { conn: 0, marker: 3, rejected: 0 },
  'public/travisaltman-2012-honeyd-l.log': { conn: 10, marker: 0, rejected: 0 },
  'generated/flags-honeyd.log': { conn: 25, marker: 2, rejected: 0 },
  'doc-examples-connlog.log': { conn: 30, marker: 3, rejected: 0, local: true },
};

describe('parseConnLog on every -l fixture line', () => {
  for (const [file, want] of Object.entries(FILES)) {
    it(`${file}: every line parses to the fields printed on it`, () => {
      const lines = want.local ? localLines(file) : sharedLines(file);
      const got = { conn: 0, marker: 0, rejected: 0 };
      for (const line of lines) {
        const r = parseConnLog(line, UTC);
        if (r.type === 'rejected') {
          got.rejected++;
          continue;
        }
        expect(r.type === 'conn' || r.type === 'marker', line).toBe(true);
        if (r.type === 'marker') {
          got.marker++;
          expect(line.slice(25)).toBe(r.marker === 'log-started' ? 'honeyd log started ------' : 'honeyd log stopped ------');
          expect(r.ts_sql).toBe(utcText(line));
          continue;
        }
        if (r.type !== 'conn') continue;
        got.conn++;
        // the printf of the fields gives the line back, except the trailing space honeyd
        // leaves inside [..] for an empty OS subtype, which we trim
        expect(render(r), line).toBe(line.slice(25).replace(/ \]/, ']'));
        expect(r.ts_sql, line).toBe(utcText(line));
        expect(r.ts.getTime()).toBe(Date.parse(`${r.ts_sql.replace(' ', 'T')}Z`));
        const ports = r.proto === 'tcp' || r.proto === 'udp';
        expect(r.src_port !== null && r.dst_port !== null, line).toBe(ports);
        expect(r.icmp_type !== null, line).toBe(r.proto === 'icmp' && r.kind === 'probe');
        expect(r.tcp_flags !== null, line).toBe(r.proto === 'tcp' && r.kind === 'probe');
        expect(r.other_proto, line).toBe(!ports && r.proto !== 'icmp');
      }
      expect(got).toEqual({ conn: want.conn, marker: want.marker, rejected: want.rejected });
    });
  }

  it('HoneyEVSE: 80 S against 71 E lines and duplicate S lines for one 4-tuple, all kept', () => {
    const events = sharedLines('public/honeyevse-honeyd.log')
      .map((l) => parseConnLog(l, { tz: 'Europe/Rome' }))
      .filter((r): r is ConnEvent => r.type === 'conn');
    expect(events.filter((e) => e.kind === 'start')).toHaveLength(80);
    expect(events.filter((e) => e.kind === 'end')).toHaveLength(71);
    expect(events.filter((e) => e.kind === 'probe')).toHaveLength(243);
    const starts = events.filter((e) => e.kind === 'start' && e.src_port === 51550);
    expect(starts.map((e) => e.ts_sql)).toEqual(['2023-04-28 17:34:31.111', '2023-04-28 17:34:31.139']);
  });

  it('rejects the anonymised honeydsum examples with the reason', () => {
    const reasons = sharedLines('public/honeydsum-comments-anonymized.log').map((l) => reason(parseConnLog(l, UTC)));
    expect(reasons.filter((r) => r.startsWith("bad-address: source address 'xxx.xxx.xxx.xxx' is not an IPv4 address"))).toHaveLength(8);
    // the two hand-typed lines with a 3-digit fraction fail on the timestamp first
    expect(reasons.filter((r) => r.includes('has 3 fractional digits; honeyd prints 4'))).toHaveLength(2);
  });
});

describe('parseConnLog fields', () => {
  it('tcp S line (travisaltman, honeyd 1.5c)', () => {
    expect(conn('2012-02-10-22:37:48.0799 tcp(6) S 192.168.134.143 49677 192.168.134.147 135')).toEqual({
      type: 'conn', kind: 'start', ts: new Date('2012-02-10T22:37:48.079Z'), ts_sql: '2012-02-10 22:37:48.079',
      proto: 'tcp', proto_num: 6, src: '192.168.134.143', dst: '192.168.134.147', src_port: 49677, dst_port: 135,
      icmp_type: null, icmp_code: null, length: null, tcp_flags: null, os: null, remark: null,
      bytes_in: null, bytes_out: null, other_proto: false,
    });
  });

  it('tcp E line: received then sent, local time of the sensor zone', () => {
    const e = conn('2023-04-28-15:54:05.1272 tcp(6) E 192.168.10.4 52404 185.213.114.29 80: 346 7046', { tz: 'Europe/Rome' });
    expect(e).toMatchObject({ kind: 'end', ts_sql: '2023-04-28 13:54:05.127', bytes_in: 346, bytes_out: 7046, os: null, length: null });
  });

  it('icmp probe: type(code) and length, no ports', () => {
    expect(conn('2008-12-14-09:04:38.2678 icmp(1) - 80.236.5.27 192.168.1.50: 3(13): 56')).toMatchObject({
      kind: 'probe', proto: 'icmp', proto_num: 1, src: '80.236.5.27', dst: '192.168.1.50', src_port: null, dst_port: null,
      icmp_type: 3, icmp_code: 13, length: 56, tcp_flags: null, os: null, other_proto: false,
    });
    expect(conn('2011-06-02-23:00:07.8425 icmp(1) - 192.168.1.248 192.168.1.150: 8(0): 84 [Linux 2.6 .1-7]')).toMatchObject({
      icmp_type: 8, icmp_code: 0, length: 84, os: 'Linux 2.6 .1-7',
    });
  });

  it('tcp probe flags, OS text and its trailing space', () => {
    expect(conn('2008-12-19-18:25:03.3130 tcp(6) - 124.8.74.33 1806 192.168.1.50 25: 70 FPA [Windows XP SP1]')).toMatchObject({
      kind: 'probe', length: 70, tcp_flags: 'FPA', os: 'Windows XP SP1', remark: null,
    });
    expect(conn('2004-01-07-15:26:40.0209 tcp(6) - 244.233.22.102 61891 172.162.8.180 21: 60 S [FreeBSD 5.0-5.1 ]').os).toBe('FreeBSD 5.0-5.1');
    expect(conn('2004-01-07-16:48:30.1212 tcp(6) S 192.168.21.135 33395 172.162.8.91 80 [Linux 2.6 ]').os).toBe('Linux 2.6');
    expect(conn('2004-01-07-14:36:58.7132 tcp(6) - 252.214.169.203 2064 192.168.27.180 21: 48 S [MacOS 8.0-8.6 OTTCP]').os).toBe('MacOS 8.0-8.6 OTTCP');
  });

  it("empty flags: '' from the trailing-space form, also before an OS comment", () => {
    expect(conn('2026-11-28-02:35:36.6796 tcp(6) - 10.99.0.2 39059 10.99.1.10 23: 40 ')).toMatchObject({ length: 40, tcp_flags: '' });
    expect(conn('2026-11-28-02:35:36.6796 tcp(6) - 10.99.0.2 39059 10.99.1.10 23: 40  [Linux 2.6 ]')).toMatchObject({ tcp_flags: '', os: 'Linux 2.6' });
  });

  it('remark {Honeyd Scanner?}, alone and after an OS comment', () => {
    expect(conn('2026-11-28-02:37:31.0916 tcp(6) - 10.99.0.2 61902 10.99.1.10 80: 44 SR {Honeyd Scanner?}')).toMatchObject({
      tcp_flags: 'SR', os: null, remark: 'Honeyd Scanner?',
    });
    expect(conn('2026-11-28-02:37:31.0916 tcp(6) - 10.99.0.2 61902 10.99.1.10 80: 44 SR [Linux 2.6 .1-7] {Honeyd Scanner?}')).toMatchObject({
      tcp_flags: 'SR', os: 'Linux 2.6 .1-7', remark: 'Honeyd Scanner?',
    });
  });

  it('all eight flags in FSRPAUEC order', () => {
    expect(conn('2026-11-28-02:37:31.0916 tcp(6) - 10.99.0.2 1 10.99.1.10 80: 40 FSRPAUEC').tcp_flags).toBe('FSRPAUEC');
  });

  it('udp S/E/probe, broadcast destination, OS on udp probe', () => {
    expect(conn('2026-11-28-02:34:36.4395 udp(17) S 10.99.0.2 49363 10.99.1.10 53')).toMatchObject({ kind: 'start', proto: 'udp', proto_num: 17, dst_port: 53 });
    expect(conn('2026-11-28-02:35:36.6500 udp(17) E 10.99.0.2 49363 10.99.1.10 53: 37 12')).toMatchObject({ kind: 'end', bytes_in: 37, bytes_out: 12 });
    // uint32_t counters printed with %d: a flow of 2 GiB or more shows negative (log.c)
    expect(conn('2026-11-28-02:35:36.6500 udp(17) E 10.99.0.2 49363 10.99.1.10 53: -2147480000 12')).toMatchObject({ kind: 'end', bytes_in: 2147487296, bytes_out: 12 });
    expect(conn('2026-11-28-02:35:36.6500 udp(17) E 10.99.0.2 49363 10.99.1.10 53: 5 -1')).toMatchObject({ kind: 'end', bytes_in: 5, bytes_out: 4294967295 });
    expect(conn('2008-12-15-22:59:03.4039 udp(17) - 192.168.1.254 67 255.255.255.255 68: 298')).toMatchObject({
      kind: 'probe', dst: '255.255.255.255', length: 298, tcp_flags: null,
    });
    expect(conn('2026-11-28-02:35:32.0600 udp(17) - 10.99.0.3 40857 10.99.1.11 1434: 30 [Linux 2.6 .1-7]')).toMatchObject({ length: 30, os: 'Linux 2.6 .1-7' });
  });

  it('other protocols: only SRC DST as printed, flagged as possibly reversed', () => {
    expect(conn('2026-11-28-02:35:38.0901 gre(47) - 10.99.1.10 10.99.0.2: 20')).toMatchObject({
      proto: 'gre', proto_num: 47, src: '10.99.1.10', dst: '10.99.0.2', src_port: null, dst_port: null,
      icmp_type: null, length: 20, tcp_flags: null, other_proto: true,
    });
    expect(conn('2026-11-28-02:35:38.0901 sctp(132) - 10.99.1.10 10.99.0.2: 52')).toMatchObject({ proto: 'sctp', proto_num: 132, length: 52 });
    expect(conn('2026-11-28-02:35:38.0901 unkn(253) - 10.0.0.1 10.0.0.2: 40')).toMatchObject({ proto: 'unkn', proto_num: 253, other_proto: true });
    expect(conn('2026-11-28-02:35:38.0901 ipv6-icmp(58) - 10.0.0.1 10.0.0.2: 40 [Linux 2.6 ]')).toMatchObject({ proto: 'ipv6-icmp', os: 'Linux 2.6' });
  });

  it('markers carry their time', () => {
    expect(parseConnLog('2023-04-28-15:56:32.5777 honeyd log stopped ------', UTC)).toEqual({
      type: 'marker', marker: 'log-stopped', ts: new Date('2023-04-28T15:56:32.577Z'), ts_sql: '2023-04-28 15:56:32.577',
    });
    expect(parseConnLog('2026-11-28-02:28:53.7767 honeyd log started ------', UTC)).toMatchObject({ marker: 'log-started' });
  });

  it('fraction truncated, not rounded', () => {
    expect(conn('2012-02-10-22:37:48.0799 tcp(6) S 1.2.3.4 1 5.6.7.8 2').ts_sql).toBe('2012-02-10 22:37:48.079');
    expect(conn('2012-02-10-22:37:59.9999 tcp(6) S 1.2.3.4 1 5.6.7.8 2').ts_sql).toBe('2012-02-10 22:37:59.999');
    expect(conn('2012-02-10-22:37:48.0009 tcp(6) S 1.2.3.4 1 5.6.7.8 2').ts_sql).toBe('2012-02-10 22:37:48.000');
  });

  it('port and address limits: 0, 65535, 0.0.0.0, 255.255.255.255', () => {
    expect(conn('2012-02-10-22:37:48.0799 udp(17) - 0.0.0.0 0 255.255.255.255 65535: 28')).toMatchObject({
      src: '0.0.0.0', src_port: 0, dst: '255.255.255.255', dst_port: 65535,
    });
  });
});

describe('parseConnLog line endings', () => {
  const line = '2012-02-10-22:37:48.0799 tcp(6) S 192.168.134.143 49677 192.168.134.147 135';

  it('tolerates one trailing \\r (CRLF copy) with identical fields', () => {
    expect(parseConnLog(`${line}\r`, UTC)).toEqual(parseConnLog(line, UTC));
    expect(parseConnLog('2026-11-28-02:35:36.6796 tcp(6) - 10.99.0.2 39059 10.99.1.10 23: 40 \r', UTC)).toMatchObject({ tcp_flags: '' });
  });

  it('rejects a \\r anywhere else', () => {
    expect(reason(parseConnLog(line.replace(' S ', ' S\r'), UTC))).toMatch(/^malformed/);
    expect(reason(parseConnLog(`${line}\r\r`, UTC))).toMatch(/^malformed: unexpected text/);
  });

  it('skips an empty line', () => {
    expect(parseConnLog('', UTC)).toEqual({ type: 'skipped', reason: 'empty line' });
  });
});

describe('parseConnLog rejections', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['invalid address', '2012-02-10-22:37:48.0799 tcp(6) S 999.1.1.1 49677 192.168.134.147 135', /^bad-address: source address '999\.1\.1\.1'/],
    ['address with a leading zero', '2012-02-10-22:37:48.0799 tcp(6) S 10.01.1.1 49677 192.168.134.147 135', /^bad-address/],
    ['three-part address', '2012-02-10-22:37:48.0799 tcp(6) S 10.1.1 49677 192.168.134.147 135', /^bad-address/],
    ['IPv6 address', '2012-02-10-22:37:48.0799 tcp(6) S 2001:db8::1 49677 192.168.134.147 135', /^(bad-address|malformed)/],
    ['bad destination address', '2012-02-10-22:37:48.0799 icmp(1) - 1.2.3.4 1.2.3.256: 8(0): 84', /^bad-address: destination address '1\.2\.3\.256'/],
    ['port above 65535', '2012-02-10-22:37:48.0799 tcp(6) S 1.2.3.4 65536 5.6.7.8 80', /^bad-number: source port '65536' out of range/],
    ['destination port above 65535', '2012-02-10-22:37:48.0799 udp(17) - 1.2.3.4 53 5.6.7.8 99999: 60', /^bad-number: destination port/],
    ['February 30', '2023-02-30-12:00:00.0000 tcp(6) S 1.2.3.4 1 5.6.7.8 80', /^bad-time: .*day 30 does not exist in 2023-02/],
    ['February 29 of a common year', '2023-02-29-12:00:00.0000 tcp(6) S 1.2.3.4 1 5.6.7.8 80', /^bad-time/],
    ['month 13', '2023-13-01-12:00:00.0000 tcp(6) S 1.2.3.4 1 5.6.7.8 80', /^bad-time: .*month 13/],
    ['hour 24', '2023-01-01-24:00:00.0000 tcp(6) S 1.2.3.4 1 5.6.7.8 80', /^bad-time/],
    ['second 60', '2023-01-01-23:59:60.0000 tcp(6) S 1.2.3.4 1 5.6.7.8 80', /^bad-time/],
    ['year before 1970', '1969-12-31-23:59:59.0000 tcp(6) S 1.2.3.4 1 5.6.7.8 80', /^bad-time/],
    ['no timestamp', 'tcp(6) S 1.2.3.4 1 5.6.7.8 80', /^malformed/],
    ['syslog line', 'Feb 10 22:37:48 bt honeyd[12073]: Connection request: tcp (192.168.134.143:49677 - 192.168.134.147:135)', /^malformed/],
    ['service line', '2026-11-28-02:29:13.0698 tcp(6) 10.99.0.2 35838 10.99.1.10 23: |Attempted login: admin1/secret1|', /^malformed: expected ' S ', ' E ' or ' - '/],
    ['script line', '2006-10-08 04:53:40 +0000: mydoom.pl[31476]: connection from 217.159.217.218:45771 to 192.168.2.1:1080', /^malformed/],
    ['non-stock variant', 'Jul 19 22:37:09 mars honeyd[2924]: 2011-07-19:22-37-09:tcp(6):END:218.200.37.155 6000 192.168.1.63 1433:rx=0:tx=0:', /^malformed/],
    ['tcp with the wrong number', '2012-02-10-22:37:48.0799 tcp(17) S 1.2.3.4 1 5.6.7.8 80', /^bad-number: protocol tcp\(17\)/],
    ['protocol number above 255', '2012-02-10-22:37:48.0799 unkn(256) - 1.2.3.4 5.6.7.8: 20', /^bad-number: protocol number/],
    ['S line for icmp', '2012-02-10-22:37:48.0799 icmp(1) S 1.2.3.4 5.6.7.8', /^malformed: S lines exist only for tcp and udp/],
    ['unknown kind letter', '2012-02-10-22:37:48.0799 tcp(6) X 1.2.3.4 1 5.6.7.8 80', /^malformed/],
    ['flags out of order', '2012-02-10-22:37:48.0799 tcp(6) - 1.2.3.4 1 5.6.7.8 80: 40 AS', /^malformed: TCP flags out of/],
    ['repeated flag', '2012-02-10-22:37:48.0799 tcp(6) - 1.2.3.4 1 5.6.7.8 80: 40 SS', /^malformed: TCP flags out of/],
    ['unknown flag letter', '2012-02-10-22:37:48.0799 tcp(6) - 1.2.3.4 1 5.6.7.8 80: 40 SX', /^malformed: not a TCP flag letter/],
    ['icmp type above 255', '2012-02-10-22:37:48.0799 icmp(1) - 1.2.3.4 5.6.7.8: 300(0): 84', /^bad-number: icmp type/],
    ['packet length above 65535', '2012-02-10-22:37:48.0799 udp(17) - 1.2.3.4 1 5.6.7.8 2: 70000', /^bad-number: packet length/],
    ['byte count above 2^32-1', '2012-02-10-22:37:48.0799 tcp(6) E 1.2.3.4 1 5.6.7.8 2: 4294967296 0', /^bad-number: received byte count/],
    ['byte count below -2^31 (not a %d of a uint32_t)', '2012-02-10-22:37:48.0799 tcp(6) E 1.2.3.4 1 5.6.7.8 2: -2147483649 0', /^bad-number: received byte count/],
    ['OS comment on an E line', '2012-02-10-22:37:48.0799 tcp(6) E 1.2.3.4 1 5.6.7.8 2: 0 0 [Linux 2.6 ]', /^malformed: unexpected text/],
    ['unclosed OS comment', '2011-06-02-22:58:45.7338 tcp(6) S 192.168.1.248 39997 192.168.1.150 445 [Linux 2.6 .1-', /^malformed: no '\]'/],
    ['unclosed remark', '2026-11-28-02:37:31.0916 tcp(6) - 10.99.0.2 61902 10.99.1.10 80: 44 SR {Honeyd Scan', /^malformed: no '\}'/],
    ['text after the line', '2012-02-10-22:37:48.0799 tcp(6) S 1.2.3.4 1 5.6.7.8 80 extra', /^malformed: unexpected text ' extra'/],
    ['3-digit fraction', '2003-12-17-19:41:19.002 udp(17) S 1.2.3.4 53 5.6.7.8 53', /^bad-time: .*3 fractional digits/],
  ];
  for (const [what, line, re] of cases) {
    it(what, () => expect(reason(parseConnLog(line, UTC))).toMatch(re));
  }

  it('unknown time zone', () => {
    expect(reason(parseConnLog('2012-02-10-22:37:48.0799 tcp(6) S 1.2.3.4 1 5.6.7.8 80', { tz: 'Mars/Olympus' }))).toBe(
      "bad-zone: unknown time zone 'Mars/Olympus'",
    );
  });

  it('truncated lines: every cut before the last field is rejected', () => {
    const lines = [
      '2011-06-02-22:58:45.7338 tcp(6) S 192.168.1.248 39997 192.168.1.150 445 [Linux 2.6 .1-7]',
      '2023-04-28-15:54:05.1272 tcp(6) E 192.168.10.4 52404 185.213.114.29 80: 346 7046',
      '2011-06-02-23:00:07.8425 icmp(1) - 192.168.1.248 192.168.1.150: 8(0): 84 [Linux 2.6 .1-7]',
      '2026-11-28-02:37:31.0916 tcp(6) - 10.99.0.2 61902 10.99.1.10 80: 44 SR {Honeyd Scanner?}',
      '2026-11-28-02:35:38.0901 gre(47) - 10.99.1.10 10.99.0.2: 20',
    ];
    for (const line of lines) {
      // a cut inside the last number, flag run or after the tuple of an S line still reads as a
      // (different) valid line: honeyd lines have no terminator, so only earlier cuts are knowable
      const comment = line.search(/ [[{]/);
      const safe = (comment > 0 ? line.slice(0, comment) : line).lastIndexOf(' ');
      for (let cut = 1; cut <= safe; cut++) {
        const r = parseConnLog(line.slice(0, cut), UTC);
        expect(r.type, `${line.slice(0, cut)}|`).toBe('rejected');
      }
    }
  });
});
