/**
 * Blacklist feed formats: each parser turns a file's text into CIDR entries and rejects
 * (line number and reason). Pure: no I/O.
 *  - plain: one address or CIDR per line; '#' and ';' start comments
 *  - firehol: FireHOL .netset/.ipset files (plain with '#' headers)
 *  - dshield: DShield block.txt: "start<TAB>end<TAB>netblock<TAB>attacks..." (start and /netblock)
 *  - spamhaus: DROP/EDROP lists: "CIDR ; SBLnnn"
 *  - crowdsec-csv: `cscli decisions list -o raw` CSV (header id,source,ip,reason,action,...,
 *    simulated,...; the ip column is SCOPE:VALUE, e.g. Ip:192.0.2.1 or Range:192.0.2.0/24), or
 *    a CSV with separate scope and value columns (cscli decisions import's). Only bans of an Ip
 *    or Range are entries; simulated decisions, other actions (captcha) and other scopes
 *    (Country, AS, Username) are skipped and counted, not errors. A ban's expiration (time left,
 *    `3h59m4.5s`) becomes its entry's expiry, unless the import gives --expire.
 */
import { InputError } from './errors.ts';
import { parseCidr, type Cidr } from './ip.ts';

export const FEED_FORMATS = ['plain', 'firehol', 'dshield', 'spamhaus', 'crowdsec-csv'] as const;
export type FeedFormat = (typeof FEED_FORMATS)[number];

export interface FeedEntry {
  line: number;
  cidr: Cidr;
  comment?: string;
  /** how long the feed itself says to block it (crowdsec-csv: the decision's expiration) */
  expiresInS?: number;
}

/**
 * A decision's time left as CrowdSec writes it: a Go duration (`3h59m4.5s`, `59m`, `120ms`, and
 * `1d` as some versions print), or a date it ends at. Seconds, rounded up; `expired` for a
 * decision whose time is up (0s, a negative duration, a past date: it is not imported, rather
 * than blocked for good); `unreadable` for text that is neither; undefined when there is none.
 */
export function crowdsecExpiry(text: string | undefined, now = Date.now()): number | 'expired' | 'unreadable' | undefined {
  const t = text?.trim();
  if (!t) return undefined;
  const go = /^-?(?:(\d+(?:\.\d+)?)(d|h|m|s|ms|us|µs|ns))+$/;
  if (go.test(t)) {
    if (t.startsWith('-')) return 'expired';
    const unit: Record<string, number> = { d: 86400, h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, ns: 1e-9 };
    let secs = 0;
    for (const m of t.matchAll(/(\d+(?:\.\d+)?)(d|h|ms|m|s|us|µs|ns)/g)) secs += Number(m[1]) * unit[m[2]!]!;
    return secs > 0 ? Math.ceil(secs) : 'expired';
  }
  const at = Date.parse(t);
  if (!Number.isFinite(at)) return 'unreadable';
  return at > now ? Math.ceil((at - now) / 1000) : 'expired';
}

export interface FeedReject {
  line: number;
  text: string;
  reason: string;
}

export interface FeedResult {
  entries: FeedEntry[];
  rejects: FeedReject[];
  /** lines read fine that are not blocks to import (a simulated or captcha decision...) */
  skipped: FeedReject[];
  /** entries written with host bits set (203.0.113.7/24), imported as their network */
  rounded: { line: number; text: string; cidr: string }[];
}

/** The scopes cscli writes before the value in its `ip` column (SCOPE:VALUE). */
const CROWDSEC_SCOPE = /^(ip|range|country|as|username|session|user|fingerprint):(.*)$/i;

function tryCidr(text: string, line: number, out: FeedResult, comment?: string): void {
  try {
    // feeds publish networks with host bits now and then; clear them rather than lose the
    // entry, and say so (the importer sees what was blocked: 203.0.113.0/24, not one address)
    const cidr = parseCidr(text, 'entry', { loose: true });
    if (cidr.prefix < (cidr.family === 4 ? 32 : 128) && hostBitsSet(text)) out.rounded.push({ line, text: text.trim().slice(0, 80), cidr: cidr.text });
    out.entries.push({ line, cidr, ...(comment ? { comment } : {}) });
  } catch (err) {
    out.rejects.push({ line, text: text.slice(0, 80), reason: (err as Error).message });
  }
}

function hostBitsSet(text: string): boolean {
  try {
    parseCidr(text, 'entry');
    return false;
  } catch {
    return true; // (the loose parse read it: host bits are what the strict one refuses)
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
  const out: FeedResult = { entries: [], rejects: [], skipped: [], rounded: [] };
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
        let scope = get('scope')?.toLowerCase();
        let value = get('value') ?? get('ip') ?? get('range');
        const scoped = value ? CROWDSEC_SCOPE.exec(value) : null;
        if (scoped) {
          scope = scoped[1]!.toLowerCase();
          value = scoped[2]!;
        }
        const skip = (why: string) => out.skipped.push({ line: n, text: line.slice(0, 80), reason: why });
        if (get('simulated')?.toLowerCase() === 'true') return skip('simulated decision');
        const action = (get('action') ?? get('type'))?.toLowerCase();
        if (action && action !== 'ban') return skip(`action ${action.slice(0, 20)} is not a ban`);
        if (scope && scope !== 'ip' && scope !== 'range') return skip(`scope ${scope} is not an address or range`);
        if (!value) {
          out.rejects.push({ line: n, text: line.slice(0, 80), reason: 'no value' });
          return;
        }
        const left = crowdsecExpiry(get('expiration') ?? get('until') ?? get('duration'));
        if (left === 'expired') return skip('decision expired');
        if (left === 'unreadable') {
          out.rejects.push({ line: n, text: line.slice(0, 80), reason: 'unreadable expiration (a duration such as 3h59m or a date)' });
          return;
        }
        const reason = get('reason') ?? get('scenario');
        tryCidr(value, n, out, reason || undefined);
        const e = out.entries.at(-1);
        if (left !== undefined && e?.line === n) e.expiresInS = left;
        return;
      }
    }
  });
  return out;
}
