/**
 * Every shared honeyd fixture through `ipms ingest` into the real database: each stock -l line
 * becomes a SensorLog row whose fields are the ones printed on the line (checked against a
 * regex reading of the line written here, independent of the shim's hand-written scanner),
 * each syslog / -d line a Data row with its message, markers are counted and not stored, and
 * the files no stock honeyd writes are refused line by line with a reason.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDb } from '../helpers/db.ts';
import { SHARED, sharedFiles, sharedLines } from '../fixtures/honeyd/lines.ts';
import { ingestJson } from './helpers/cli.ts';

let t: TestDb;
const state = mkdtempSync(join(tmpdir(), 'ipms-fx-'));
beforeAll(async () => {
  t = await freshDatabase('ingest_fixtures');
});
afterAll(async () => t?.close());

interface Want {
  ts: string;
  kind: string[];
  proto: string;
  src: string;
  src_port: number | null;
  dst: string;
  dst_port: number | null;
  icmp_type: number | null;
  icmp_code: number | null;
  length: number | null;
  tcp_flags: string | null;
  os: string | null;
  remark: string | null;
  bytes_in: number | null;
  bytes_out: number | null;
}

const n = (s: string | undefined) => (s === undefined ? null : Number(s));
const os = (s: string | undefined) => (s === undefined ? null : s.trimEnd());

/** A -l line read with regexes (HONEYD-FORMATS.md 1.2), zone UTC: what its row must hold. */
function expected(line: string): Want | 'marker' {
  const m = /^(\d{4}-\d\d-\d\d)-(\d\d:\d\d:\d\d)\.(\d{3})\d (.*)$/.exec(line);
  if (!m) throw new Error(`not a -l line: ${line}`);
  const ts = `${m[1]} ${m[2]}.${m[3]}`;
  const rest = m[4]!;
  if (/^honeyd log (started|stopped) ------$/.test(rest)) return 'marker';
  const h = /^([\w.+/-]+)\((\d+)\) ([SE-]) (.*)$/.exec(rest)!;
  const [proto, kindChar, tail] = [h[1]!, h[3]!, h[4]!];
  const base = {
    ts, proto, kind: kindChar === 'S' ? ['start', 'stray'] : kindChar === 'E' ? ['end'] : ['probe', 'stray'],
    icmp_type: null, icmp_code: null, length: null, tcp_flags: null, os: null, remark: null, bytes_in: null, bytes_out: null,
  };
  let r: RegExpExecArray | null;
  if (kindChar === 'S' && (r = /^(\S+) (\d+) (\S+) (\d+)(?: \[(.*)\])?(?: \{(.*)\})?$/.exec(tail))) {
    return { ...base, src: r[1]!, src_port: n(r[2]), dst: r[3]!, dst_port: n(r[4]), os: os(r[5]), remark: r[6] ?? null };
  }
  if (kindChar === 'E' && (r = /^(\S+) (\d+) (\S+) (\d+): (\d+) (\d+)$/.exec(tail))) {
    return { ...base, src: r[1]!, src_port: n(r[2]), dst: r[3]!, dst_port: n(r[4]), bytes_in: n(r[5]), bytes_out: n(r[6]) };
  }
  if (proto === 'tcp' && (r = /^(\S+) (\d+) (\S+) (\d+): (\d+) ([FSRPAUEC]*)(?: \[(.*)\])?(?: \{(.*)\})?$/.exec(tail))) {
    return { ...base, src: r[1]!, src_port: n(r[2]), dst: r[3]!, dst_port: n(r[4]), length: n(r[5]), tcp_flags: r[6]!, os: os(r[7]), remark: r[8] ?? null };
  }
  if (proto === 'udp' && (r = /^(\S+) (\d+) (\S+) (\d+): (\d+)(?: \[(.*)\])?$/.exec(tail))) {
    return { ...base, src: r[1]!, src_port: n(r[2]), dst: r[3]!, dst_port: n(r[4]), length: n(r[5]), os: os(r[6]) };
  }
  if (proto === 'icmp' && (r = /^(\S+) (\S+): (\d+)\((\d+)\): (\d+)(?: \[(.*)\])?$/.exec(tail))) {
    return { ...base, src: r[1]!, src_port: null, dst: r[2]!, dst_port: null, icmp_type: n(r[3]), icmp_code: n(r[4]), length: n(r[5]), os: os(r[6]) };
  }
  r = /^(\S+) (\S+): (\d+)(?: \[(.*)\])?$/.exec(tail)!;
  return { ...base, src: r[1]!, src_port: null, dst: r[2]!, dst_port: null, length: n(r[3]), os: os(r[4]) };
}

/** What each shared file is and what must come of it. */
const FILES: Record<string, { format: string; rejected: number; reason?: RegExp }> = {
  'generated/flags-honeyd.log': { format: 'honeyd-log', rejected: 0 },
  // only start/stop markers: -l and -s look the same until a real line comes
  'generated/flags-service.log': { format: 'markers-only', rejected: 0 },
  'public/blackrain-honeyd-comments-2011.log': { format: 'honeyd-log', rejected: 0 },
  'public/haskell-parser-comments-2008.log': { format: 'honeyd-log', rejected: 0 },
  'public/honeyd-docker-honeyd.log': { format: 'markers-only', rejected: 0 },
  'public/honeyd-docker-honeyd.status': { format: 'markers-only', rejected: 0 },
  // authors' anonymised addresses (xxx.xxx.xxx.xxx) and 3-digit fractions: not stock output
  'public/honeydsum-comments-anonymized.log': { format: 'honeyd-log', rejected: 10, reason: /not an IPv4 address|3 fractional digits/ },
  'public/honeyevse-honeyd.log': { format: 'honeyd-log', rejected: 0 },
  'public/hpfeeds-collector-readme-excerpt.log': { format: 'honeyd-log', rejected: 0 },
  'public/kippo_log-honeyd.log': { format: 'markers-only', rejected: 0 },
  'public/nonstock-syslog-variant-2011.txt': { format: 'unknown', rejected: 17, reason: /non-stock honeyd variant/ },
  'public/plebbian-honeyd-1.6d-debug-part1.txt': { format: 'syslog', rejected: 0 },
  'public/plebbian-honeyd-1.6d-debug-part2.txt': { format: 'syslog', rejected: 0 },
  'public/plebbian-honeyd-1.6d-debug-part3-tail.txt': { format: 'syslog', rejected: 0 },
  'public/travisaltman-2012-honeyd-d-stderr.txt': { format: 'syslog', rejected: 0 },
  'public/travisaltman-2012-honeyd-l.log': { format: 'honeyd-log', rejected: 0 },
  'public/travisaltman-2012-var-log-syslog.txt': { format: 'syslog', rejected: 0 },
};

describe('ipms ingest of every shared honeyd fixture', () => {
  it('knows every fixture file (a new one must be added here)', () => {
    expect(sharedFiles().sort()).toEqual(Object.keys(FILES).sort());
  });

  Object.entries(FILES).forEach(([file, want], i) => {
    it(`${file}: ${want.format}, ${want.rejected} refused`, async () => {
      const sensor = `fx${i}`;
      const lines = sharedLines(file);
      const s = await ingestJson(t.url, ['--sensor', sensor, '--tz', 'UTC', '--year', '2012', '--state-dir', state, SHARED + file]);
      expect(s.counts.lines).toBe(lines.length);
      expect(s.counts.rejected).toBe(want.rejected);
      expect(s.files[0]!.format).toBe(want.format);
      expect(s.files[0]!.offset).toBe(readFileSync(SHARED + file).length);
      if (want.reason) {
        const rejects = readFileSync(s.rejects_file!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { sensor: string; reason: string; text: string; line: number });
        const mine = rejects.filter((r) => r.sensor === sensor);
        expect(mine).toHaveLength(want.rejected);
        for (const r of mine) {
          expect(r.reason).toMatch(want.reason);
          expect(r.text).toBe(lines[r.line - 1]);
        }
      }
      const [sid] = await t.db.rows<{ id: number }>('SELECT id FROM Sensor WHERE name = ?', [sensor]);
      if (want.format === 'honeyd-log' || want.format === 'markers-only') {
        const rows = await t.db.rows<Record<string, unknown>>(
          `SELECT DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f') AS ts, kind, proto, src, src_port, dst, dst_port, icmp_type, icmp_code, length,
                  tcp_flags, os, remark, bytes_in, bytes_out, raw FROM SensorLogView WHERE sensor_id = ? ORDER BY id`,
          [sid!.id],
        );
        // the one -l file with refused lines (honeydsum's) has nothing else
        const events = want.rejected ? [] : lines.map((l) => [l, expected(l)] as const).filter(([, e]) => e !== 'marker');
        expect(rows).toHaveLength(events.length);
        expect(s.counts.markers).toBe(lines.length - events.length - want.rejected);
        rows.forEach((row, k) => {
          const [line, e] = events[k]! as [string, Want];
          expect(row.raw, 'raw line kept').toBe(line);
          expect(e.kind, line).toContain(row.kind);
          const { kind: _k, ...fields } = e;
          expect({ ...row, ts: String(row.ts).slice(0, 23), kind: undefined, raw: undefined }, line).toEqual({ ...fields, kind: undefined, raw: undefined });
        });
      } else if (want.format === 'syslog') {
        const rows = await t.db.rows<{ payload: string; raw: string; source: string }>('SELECT payload, raw, source FROM Data WHERE sensor_id = ? ORDER BY id', [sid!.id]);
        const stored = lines.filter((l) => l !== '' && !/^Honeyd V\S+ Copyright/.test(l) && !/^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ (?!honeyd\[)/.test(l));
        expect(rows.map((r) => r.raw)).toEqual(stored);
        for (const r of rows) {
          expect(r.source).toBe('syslog');
          const msg = /honeyd\[\d+\]: (.*)$/.exec(r.raw);
          const chunk = msg ? /^E\(\S+ - \S+\): (.*)$/.exec(msg[1]!) : null;
          expect(r.payload, r.raw).toBe(chunk ? chunk[1] : msg ? msg[1] : r.raw);
        }
      } else {
        const [c] = await t.db.rows<{ n: number }>('SELECT (SELECT COUNT(*) FROM SensorLog WHERE sensor_id = ?) + (SELECT COUNT(*) FROM Data WHERE sensor_id = ?) AS n', [sid!.id, sid!.id]);
        expect(Number(c!.n)).toBe(0);
      }
    });
  });
});
