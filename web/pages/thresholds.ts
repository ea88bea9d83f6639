/**
 * Thresholds: what turns hits into rules. An edit is shown for confirmation first (each
 * changed value, before and after), and applied only from that page; if the row changed in
 * between (a DBA's UPDATE), the edit is refused rather than applied over it.
 */
import { createHash } from 'node:crypto';
import { formatDuration } from '../../lib/duration.ts';
import { NotFoundError, RefusedError } from '../../lib/errors.ts';
import { listThresholds, setThreshold, type ThresholdOut, type ThresholdSet } from '../../lib/queries/sensors.ts';
import { nameArg } from '../../cli/args.ts';
import { parseThresholdPairs } from '../../cli/commands/sensors.ts';
import { audited } from '../audit.ts';
import { sensorNames } from '../records.ts';
import { html, seg, visible, type SafeHtml } from '../html.ts';
import { field, HttpError, page, redirect, type App, type Req, type Res } from '../http.ts';
import { setFlash, takeFlash } from '../session.ts';
import { csrfField, isAdmin, layout, light } from './layout.ts';

const GROUPS = ['src', 'src_dport', 'src_dst_dport', 'tuple'];
/** form fields, in the order shown */
const FIELDS = ['enabled', 'proto', 'dst_port', 'sensor', 'group_by', 'window', 'max_hits', 'action', 'duration', 'description'] as const;
type FieldName = (typeof FIELDS)[number];

/** `1h`, `90s`, `7d`: the largest unit that divides exactly, so the form's text parses back. */
function compact(s: number): string {
  for (const [u, n] of [['w', 604800], ['d', 86400], ['h', 3600], ['m', 60]] as const) if (s % n === 0) return `${s / n}${u}`;
  return `${s}s`;
}

function formValues(t: ThresholdOut): Record<FieldName, string> {
  return {
    enabled: t.enabled ? 'yes' : 'no', proto: t.proto ?? 'any', dst_port: t.dst_port === null ? 'any' : String(t.dst_port),
    sensor: t.sensor ?? 'any', group_by: t.group_by, window: compact(t.window_s), max_hits: String(t.max_hits), action: t.action,
    duration: t.duration_s === null ? 'never' : compact(t.duration_s), description: t.description ?? '',
  };
}

/** What an edit changes: the parsed set, restricted to values that differ from the row. */
function changes(t: ThresholdOut, form: URLSearchParams): { set: ThresholdSet; shown: [string, string, string][] } {
  const pairs: string[] = [];
  for (const f of FIELDS) {
    const v = form.get(f);
    if (v === null) continue;
    if (f === 'description' ? v.length > 255 : v.length > 64) throw new HttpError(400, `${f}: too long`);
    pairs.push(f === 'duration' && /^\d+$/.test(v.trim()) ? `duration_s=${v}` : `${f}=${v}`);
  }
  const parsed = parseThresholdPairs(pairs);
  const now: Record<string, unknown> = {
    enabled: t.enabled, proto: t.proto, dst_port: t.dst_port, sensor: t.sensor, group_by: t.group_by, window_s: t.window_s,
    max_hits: t.max_hits, action: t.action, duration_s: t.duration_s, description: t.description,
  };
  const show = (k: string, v: unknown) => v === null ? (k === 'duration_s' ? 'never' : 'any') : k.endsWith('_s') ? formatDuration(Number(v)) : String(v);
  const set: Record<string, unknown> = {};
  const shown: [string, string, string][] = [];
  for (const [k, v] of Object.entries(parsed)) {
    if (v === undefined || v === now[k] || (k === 'description' && (v ?? null) === (now[k] ?? null))) continue;
    set[k] = v;
    shown.push([k, show(k, now[k]), show(k, v)]);
  }
  return { set: set as ThresholdSet, shown };
}

function version(t: ThresholdOut): string {
  return createHash('sha256').update(JSON.stringify(t)).digest('hex').slice(0, 16);
}

async function threshold(app: App, name: string): Promise<ThresholdOut> {
  const [t] = await listThresholds(app.db, nameArg(name, 'threshold'));
  if (!t) throw new NotFoundError(`threshold ${name} does not exist`);
  return t;
}

export async function thresholdsPage(req: Req, app: App): Promise<Res> {
  const rows = await listThresholds(app.db);
  const body = html`<table class="thresholds">
<thead><tr><th></th><th>name</th><th>protocol</th><th>port</th><th>sensor</th><th>grouped by</th><th>window</th><th class="num">hits</th><th>action</th><th>rule lives</th><th>description</th><th></th></tr></thead>
<tbody>${rows.map((t) => html`<tr><td>${t.enabled ? light('green', 'enabled') : light('red', 'disabled')}</td><td>${t.name}</td><td>${t.proto ?? 'any'}</td>
<td>${t.dst_port ?? 'any'}</td><td>${visible(t.sensor ?? 'any')}</td><td>${t.group_by}</td><td>${formatDuration(t.window_s)}</td><td class="num">${t.max_hits}</td>
<td>${t.action}</td><td>${t.duration_s === null ? 'until dropped' : formatDuration(t.duration_s)}</td><td>${visible(t.description ?? '')}</td>
<td>${isAdmin(req) ? html`<a href="/thresholds/${seg(t.name)}">edit</a>` : ''}</td></tr>`)}</tbody>
</table>
<p><small>A rule is made by the hit that brings a group's count within one window to the threshold's hits. Changes apply to the next insert.</small></p>`;
  return page(layout(req, 'Thresholds', body, req.session ? await takeFlash(app.db, req.session) : null));
}

function input(name: FieldName, value: string, options?: string[]): SafeHtml {
  if (options) return html`<select name="${name}">${options.map((o) => html`<option${o === value ? html` selected` : ''}>${o}</option>`)}</select>`;
  return html`<input name="${name}" value="${value}" size="${name === 'description' ? 50 : 12}" maxlength="${name === 'description' ? 255 : 64}">`;
}

export async function thresholdEditPage(req: Req, app: App): Promise<Res> {
  const t = await threshold(app, req.params[0]!);
  const v = formValues(t);
  const sensors = await sensorNames(app.db);
  const body = html`<form method="post" action="/thresholds/${seg(t.name)}/confirm" class="edit threshold">${csrfField(req)}
<label>Enabled ${input('enabled', v.enabled, ['yes', 'no'])}</label>
<label>Protocol ${input('proto', v.proto)} <small>any, tcp, udp, icmp...</small></label>
<label>Destination port ${input('dst_port', v.dst_port)} <small>any or 1-65535</small></label>
<label>Sensor ${input('sensor', v.sensor, ['any', ...sensors])}</label>
<label>Grouped by ${input('group_by', v.group_by, GROUPS)}</label>
<label>Window ${input('window', v.window)} <small>1s, 1m, 1h...</small></label>
<label>Hits ${input('max_hits', v.max_hits)}</label>
<label>Action ${input('action', v.action, ['DROP', 'REJECT'])}</label>
<label>Rule lives ${input('duration', v.duration)} <small>never, 1h, 7d...</small></label>
<label>Description ${input('description', v.description)}</label>
<button type="submit">Review the change</button> <a href="/thresholds">cancel</a>
</form>`;
  return page(layout(req, `Threshold ${t.name}`, body));
}

export async function postThresholdConfirm(req: Req, app: App): Promise<Res> {
  const t = await threshold(app, req.params[0]!);
  const { shown } = changes(t, req.form);
  if (!shown.length) {
    await setFlash(app.db, req.session!, `threshold ${t.name}: nothing changed`);
    return redirect('/thresholds');
  }
  const body = html`<p>Apply these changes to threshold <b>${t.name}</b>? They count from the next hit on.</p>
<table class="confirm"><thead><tr><th>setting</th><th>now</th><th>after</th></tr></thead>
<tbody>${shown.map(([k, a, b]) => html`<tr><td>${k}</td><td>${visible(a)}</td><td><b>${visible(b)}</b></td></tr>`)}</tbody></table>
<form method="post" action="/thresholds/${seg(t.name)}/apply" class="inline">${csrfField(req)}
<input type="hidden" name="version" value="${version(t)}">
${FIELDS.map((f) => req.form.has(f) ? html`<input type="hidden" name="${f}" value="${req.form.get(f)!}">` : '')}
<button type="submit" class="ok">Apply</button></form>
<a href="/thresholds/${seg(t.name)}">back to the form</a> · <a href="/thresholds">cancel</a>`;
  return page(layout(req, `Confirm: threshold ${t.name}`, body));
}

export async function postThresholdApply(req: Req, app: App): Promise<Res> {
  const t = await threshold(app, req.params[0]!);
  if (field(req.form, 'version', 32) !== version(t)) {
    throw new RefusedError(`threshold ${t.name} changed since the confirmation was shown: review it again`, 'E_CHANGED');
  }
  const { set, shown } = changes(t, req.form);
  if (shown.length) {
    await audited(app, req, (db) => setThreshold(db, t.name, set),
      { action: 'threshold.set', target: `threshold ${t.name}`, detail: () => Object.fromEntries(shown.map(([k, a, b]) => [k, { from: a, to: b }])) });
  }
  await setFlash(app.db, req.session!, shown.length ? `threshold ${t.name}: ${shown.map(([k, , b]) => `${k} ${b}`).join(', ')}` : `threshold ${t.name}: nothing changed`);
  return redirect('/thresholds');
}
