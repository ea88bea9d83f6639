/**
 * Blacklist feed formats: each parser turns a file's text into CIDR entries and rejects
 * (line number and reason). Pure: no I/O.
 *  - plain: one address or CIDR per line; '#' and ';' start comments
 *  - firehol: FireHOL .netset/.ipset files (plain with '#' headers)
 *  - dshield: DShield block.txt: "start<TAB>end<TAB>netblock<TAB>attacks..." (start and /netblock)
 *  - spamhaus: DROP/EDROP lists: "CIDR ; SBLnnn"
 *  - crowdsec-csv: `cscli decisions list -o raw` CSV, with a header naming columns; uses
 *    `value` (or `ip`/`range`) where `scope` is Ip or Range
 */
import { InputError } from './errors.ts';
import { parseCidr, type Cidr } from './ip.ts';

export const FEED_FORMATS = ['plain', 'firehol', 'dshield', 'spamhaus', 'crowdsec-csv'] as const;
export type FeedFormat = (typeof FEED_FORMATS)[number];

export interface FeedEntry {
  line: number;
  cidr: Cidr;
  comment?: string;
}

export interface FeedReject {
  line: number;
  text: string;
  reason: string;
}

export interface FeedResult {
  entries: FeedEntry[];
  rejects: FeedReject[];
}

function tryCidr(text: string, line: number, out: FeedResult, comment?: string): void {
  try {
    // feeds publish networks with host bits now and then; clear them rather than lose the entry
    out.entries.push({ line, cidr: parseCidr(text, 'entry', { loose: true }), ...(comment ? { comment } : {}) });
  } catch (err) {
    out.rejects.push({ line, text: text.slice(0, 80), reason: (err as Error).message });
  }
}

function splitCsv(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

export function parseFeed(text: string, format: FeedFormat): FeedResult {
  const out: FeedResult = { entries: [], rejects: [] };
  const lines = text.split('\n');
  let header: string[] | undefined;
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.replace(/\r$/, '').trim();
    if (!line) return;
    switch (format) {
      case 'plain':
      case 'firehol': {
        if (line.startsWith('#') || line.startsWith(';')) return;
        tryCidr(line.split(/[\s#;]/)[0]!, n, out);
        return;
      }
      case 'spamhaus': {
        if (line.startsWith(';') || line.startsWith('#')) return;
        const [cidr, sbl] = line.split(';').map((s) => s.trim());
        tryCidr(cidr!, n, out, sbl || undefined);
        return;
      }
      case 'dshield': {
        if (line.startsWith('#') || /^start\s/i.test(line)) return;
        const f = line.split(/\s+/);
        if (f.length < 3 || !/^\d{1,3}$/.test(f[2]!)) {
          out.rejects.push({ line: n, text: line.slice(0, 80), reason: 'expected: start end netblock ...' });
          return;
        }
        tryCidr(`${f[0]}/${f[2]}`, n, out, f[4] ? `attacks ${f[3]}` : undefined);
        return;
      }
      case 'crowdsec-csv': {
        const cols = splitCsv(line);
        if (!header) {
          header = cols.map((c) => c.toLowerCase());
          if (!header.some((h) => ['value', 'ip', 'range'].includes(h))) {
            throw new InputError(`crowdsec-csv: line 1 must be a header naming a value, ip or range column (got: ${line.slice(0, 80)})`);
          }
          return;
        }
        const get = (name: string) => {
          const k = header!.indexOf(name);
          return k >= 0 ? cols[k] : undefined;
        };
        const scope = get('scope')?.toLowerCase();
        if (scope && scope !== 'ip' && scope !== 'range') {
          out.rejects.push({ line: n, text: line.slice(0, 80), reason: `scope ${scope} is not an address or range` });
          return;
        }
        const value = get('value') ?? get('ip') ?? get('range');
        if (!value) {
          out.rejects.push({ line: n, text: line.slice(0, 80), reason: 'no value' });
          return;
        }
        const reason = get('reason') ?? get('scenario');
        tryCidr(value, n, out, reason || undefined);
        return;
      }
    }
  });
  return out;
}
