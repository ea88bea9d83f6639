import { describe, expect, it } from 'vitest';
import { parseServiceLog } from '../../honeyd2db/parse/servicelog.ts';
import type { ParseResult, ServiceEvent } from '../../honeyd2db/parse/types.ts';
import { localLines, sharedLines } from '../fixtures/honeyd/lines.ts';

const UTC = { tz: 'UTC' };
const HEAD = '2026-11-28-02:29:13.0698 tcp(6) 10.99.0.2 35838 10.99.1.10 23: ';

function svc(line: string, ctx = UTC): ServiceEvent {
  const r = parseServiceLog(line, ctx);
  if (r.type !== 'service') throw new Error(`expected a service event for '${line}', got ${JSON.stringify(r)}`);
  return r;
}

function reason(r: ParseResult): string {
  if (r.type !== 'rejected') throw new Error(`expected a rejection, got ${JSON.stringify(r)}`);
  return `${r.code}: ${r.reason}`;
}

describe('parseServiceLog on every -s fixture line', () => {
  for (const file of ['public/honeyd-docker-honeyd.status', 'generated/flags-service.log']) {
    it(`${file}: only start/stop markers, with their times`, () => {
      const lines = sharedLines(file);
      for (const line of lines) {
        const r = parseServiceLog(line, UTC);
        expect(r.type, line).toBe('marker');
        if (r.type !== 'marker') continue;
        expect(r.marker).toBe(line.endsWith('started ------') ? 'log-started' : 'log-stopped');
        expect(r.ts_sql).toBe(`${line.slice(0, 10)} ${line.slice(11, 19)}.${line.slice(20, 23)}`);
      }
      expect(lines.length).toBeGreaterThan(0);
    });
  }

  it('the honeyd 1.6a examples: tuple and text between the pipes, for every line', () => {
    const lines = localLines('doc-examples-servicelog.log');
    let events = 0;
    for (const line of lines) {
      const r = parseServiceLog(line, UTC);
      if (r.type === 'marker') continue;
      const e = svc(line);
      events++;
      // reprinting with log.c:292's format gives the line back
      expect(`${e.proto}(${e.proto_num}) ${e.src} ${e.src_port} ${e.dst} ${e.dst_port}: |${e.payload}|`).toBe(line.slice(25));
    }
    expect(events).toBe(9);
  });
});

describe('parseServiceLog fields', () => {
  it('a tcp line', () => {
    expect(svc(`${HEAD}|Attempted login: admin1/secret1|`)).toEqual({
      type: 'service', ts: new Date('2026-11-28T02:29:13.069Z'), ts_sql: '2026-11-28 02:29:13.069',
      proto: 'tcp', proto_num: 6, src: '10.99.0.2', src_port: 35838, dst: '10.99.1.10', dst_port: 23,
      payload: 'Attempted login: admin1/secret1',
    });
  });

  it('a udp line, in the sensor zone', () => {
    const e = svc('2026-11-28-02:34:36.4417 udp(17) 10.99.0.2 49363 10.99.1.10 53: |payload[1] (20 bytes): query 1|', { tz: 'Europe/Paris' });
    expect(e).toMatchObject({ proto: 'udp', proto_num: 17, src_port: 49363, dst_port: 53, ts_sql: '2026-11-28 01:34:36.441' });
  });

  it('|| is empty text', () => {
    expect(svc(`${HEAD}||`).payload).toBe('');
  });

  it('text may contain pipes, ": |", and run to the last pipe', () => {
    expect(svc(`${HEAD}|a|b||c|`).payload).toBe('a|b||c');
    expect(svc(`${HEAD}|x: |y|`).payload).toBe('x: |y');
    expect(svc(`${HEAD}|||`).payload).toBe('|');
    expect(svc(`${HEAD}| spaced |`).payload).toBe(' spaced ');
  });

  it('a lone \\r inside the text is text (scripts write CRLF payloads)', () => {
    expect(svc(`${HEAD}|GET / HTTP/1.0\r|`).payload).toBe('GET / HTTP/1.0\r');
    expect(svc(`${HEAD}|a\rb|`).payload).toBe('a\rb');
  });

  it('control characters other than NUL are kept (honeyd passes script bytes through)', () => {
    expect(svc(`${HEAD}|payload[2] (30 bytes): ww\u0001|`).payload).toBe('payload[2] (30 bytes): ww\u0001');
  });

  it('a 1023-byte chunk (honeyd read() limit) is one line', () => {
    const x = 'x'.repeat(1023);
    expect(svc(`${HEAD}|${x}|`).payload).toBe(x);
  });
});

describe('parseServiceLog rejections', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['no closing pipe (truncated)', `${HEAD}|Attempted login: adm`, /^malformed: service text has no closing '\|'/],
    ['only the opening pipe', `${HEAD}|`, /^malformed: service text has no closing/],
    ['cut inside the tuple', '2026-11-28-02:29:13.0698 tcp(6) 10.99.0.2 35838 10.99', /^malformed/],
    ['cut before the text', '2026-11-28-02:29:13.0698 tcp(6) 10.99.0.2 35838 10.99.1.10 23:', /^malformed: line ends early, expected ': \|'/],
    ['text after the closing pipe (CRLF file)', `${HEAD}|text|\r`, /^malformed: service text has no closing/],
    ['invalid address', '2026-11-28-02:29:13.0698 tcp(6) 999.99.0.2 35838 10.99.1.10 23: |x|', /^bad-address: source address '999\.99\.0\.2'/],
    ['port above 65535', '2026-11-28-02:29:13.0698 tcp(6) 10.99.0.2 35838 10.99.1.10 65536: |x|', /^bad-number: destination port/],
    ['icmp tuple', '2026-11-28-02:29:13.0698 icmp(1) 10.99.0.2 10.99.1.10: |x|', /^malformed: service lines carry a tcp or udp tuple/],
    ['invalid date', '2023-02-30-02:29:13.0698 tcp(6) 10.99.0.2 35838 10.99.1.10 23: |x|', /^bad-time/],
    ['a -l line', '2012-02-10-22:37:48.0799 tcp(6) S 192.168.134.143 49677 192.168.134.147 135', /^bad-address|^malformed/],
    ['a syslog line', 'Feb 10 22:37:48 bt honeyd[12073]: E(10.99.0.2:35838 - 10.99.1.10:23): x', /^malformed/],
    ['NUL byte', `${HEAD}|a\u0000b|`, /^binary: line contains a NUL byte/],
    ['over the length limit', `${HEAD}|${'x'.repeat(64 * 1024)}|`, /^too-long/],
  ];
  for (const [what, line, re] of cases) {
    it(what, () => expect(reason(parseServiceLog(line, UTC))).toMatch(re));
  }
});

it('keeps a U+FFFD the attacker sent (invalid bytes arrive as \\xNN, never as U+FFFD)', () => {
  expect(parseServiceLog(`${HEAD}|caf\uFFFD|`, UTC)).toMatchObject({ type: 'service', payload: 'caf\uFFFD' });
});
