import { describe, expect, it, vi } from 'vitest';
import { parseSyslog } from '../../honeyd2db/parse/syslog.ts';
import { currentYear } from '../../honeyd2db/parse/time.ts';
import type { ParseResult, SyslogEvent } from '../../honeyd2db/parse/types.ts';
import { localLines, sharedLines } from '../fixtures/honeyd/lines.ts';

const CTX = { tz: 'UTC', year: 2012 };
const T = '(172.24.17.139:42026 - 192.168.0.20:80)';

function ev(line: string, ctx: { tz: string; year?: number } = CTX): SyslogEvent {
  const r = parseSyslog(line, ctx);
  if (r.type !== 'syslog') throw new Error(`expected a syslog event for '${line}', got ${JSON.stringify(r)}`);
  return r;
}

function reason(r: ParseResult): string {
  if (r.type !== 'rejected') throw new Error(`expected a rejection, got ${JSON.stringify(r)}`);
  return `${r.code}: ${r.reason}`;
}

function kindOf(r: ParseResult): string {
  if (r.type === 'syslog') return r.kind;
  if (r.type === 'marker') return `marker:${r.marker}`;
  if (r.type === 'rejected') return `rejected:${r.code}`;
  return r.type;
}

/** honeyd's format string for an event, where the fields determine it (honeyd.c, arp.c). */
function render(e: SyslogEvent): string | null {
  const t = `(${e.src}:${e.src_port} - ${e.dst}:${e.dst_port})`;
  switch (e.kind) {
    case 'service-output': return `E${t}: ${e.payload}`;
    case 'conn-request': return `Connection request: tcp ${t}`;
    case 'conn-killed': return `Killing ${e.detail} connection: tcp ${t}`;
    case 'conn-reset-received': return `Connection dropped by reset: tcp ${t}`;
    case 'conn-reset-sent': return `Connection dropped with reset: tcp ${t}`;
    case 'conn-closed': return `Connection closed: tcp ${t}`;
    case 'conn-established': return `Connection established: ${e.proto} ${t}${e.detail === null ? '' : ` <-> ${e.detail}`}`;
    case 'udp-closed-port': return `Connection to closed port: udp ${t}`;
    case 'udp-connection': return `Connection: udp ${t}`;
    case 'icmp-reply': return `Sending ICMP ${e.detail} Reply: ${e.src} -> ${e.dst}`;
    case 'port-unreachable': return `Received port unreachable: ${e.src} -> ${e.dst}: errors ${e.number}`;
    case 'started': return `started with ${e.detail}`;
    case 'signal': return `${e.detail} on signal ${e.number}`;
    case 'arp':
      if (e.dst !== null) return `arp_send: who-has ${e.src} tell ${e.dst}`;
      return e.message.startsWith('arp reply') ? `arp reply ${e.src} is-at ${e.detail}` : `arp_recv_cb: ${e.src} at ${e.detail}`;
    default: return null;
  }
}

/** Every syslog / -d stderr fixture and the kind of each of its lines, in order. */
const FILES: Record<string, { kinds: string[]; local?: boolean }> = {
  'public/travisaltman-2012-var-log-syslog.txt': {
    kinds: ['arp', 'icmp-reply', 'arp', 'arp', 'arp', 'arp', 'conn-request', 'arp', 'arp', 'conn-reset-received'],
  },
  'public/travisaltman-2012-honeyd-d-stderr.txt': {
    kinds: [
      'marker:banner', 'started', 'unprefixed', 'unprefixed', 'other', 'other', 'privileges', 'other', 'other', 'arp',
      'icmp-reply', 'arp', 'arp', 'arp', 'arp', 'conn-request', 'arp', 'arp', 'conn-reset-received', 'arp', 'arp',
    ],
  },
  'public/plebbian-honeyd-1.6d-debug-part1.txt': {
    kinds: [
      ...Array<string>(6).fill('unprefixed'), 'marker:banner', 'started', 'started', 'other', 'other', 'privileges',
      ...Array<string>(13).fill('conn-killed'), 'conn-request', ...Array<string>(4).fill('conn-killed'), 'conn-request', 'conn-killed',
    ],
  },
  'public/plebbian-honeyd-1.6d-debug-part2.txt': {
    kinds: ['conn-killed', 'conn-killed', 'conn-killed', 'conn-reset-received', 'conn-killed', 'conn-reset-received', 'conn-killed'],
  },
  'public/plebbian-honeyd-1.6d-debug-part3-tail.txt': {
    kinds: [
      'conn-killed',
      ...['conn-request', 'conn-killed', 'conn-established', 'conn-killed', 'conn-killed', 'conn-killed', 'conn-closed'],
      ...['conn-request', 'conn-killed', 'conn-established', 'conn-killed', 'conn-killed', 'conn-killed', 'conn-closed'],
      ...['conn-request', 'conn-killed', 'conn-established', 'conn-killed', 'conn-killed', 'conn-killed', 'conn-closed'],
    ],
  },
  'public/nonstock-syslog-variant-2011.txt': {
    kinds: [
      'rejected:non-stock', 'rejected:non-stock', 'rejected:non-stock', 'rejected:non-stock', 'arp', 'arp', 'rejected:non-stock',
      'arp', 'rejected:non-stock', 'rejected:non-stock', 'arp', 'arp', 'rejected:non-stock', 'rejected:non-stock', 'arp', 'arp',
      'rejected:non-stock',
    ],
  },
  'doc-examples-stderr.txt': { kinds: ['service-output', 'unprefixed', 'unprefixed', 'conn-killed', 'conn-established'], local: true },
};

describe('parseSyslog on every syslog / -d stderr fixture line', () => {
  for (const [file, want] of Object.entries(FILES)) {
    it(`${file}: kinds, and the fields reprint each message`, () => {
      const lines = want.local ? localLines(file) : sharedLines(file);
      const results = lines.map((l) => parseSyslog(l, CTX));
      expect(results.map(kindOf)).toEqual(want.kinds);
      results.forEach((r, i) => {
        const line = lines[i]!;
        if (r.type !== 'syslog') return;
        if (r.kind === 'unprefixed') {
          expect(r.message).toBe(line);
          return;
        }
        expect(line.endsWith(`honeyd[${r.pid}]: ${r.message}`), line).toBe(true);
        const printed = render(r);
        if (printed !== null) expect(printed, line).toBe(r.message);
        if (line.startsWith('honeyd[')) expect(r.ts).toBeNull();
        else expect(r.ts_sql!.startsWith('2012-')).toBe(true);
      });
    });
  }

  it('the non-stock variant lines are refused with a reason naming the variant', () => {
    const r = parseSyslog(sharedLines('public/nonstock-syslog-variant-2011.txt')[0]!, CTX);
    expect(reason(r)).toMatch(/^non-stock: non-stock honeyd variant: .*patched honeyd.*not from stock honeyd 1\.5c\/1\.6a\/1\.6d/);
  });
});

describe('parseSyslog fields', () => {
  it('classic syslog line: year from ctx, time in the sensor zone', () => {
    expect(ev('Feb 10 22:36:53 bt honeyd[12073]: Sending ICMP Echo Reply: 192.168.134.147 -> 192.168.134.254', { tz: 'America/New_York', year: 2012 })).toEqual({
      type: 'syslog', kind: 'icmp-reply', ts: new Date('2012-02-11T03:36:53.000Z'), ts_sql: '2012-02-11 03:36:53.000',
      host: 'bt', pid: 12073, message: 'Sending ICMP Echo Reply: 192.168.134.147 -> 192.168.134.254',
      proto: null, src: '192.168.134.147', src_port: null, dst: '192.168.134.254', dst_port: null,
      payload: null, detail: 'Echo', number: null,
    });
  });

  it('connection tuple', () => {
    expect(ev('Feb 10 22:37:48 bt honeyd[12073]: Connection request: tcp (192.168.134.143:49677 - 192.168.134.147:135)')).toMatchObject({
      kind: 'conn-request', proto: 'tcp', src: '192.168.134.143', src_port: 49677, dst: '192.168.134.147', dst_port: 135, ts_sql: '2012-02-10 22:37:48.000',
    });
  });

  it('-d stderr: no time, no host; tuples as printed (reversed ones included)', () => {
    expect(ev('honeyd[1]: Killing attempted connection: tcp (192.168.0.20:22 - 172.24.17.139:53043)')).toMatchObject({
      kind: 'conn-killed', detail: 'attempted', ts: null, ts_sql: null, host: null, pid: 1,
      src: '192.168.0.20', src_port: 22, dst: '172.24.17.139', dst_port: 53043,
    });
    expect(ev(`honeyd[1]: Killing unknown connection: tcp ${T}`).detail).toBe('unknown');
  });

  it('service output E(..): payload keeps pipes, colons and a trailing \\r', () => {
    expect(ev('honeyd[20401]: E(10.99.0.2:35838 - 10.99.1.10:23): Attempted login: admin1/secret1')).toMatchObject({
      kind: 'service-output', proto: null, src: '10.99.0.2', src_port: 35838, dst: '10.99.1.10', dst_port: 23,
      payload: 'Attempted login: admin1/secret1',
    });
    expect(ev('Feb 10 22:37:48 bt honeyd[1]: E(10.99.0.2:1 - 10.99.1.10:80): GET /a|b): HTTP/1.0\r').payload).toBe('GET /a|b): HTTP/1.0\r');
    expect(ev('honeyd[1]: E(10.99.0.2:1 - 10.99.1.10:80): ').payload).toBe('');
  });

  it('connection established, with and without the command', () => {
    expect(ev(`honeyd[1]: Connection established: tcp ${T} <-> sh /opt/honeyd/scripts/web.sh`)).toMatchObject({
      kind: 'conn-established', proto: 'tcp', detail: 'sh /opt/honeyd/scripts/web.sh', dst_port: 80,
    });
    expect(ev(`honeyd[1]: Connection established: udp ${T}`)).toMatchObject({ kind: 'conn-established', proto: 'udp', detail: null });
  });

  it('resets, closes and udp messages', () => {
    expect(ev(`honeyd[1]: Connection dropped with reset: tcp ${T}`).kind).toBe('conn-reset-sent');
    expect(ev(`honeyd[1]: Connection dropped by reset: tcp ${T}`).kind).toBe('conn-reset-received');
    expect(ev(`honeyd[1]: Connection closed: tcp ${T}`).kind).toBe('conn-closed');
    expect(ev(`honeyd[1]: Connection to closed port: udp ${T}`)).toMatchObject({ kind: 'udp-closed-port', proto: 'udp' });
    expect(ev(`honeyd[1]: Connection: udp ${T}`)).toMatchObject({ kind: 'udp-connection', proto: 'udp' });
  });

  it('expiry messages with the pointer honeyd prints', () => {
    expect(ev(`honeyd[1]: Expiring TCP ${T} (0x55d0c0a01234) in state 4`)).toMatchObject({ kind: 'expire', proto: 'tcp', number: 4, src_port: 42026 });
    expect(ev(`honeyd[1]: Expiring UDP ${T} (0x55d0c0a01234)`)).toMatchObject({ kind: 'expire', proto: 'udp', number: null });
    expect(ev(`honeyd[1]: Expiring TCP ${T} ((nil)) in state 0`).number).toBe(0);
  });

  it('other ICMP replies and port unreachable', () => {
    for (const what of ['Timestamp', 'Address Mask', 'Info']) {
      expect(ev(`honeyd[1]: Sending ICMP ${what} Reply: 10.0.0.1 -> 10.0.0.2`)).toMatchObject({ kind: 'icmp-reply', detail: what, src: '10.0.0.1', dst: '10.0.0.2' });
    }
    expect(ev('honeyd[1]: Received port unreachable: 10.0.0.1 -> 10.0.0.2: errors 3')).toMatchObject({ kind: 'port-unreachable', number: 3 });
  });

  it('arp, signals, start and privilege messages', () => {
    expect(ev('honeyd[1]: arp reply 192.168.134.147 is-at 00:00:24:54:9e:06')).toMatchObject({ kind: 'arp', src: '192.168.134.147', dst: null, detail: '00:00:24:54:9e:06' });
    expect(ev('honeyd[1]: arp_send: who-has 192.168.134.254 tell 192.168.134.147')).toMatchObject({ kind: 'arp', src: '192.168.134.254', dst: '192.168.134.147' });
    expect(ev('honeyd[1]: arp_recv_cb: 192.168.134.254 at 00:50:56:e8:c9:74')).toMatchObject({ kind: 'arp', detail: '00:50:56:e8:c9:74' });
    expect(ev('honeyd[1]: exiting on signal 15')).toMatchObject({ kind: 'signal', detail: 'exiting', number: 15 });
    expect(ev('honeyd[1]: rotating log files on signal 30')).toMatchObject({ kind: 'signal', detail: 'rotating log files', number: 30 });
    expect(ev('honeyd[1]: rereading configuration on signal 1')).toMatchObject({ kind: 'signal', detail: 'rereading configuration' });
    expect(ev('honeyd[1]: started with -d -f honeyd.conf -l /tmp/logfile')).toMatchObject({ kind: 'started', detail: '-d -f honeyd.conf -l /tmp/logfile' });
    expect(ev('honeyd[1]: Demoting process privileges to uid 65534, gid 65534')).toMatchObject({ kind: 'privileges', number: 65534 });
    expect(ev('honeyd[1]: listening on lo: ip ')).toMatchObject({ kind: 'other', message: 'listening on lo: ip ' });
  });

  it('unprefixed stderr lines and the banner', () => {
    expect(ev('multi-line-b')).toMatchObject({ kind: 'unprefixed', message: 'multi-line-b', pid: null, ts: null });
    expect(parseSyslog('Honeyd V1.5c Copyright (c) 2002-2007 Niels Provos', CTX)).toEqual({ type: 'marker', marker: 'banner', ts: null, ts_sql: null });
  });

  it('RFC 3339 stamps carry their own offset; fraction truncated to ms', () => {
    expect(ev(`2024-02-10T22:37:48.123987+01:00 bt honeyd[7]: Connection closed: tcp ${T}`, { tz: 'Asia/Tokyo' })).toMatchObject({
      ts_sql: '2024-02-10 21:37:48.123', host: 'bt', pid: 7, kind: 'conn-closed',
    });
    expect(ev(`2024-02-10T22:37:48Z bt honeyd[7]: Connection closed: tcp ${T}`).ts_sql).toBe('2024-02-10 22:37:48.000');
  });

  it('space-padded day, leap day by ctx.year, default year = now in the zone', () => {
    expect(ev('Feb  1 01:02:03 bt honeyd[1]: exiting on signal 2').ts_sql).toBe('2012-02-01 01:02:03.000');
    expect(ev('Feb 29 01:02:03 bt honeyd[1]: exiting on signal 2', { tz: 'UTC', year: 2024 }).ts_sql).toBe('2024-02-29 01:02:03.000');
    expect(reason(parseSyslog('Feb 29 01:02:03 bt honeyd[1]: exiting on signal 2', { tz: 'UTC', year: 2023 }))).toMatch(/^bad-time: .*in 2023: day 29 does not exist/);
    expect(ev('Mar  5 01:02:03 bt honeyd[1]: exiting on signal 2', { tz: 'UTC' }).ts!.getUTCFullYear()).toBe(currentYear('UTC'));
  });

  it('without --year, a stamp more than a day ahead of the clock is last year\'s (December read in January)', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2027-01-01T00:05:00Z'));
      expect(ev('Dec 31 23:59:58 bt honeyd[1]: exiting on signal 2', { tz: 'UTC' }).ts_sql).toBe('2026-12-31 23:59:58.000');
      expect(ev('Jan  1 00:04:00 bt honeyd[1]: exiting on signal 2', { tz: 'UTC' }).ts_sql).toBe('2027-01-01 00:04:00.000');
      // a clock a few hours behind the sensor's is not a reason to go back a year
      expect(ev('Jan  1 06:00:00 bt honeyd[1]: exiting on signal 2', { tz: 'UTC' }).ts_sql).toBe('2027-01-01 06:00:00.000');
      // --year is taken as given
      expect(ev('Dec 31 23:59:58 bt honeyd[1]: exiting on signal 2', { tz: 'UTC', year: 2027 }).ts_sql).toBe('2027-12-31 23:59:58.000');
    } finally {
      vi.useRealTimers();
    }
  });

  it('a trailing \\r is tolerated on structured messages', () => {
    expect(ev(`honeyd[1]: Connection closed: tcp ${T}\r`)).toMatchObject({ kind: 'conn-closed', dst_port: 80 });
  });

  it('other programs in a syslog file are skipped, not rejected', () => {
    expect(parseSyslog('Feb 10 22:37:48 bt kernel: [ 1.234] eth1: link up', CTX)).toEqual({ type: 'skipped', reason: 'syslog line of another program' });
    expect(parseSyslog('Feb 10 22:37:48 bt honeydctl[3]: x', CTX)).toMatchObject({ type: 'skipped' });
    expect(parseSyslog('', CTX)).toEqual({ type: 'skipped', reason: 'empty line' });
  });
});

describe('parseSyslog rejections', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['invalid address in a tuple', 'honeyd[1]: Connection request: tcp (999.1.1.1:1 - 1.2.3.4:80)', /^bad-address: source address '999\.1\.1\.1'/],
    ['port above 65535', 'honeyd[1]: Connection request: tcp (1.1.1.1:1 - 1.2.3.4:65536)', /^bad-number: destination port/],
    ['truncated tuple', 'honeyd[1]: Connection request: tcp (172.24.17.139:53043 - 192.16', /^malformed: line ends early/],
    ['missing closing paren', 'honeyd[1]: Connection closed: tcp (1.1.1.1:1 - 1.2.3.4:80', /^malformed: line ends early/],
    ['text after a tuple', `honeyd[1]: Connection closed: tcp ${T} extra`, /^malformed: unexpected text/],
    ['E chunk without ": "', 'honeyd[1]: E(10.99.0.2:1 - 10.99.1.10:80)', /^malformed/],
    ['bad ICMP reply address', 'honeyd[1]: Sending ICMP Echo Reply: 10.0.0.1 -> 10.0.0.256', /^bad-address/],
    ['bad tag', 'Feb 10 22:37:48 bt honeyd[x]: hello', /^malformed: expected 'honeyd\[PID\]: '/],
    ['unknown month', 'Foo 10 22:37:48 bt honeyd[1]: hello', /^bad-time: unknown month 'Foo'/],
    ['hour 25', 'Feb 10 25:37:48 bt honeyd[1]: hello', /^bad-time/],
    ['bad RFC 3339 offset', '2024-02-10T22:37:48+25:00 bt honeyd[1]: hello', /^bad-time: invalid UTC offset/],
    ['unknown zone', 'Feb 10 22:37:48 bt honeyd[1]: hello', /^bad-zone/],
    ['NUL byte', 'honeyd[1]: E(10.99.0.2:1 - 10.99.1.10:80): a\u0000b', /^binary/],
    ['over the length limit', `honeyd[1]: E(10.99.0.2:1 - 10.99.1.10:80): ${'x'.repeat(65536)}`, /^too-long/],
  ];
  for (const [what, line, re] of cases) {
    const ctx = what === 'unknown zone' ? { tz: 'Nowhere/Special', year: 2012 } : CTX;
    it(what, () => expect(reason(parseSyslog(line, ctx))).toMatch(re));
  }
});

it('keeps a U+FFFD the attacker sent (invalid bytes arrive as \\xNN, never as U+FFFD)', () => {
  expect(parseSyslog('honeyd[1]: E(10.99.0.2:1 - 10.99.1.10:80): caf\uFFFD', CTX)).toMatchObject({ kind: 'service-output', payload: 'caf\uFFFD' });
});
