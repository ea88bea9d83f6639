/** `ipms why IP`: what explains a block, or its absence. */
import type { Queryable } from '../db.ts';
import { listRules, type RuleOut } from './rules.ts';
import { protectionOf, type ProtectedOut } from './lists.ts';
import { bytesToIp, parseCidr } from '../ip.ts';

export interface WhyOut {
  ip: string;
  events: { sensor: string; kind: string; count: number; first: string; last: string }[];
  protected_by: ProtectedOut[];
  /** the sensors that registered it as a honeypot, and whether a range approved for them holds it */
  honeypot_of: { sensor: string; approved: boolean }[];
  /** the highest count per threshold over the windows still kept (counter horizon) */
  thresholds: { name: string; enabled: boolean; max_hits: number; window_s: number; best_count: number; crossed: boolean }[];
  rules: RuleOut[];
  verdict: string;
}

export async function why(q: Queryable, ip: Buffer): Promise<WhyOut> {
  const events = await q.rows<{ sensor: string; kind: string; count: number; first: Date; last: Date }>(
    `SELECT s.name AS sensor, l.kind, COUNT(*) AS count, MIN(l.ts) AS first, MAX(l.ts) AS last
     FROM SensorLog l JOIN Sensor s ON s.id = l.sensor_id WHERE l.src_ip = ? GROUP BY s.name, l.kind ORDER BY s.name, l.kind`,
    [ip],
  );
  const protectedBy = await protectionOf(q, ip);
  const honeypotOf = (await q.rows<{ sensor: string; approved: number }>(
    'SELECT s.name AS sensor, v.approved FROM VirtHost v JOIN Sensor s ON s.id = v.sensor_id WHERE v.address = ? ORDER BY s.name', [ip],
  )).map((h) => ({ sensor: h.sensor, approved: Boolean(h.approved) }));
  const th = await q.rows<{ name: string; enabled: number; max_hits: number; window_s: number; best: number | null; fired: number | null }>(
    `SELECT t.name, t.enabled, t.max_hits, t.window_s, MAX(c.hits) AS best, MAX(c.fired) AS fired
     FROM Threshold t LEFT JOIN ThresholdCounter c ON c.threshold_id = t.id AND c.src_ip = ?
     GROUP BY t.id, t.name, t.enabled, t.max_hits, t.window_s ORDER BY t.id`,
    [ip],
  );
  const rules = await listRules(q, { src: parseCidr(bytesToIp(ip)), limit: 50 });
  const thresholds = th.map((t) => ({
    name: t.name, enabled: Boolean(t.enabled), max_hits: t.max_hits, window_s: t.window_s,
    best_count: Number(t.best ?? 0), crossed: Boolean(t.fired),
  }));
  const open = rules.filter((r) => ['pending', 'active', 'disabled'].includes(r.status));
  // the rule that says most: enforced before disabled, all traffic before a narrower one
  const rank = (r: RuleOut) => (r.status === 'disabled' ? 2 : 0) + (r.dst || r.dst_port || r.proto ? 1 : 0);
  open.sort((a, b) => rank(a) - rank(b));
  const closed = rules.filter((r) => !open.includes(r));
  let verdict: string;
  if (open.length) {
    const r = open[0]!;
    const where = r.devices.length ? r.devices.map((d) => `${d.device} ${d.state}`).join(', ') : 'no device takes it';
    const what = r.dst || r.dst_port || r.proto
      ? ` (only ${[r.proto, r.dst ? `to ${r.dst}` : '', r.dst_port ? `port ${r.dst_port}` : ''].filter(Boolean).join(' ')})`
      : '';
    const rule = `rule ${r.id} (${r.origin}${r.threshold ? ` ${r.threshold}` : ''})`;
    if (r.status === 'disabled') verdict = `not blocked: ${rule} is disabled`;
    else if (!r.devices.length) verdict = `not blocked: ${rule} is open but no device takes it`;
    else verdict = `${r.status === 'active' ? 'blocked' : 'to be blocked'}${what} by ${rule}: ${where}`;
    if (open.length > 1) verdict += `; ${open.length - 1} more open rule(s) cover it`;
  } else if (protectedBy.length) {
    verdict = `never blocked: protected by ${protectedBy.map((p) => `${p.reason} ${p.what}`).join(', ')}`;
  } else if (closed.length) {
    const r = closed[0]!;
    verdict = `not blocked: rule ${r.id} (${r.origin}${r.threshold ? ` ${r.threshold}` : ''}) is ${r.status}${r.reason ? ` (${r.reason.trim()})` : ''}`;
  } else if (!events.length) {
    verdict = 'not blocked: no sensor has seen it';
  } else if (thresholds.some((t) => t.crossed)) {
    verdict = 'not blocked: a threshold was crossed but its rule is closed (dropped or expired)';
  } else {
    const best = thresholds.filter((t) => t.enabled).map((t) => `${t.best_count}/${t.max_hits} for ${t.name}`).join(', ');
    verdict = `not blocked: under threshold (${best || 'no enabled threshold'})`;
  }
  // a honeypot its sensor registered outside the ranges approved for it protects nothing: say so
  const waiting = honeypotOf.filter((h) => !h.approved).map((h) => h.sensor);
  if (waiting.length && !protectedBy.length) {
    verdict += `; it is a honeypot of ${waiting.join(', ')} outside the approved ranges (ipms sensors approve ${waiting[0]} CIDR)`;
  }
  return {
    ip: bytesToIp(ip),
    events: events.map((e) => ({ ...e, count: Number(e.count), first: e.first.toISOString(), last: e.last.toISOString() })),
    protected_by: protectedBy,
    honeypot_of: honeypotOf,
    thresholds,
    rules,
    verdict,
  };
}
