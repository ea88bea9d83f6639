/**
 * Every line of every shared honeyd fixture goes through the parser of its file's format, and
 * the parsers survive garbage: no throw, always one of the result types, whatever the input.
 * The per-format test files check the field values; this one makes sure no file is forgotten.
 */
import { describe, expect, it } from 'vitest';
import { parserFor, type LogFormat } from '../../honeyd2db/parse/index.ts';
import { parseConnLog } from '../../honeyd2db/parse/connlog.ts';
import { parseScriptLog } from '../../honeyd2db/parse/scriptlog.ts';
import { parseServiceLog } from '../../honeyd2db/parse/servicelog.ts';
import { parseSyslog } from '../../honeyd2db/parse/syslog.ts';
import type { ParseResult } from '../../honeyd2db/parse/types.ts';
import { sharedFiles, sharedLines } from '../fixtures/honeyd/lines.ts';

/** The format of each shared fixture and how many of its lines must be rejected. */
const FORMAT: Record<string, { format: LogFormat; rejected: number }> = {
  'generated/flags-honeyd.log': { format: 'honeyd-log', rejected: 0 },
  'generated/flags-service.log': { format: 'service-log', rejected: 0 },
  'public/blackrain-honeyd-comments-2011.log': { format: 'honeyd-log', rejected: 0 },
  'public/haskell-parser-comments-2008.log': { format: 'honeyd-log', rejected: 0 },
  'public/honeyd-docker-honeyd.log': { format: 'honeyd-log', rejected: 0 },
  'public/honeyd-docker-honeyd.status': { format: 'service-log', rejected: 0 },
  // anonymised addresses (xxx.xxx.xxx.xxx) and 3-digit fractions
  'public/honeydsum-comments-anonymized.log': { format: 'honeyd-log', rejected: 10 },
  'public/honeyevse-honeyd.log': { format: 'honeyd-log', rejected: 0 },
  'public/hpfeeds-collector-readme-excerpt.log': { format: 'honeyd-log', rejected: 0 },
  'public/kippo_log-honeyd.log': { format: 'honeyd-log', rejected: 0 },
  // the patched-honeyd START/END/PROBE messages; its arp lines are stock
  'public/nonstock-syslog-variant-2011.txt': { format: 'syslog', rejected: 10 },
  'public/plebbian-honeyd-1.6d-debug-part1.txt': { format: 'syslog', rejected: 0 },
  'public/plebbian-honeyd-1.6d-debug-part2.txt': { format: 'syslog', rejected: 0 },
  'public/plebbian-honeyd-1.6d-debug-part3-tail.txt': { format: 'syslog', rejected: 0 },
  'public/travisaltman-2012-honeyd-d-stderr.txt': { format: 'syslog', rejected: 0 },
  'public/travisaltman-2012-honeyd-l.log': { format: 'honeyd-log', rejected: 0 },
  'public/travisaltman-2012-var-log-syslog.txt': { format: 'syslog', rejected: 0 },
};

const RESULT_TYPES = ['conn', 'service', 'syslog', 'script', 'marker', 'skipped', 'rejected'];

function wellFormed(r: ParseResult): boolean {
  if (!RESULT_TYPES.includes(r.type)) return false;
  if (r.type === 'rejected') return typeof r.reason === 'string' && r.reason.length > 0 && typeof r.code === 'string';
  return true;
}

describe('every shared fixture file', () => {
  it('has a known format (a new fixture file must be added here)', () => {
    expect(sharedFiles().sort()).toEqual(Object.keys(FORMAT).sort());
  });

  for (const [file, { format, rejected }] of Object.entries(FORMAT)) {
    it(`${file}: every line parses as ${format}, ${rejected} rejected`, () => {
      const parse = parserFor(format);
      const lines = sharedLines(file);
      const results = lines.map((l) => parse(l, { tz: 'UTC', year: 2012 }));
      expect(results.every(wellFormed)).toBe(true);
      expect(results.filter((r) => r.type === 'rejected')).toHaveLength(rejected);
      expect(results.filter((r) => r.type === 'skipped')).toHaveLength(0);
    });
  }
});

describe('no parser throws, whatever the line', () => {
  const parsers = [parseConnLog, parseServiceLog, parseSyslog, parseScriptLog];
  const seeds = sharedFiles().flatMap((f) => sharedLines(f));

  // a small deterministic PRNG so a failure reproduces
  let state = 0x2545f491;
  const rnd = (n: number): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  const NOISE = ['\r', ' ', ':', '|', '(', ')', '[', ']', '{', '}', '-', '.', '9', '0', '\u0000', '\uFFFD', 'é', '\t', 'S', 'E'];

  it('mutated fixture lines (cuts, inserts, deletions) give a well-formed result', () => {
    let n = 0;
    for (let round = 0; round < 4000; round++) {
      let line = seeds[rnd(seeds.length)]!;
      for (let k = rnd(4); k >= 0; k--) {
        const at = rnd(line.length + 1);
        switch (rnd(3)) {
          case 0: line = line.slice(0, at); break;
          case 1: line = line.slice(0, at) + NOISE[rnd(NOISE.length)]! + line.slice(at); break;
          default: line = line.slice(0, at) + line.slice(at + 1 + rnd(5));
        }
      }
      for (const parse of parsers) {
        expect(wellFormed(parse(line, { tz: 'Europe/Paris' })), JSON.stringify(line)).toBe(true);
        n++;
      }
    }
    expect(n).toBe(16000);
  });

  it('odd inputs', () => {
    const odd = ['', ' ', '\r', '\n', '|', '||', 'honeyd[', 'honeyd[1]: ', 'honeyd[1]: E(', '2012-02-10-22:37:48.0799 ', '2012-02-10-22:37:48.0799 tcp(6) - ', '\uD800', 'x'.repeat(65537)];
    for (const line of odd) for (const parse of parsers) expect(wellFormed(parse(line, { tz: 'UTC' })), JSON.stringify(line)).toBe(true);
  });
});
