import { describe, expect, it } from 'vitest';
import { detectFormat } from '../../honeyd2db/parse/detect.ts';
import { LineRejectedError, UnknownFormatError } from '../../honeyd2db/parse/errors.ts';
import { EXIT } from '../../lib/errors.ts';
import { localLines, sharedLines } from '../fixtures/honeyd/lines.ts';

describe('detectFormat on the fixtures', () => {
  const expected: Record<string, string> = {
    'public/blackrain-honeyd-comments-2011.log': 'honeyd-log',
    'public/haskell-parser-comments-2008.log': 'honeyd-log',
    'public/honeydsum-comments-anonymized.log': 'honeyd-log',
    'public/honeyevse-honeyd.log': 'honeyd-log',
    'public/hpfeeds-collector-readme-excerpt.log': 'honeyd-log',
    'public/travisaltman-2012-honeyd-l.log': 'honeyd-log',
    'generated/flags-honeyd.log': 'honeyd-log',
    'public/travisaltman-2012-var-log-syslog.txt': 'syslog',
    'public/travisaltman-2012-honeyd-d-stderr.txt': 'syslog',
    'public/plebbian-honeyd-1.6d-debug-part1.txt': 'syslog',
    'public/plebbian-honeyd-1.6d-debug-part2.txt': 'syslog',
    'public/plebbian-honeyd-1.6d-debug-part3-tail.txt': 'syslog',
  };
  for (const [file, format] of Object.entries(expected)) {
    it(`${file} -> ${format}`, () => expect(detectFormat(sharedLines(file)).format).toBe(format));
  }

  it('the documented examples', () => {
    expect(detectFormat(localLines('doc-examples-connlog.log')).format).toBe('honeyd-log');
    expect(detectFormat(localLines('doc-examples-servicelog.log')).format).toBe('service-log');
    expect(detectFormat(localLines('doc-examples-scriptlog.log')).format).toBe('script-log');
    expect(detectFormat(localLines('doc-examples-stderr.txt')).format).toBe('syslog');
  });

  it('files with only start/stop markers: -l or -s, left to the caller', () => {
    for (const file of ['public/honeyd-docker-honeyd.log', 'public/honeyd-docker-honeyd.status', 'public/kippo_log-honeyd.log', 'generated/flags-service.log']) {
      expect(detectFormat(sharedLines(file)), file).toEqual({
        format: 'unknown',
        reason: "only 'honeyd log started/stopped' lines: a -l or -s file, cannot tell which yet",
        candidates: ['honeyd-log', 'service-log'],
      });
    }
  });

  it('the non-stock syslog variant is refused with a reason', () => {
    const d = detectFormat(sharedLines('public/nonstock-syslog-variant-2011.txt'));
    expect(d.format).toBe('unknown');
    expect(d.format === 'unknown' && d.reason).toMatch(/^non-stock honeyd variant: .*patched honeyd/);
  });
});

describe('detectFormat decisions', () => {
  const conn = '2012-02-10-22:37:48.0799 tcp(6) S 192.168.134.143 49677 192.168.134.147 135';
  const svc = '2026-11-28-02:29:13.0698 tcp(6) 10.99.0.2 35838 10.99.1.10 23: |Attempted login: admin1/secret1|';
  const marker = '2024-08-05-09:28:54.5669 honeyd log started ------';

  it('counts markers with the format they accompany', () => {
    expect(detectFormat([marker, svc, marker])).toEqual({ format: 'service-log', matched: 3, examined: 3 });
    expect(detectFormat([marker, conn])).toEqual({ format: 'honeyd-log', matched: 2, examined: 2 });
  });

  it('ignores empty lines and looks at no more than `max` lines', () => {
    expect(detectFormat(['', '  ', conn])).toEqual({ format: 'honeyd-log', matched: 1, examined: 1 });
    expect(detectFormat([conn, svc], 1)).toEqual({ format: 'honeyd-log', matched: 1, examined: 1 });
  });

  it('mixed formats are unknown, with the candidates', () => {
    expect(detectFormat([conn, svc])).toMatchObject({ format: 'unknown', candidates: ['honeyd-log', 'service-log'] });
  });

  it('a script log with a multi-line file name an attacker sent (kuang2.pl logs it quotemeta\'d) is still a script log', () => {
    const script = localLines('doc-examples-scriptlog.log').slice(0, 2);
    expect(detectFormat([...script, ...Array.from({ length: 60 }, () => '\\')])).toMatchObject({ format: 'script-log', matched: 2 });
    // but a file of other programs' lines is not
    expect(detectFormat([script[0]!, 'Feb 10 22:37:48 bt kernel: eth1: link up', 'Feb 10 22:37:49 bt cron[12]: job'])).toMatchObject({ format: 'unknown' });
  });

  it('-d stderr whose service output holds lines shaped like another format (attacker text) is still syslog', () => {
    const stderr = localLines('doc-examples-stderr.txt');
    expect(detectFormat([stderr[0]!, conn, svc, ...stderr.slice(3)])).toMatchObject({ format: 'syslog' });
    // as many such lines as honeyd's own: no verdict
    expect(detectFormat([stderr[0]!, conn, conn, stderr[3]!])).toMatchObject({ format: 'unknown' });
  });

  it('a system syslog whose first lines are other programs is still syslog', () => {
    expect(detectFormat(['Feb 10 22:37:48 bt kernel: eth1: link up', 'Feb 10 22:37:49 bt cron[12]: job'])).toMatchObject({ format: 'syslog' });
  });

  it('mostly unrecognised lines are not a -l file', () => {
    expect(detectFormat([conn, 'hello', 'world'])).toMatchObject({ format: 'unknown', reason: 'only 1 of 3 lines look like honeyd-log' });
  });

  it('nothing to go on', () => {
    expect(detectFormat([])).toMatchObject({ format: 'unknown', reason: 'no non-empty lines to judge' });
    expect(detectFormat(['hello world', '{"json": true}'])).toMatchObject({ format: 'unknown', reason: 'no line looks like honeyd output' });
  });
});

describe('UnknownFormatError / LineRejectedError', () => {
  it('carry a stable code, the usage exit code and a one-line message', () => {
    const d = detectFormat(sharedLines('public/kippo_log-honeyd.log'));
    if (d.format !== 'unknown') throw new Error('expected unknown');
    const e = new UnknownFormatError('kippo.log', d);
    expect(e).toMatchObject({ code: 'E_LOG_FORMAT', exitCode: EXIT.USAGE, candidates: ['honeyd-log', 'service-log'] });
    expect(e.message).toBe(
      "kippo.log: cannot tell which honeyd log this is: only 'honeyd log started/stopped' lines: a -l or -s file, cannot tell which yet; name the format (honeyd-log or service-log)",
    );
    const l = new LineRejectedError('x.log', 7, { type: 'rejected', code: 'bad-address', reason: "source address '999.1.1.1' is not an IPv4 address at column 35" });
    expect(l).toMatchObject({ code: 'E_LOG_LINE', exitCode: EXIT.USAGE, lineNo: 7 });
    expect(l.message).toBe("x.log:7: source address '999.1.1.1' is not an IPv4 address at column 35");
  });
});
