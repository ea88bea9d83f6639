/**
 * Rules, as in the paper's figure 8: each decision with its light (green: on the devices, red:
 * disabled), where it stands on each device, and the changes an admin may make: enable,
 * disable, drop, edit. Every change goes through the shared rule queries, audited.
 */
import { parseDuration, parseSince } from '../../lib/duration.ts';
import { IpmsError } from '../../lib/errors.ts';
import {
  RULE_ORIGINS, RULE_STATUSES, changeRuleStatus, editRule, getRule, listRules, type RuleEdit, type RuleFilter,
  type RuleOut, type StatusChange,
} from '../../lib/queries/rules.ts';
import { OPEN_STATUSES } from '../../lib/types.ts';
import { actionArg, cidrArg, listOf, nameArg } from '../../cli/args.ts';
import { audited } from '../audit.ts';
import { href, html, visible, type SafeHtml } from '../html.ts';
import { field, HttpError, page, redirect, type App, type Req, type Res } from '../http.ts';
import { setFlash, takeFlash } from '../session.ts';
import { actionButton, age, csrfField, isAdmin, layout, light, when } from './layout.ts';

const LIMIT = 500;

function traffic(r: RuleOut): string {
  return `${r.dst ?? 'any'}${r.dst_port ? `:${r.dst_port}` : ''}${r.proto ? `/${r.proto}` : ''}`;
}

function ruleLight(r: RuleOut): SafeHtml {
  if (r.status === 'disabled') return light('red', 'disabled');
  if (r.status === 'pending' || r.status === 'active') return light('green', 'enabled');
  return light('grey', r.status);
}

function devices(r: RuleOut): SafeHtml {
  if (!r.devices.length) return html`<small>no device</small>`;
  return html`<ul class="devices">${r.devices.map((d) => html`<li class="state-${d.state}">${d.device}: ${d.state}${d.desired === 'absent' ? ' (removing)' : ''}${
    d.last_error ? html` <small class="error">${visible(d.last_error)}</small>` : ''}</li>`)}</ul>`;
}

/** Where a change sends the browser back to: a rules page of this site, nothing else. */
function back(req: Req, fallback: string): string {
  const b = req.form.get('back');
  return b && /^\/rules(\/\d{1,15})?(\?[A-Za-z0-9_=&%.,:/+-]{0,512})?$/.test(b) ? b : fallback;
}

function buttons(req: Req, r: RuleOut, backTo: string): SafeHtml {
  const b = { back: backTo };
  return html`${r.status === 'disabled' ? actionButton(req, `/rules/${r.id}/enable`, 'enable', 'ok', b) : ''}${
    r.status === 'pending' || r.status === 'active' ? actionButton(req, `/rules/${r.id}/disable`, 'disable', '', b) : ''}${
    OPEN_STATUSES.includes(r.status) ? actionButton(req, `/rules/${r.id}/drop`, 'drop', 'danger', b) : ''}`;
}

function parseFilter(q: URLSearchParams): { filter: RuleFilter; raw: Record<string, string>; error?: string } {
  const raw: Record<string, string> = {};
  for (const k of ['status', 'origin', 'src', 'sensor', 'since']) {
    const v = field(q, k, 64);
    if (v !== undefined) raw[k] = v;
  }
  try {
    const status = !raw.status || raw.status === 'open' ? [...OPEN_STATUSES] : raw.status === 'all' ? undefined : listOf(raw.status, RULE_STATUSES, 'status');
    return {
      raw,
      filter: {
        ...(status ? { status } : {}),
        ...(raw.origin ? { origin: listOf(raw.origin, RULE_ORIGINS, 'origin')! } : {}),
        ...(raw.src ? { src: cidrArg(raw.src, 'source') } : {}),
        ...(raw.sensor ? { sensor: nameArg(raw.sensor, 'sensor') } : {}),
        ...(raw.since ? { since: parseSince(raw.since, new Date(), 'since') } : {}),
        limit: LIMIT,
      },
    };
  } catch (err) {
    if (err instanceof IpmsError) return { raw, filter: {}, error: err.message };
    throw err;
  }
}

function filterForm(raw: Record<string, string>): SafeHtml {
  const opt = (v: string, cur: string | undefined) => html`<option${v === (cur ?? 'open') ? html` selected` : ''}>${v}</option>`;
  return html`<form method="get" action="/rules" class="filters">
<label>Status <select name="status">${['open', 'all', ...RULE_STATUSES].map((s) => opt(s, raw.status))}</select></label>
<label>Origin <select name="origin"><option value="">any</option>${RULE_ORIGINS.map((o) => html`<option${o === raw.origin ? html` selected` : ''}>${o}</option>`)}</select></label>
<label>Source <input name="src" value="${raw.src ?? ''}" placeholder="203.0.113.0/24" size="18"></label>
<label>Sensor <input name="sensor" value="${raw.sensor ?? ''}" size="10"></label>
<label>Since <input name="since" value="${raw.since ?? ''}" placeholder="24h" size="8"></label>
<button type="submit">Show</button> <a href="/rules">clear</a>
</form>`;
}

export async function rulesPage(req: Req, app: App): Promise<Res> {
  const { filter, raw, error } = parseFilter(req.query);
  if (error) return page(layout(req, 'Rules', html`${filterForm(raw)}<p class="error" role="alert">${error}</p>`), 400);
  const rules = await listRules(app.db, filter);
  const here = href('/rules', raw);
  const body = html`${filterForm(raw)}
${rules.length ? html`<table class="rules">
<thead><tr><th></th><th>id</th><th>source</th><th>destination</th><th>action</th><th>status</th><th>origin</th><th class="num">hits</th><th>age</th><th>expires</th><th>devices</th><th></th></tr></thead>
<tbody>
${rules.map((r) => html`<tr id="rule-${r.id}" data-status="${r.status}"><td>${ruleLight(r)}</td><td class="num"><a href="/rules/${r.id}">${r.id}</a></td>
<td>${r.src}</td><td>${traffic(r)}</td><td>${r.action}</td><td>${r.status}</td><td>${r.origin}${r.threshold ? html` <small>${r.threshold}</small>` : ''}</td>
<td class="num">${r.hits}</td><td>${age(r.created_at)}</td><td>${r.expires_at ? when(r.expires_at) : 'never'}</td><td>${devices(r)}</td>
<td class="actions">${buttons(req, r, here)}${isAdmin(req) && OPEN_STATUSES.includes(r.status) ? html`<a href="/rules/${r.id}">edit</a>` : ''}</td></tr>`)}
</tbody></table>${rules.length >= LIMIT ? html`<p><small>The newest ${LIMIT} shown: narrow the filter to see older ones.</small></p>` : ''}` : html`<p>No rules match.</p>`}`;
  return page(layout(req, 'Rules', body, req.session ? await takeFlash(app.db, req.session) : null));
}

export async function rulePage(req: Req, app: App): Promise<Res> {
  const r = await getRule(app.db, Number(req.params[0]));
  const facts: [string, string | SafeHtml][] = [
    ['status', html`${ruleLight(r)} ${r.status}`], ['source', r.src], ['destination', traffic(r)], ['action', r.action],
    ['origin', `${r.origin}${r.threshold ? ` (threshold ${r.threshold})` : ''}`], ['sensor', r.sensor ?? '-'], ['hits', String(r.hits)],
    ['scope', r.scope], ['reason', visible(r.reason ?? '-')], ['created (UTC)', `${when(r.created_at)} (${age(r.created_at)} ago)`],
    ['expires (UTC)', r.expires_at ? when(r.expires_at) : 'never'], ['updated (UTC)', when(r.updated_at)],
  ];
  const self = `/rules/${r.id}`;
  const body = html`<dl class="facts">${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
<p>${buttons(req, r, self)}</p>
<h2>Devices</h2>
${r.devices.length ? html`<table><thead><tr><th>device</th><th>should be</th><th>state</th><th>last error</th></tr></thead><tbody>
${r.devices.map((d) => html`<tr class="state-${d.state}"><td>${d.device}</td><td>${d.desired}</td><td>${d.state}</td><td>${d.last_error ? html`<span class="error">${visible(d.last_error)}</span>` : '-'}</td></tr>`)}
</tbody></table>` : html`<p>No device takes this rule.</p>`}
${isAdmin(req) && OPEN_STATUSES.includes(r.status) ? html`<h2>Edit</h2>
<form method="post" action="/rules/${r.id}/edit" class="edit">${csrfField(req)}
<label>Duration from creation <input name="duration" placeholder="unchanged (e.g. 4h, 7d, never)" size="28"></label>
<label>Action <select name="action">${['DROP', 'REJECT'].map((a) => html`<option${a === r.action ? html` selected` : ''}>${a}</option>`)}</select></label>
<label>Reason <input name="reason" value="${r.reason ?? ''}" maxlength="255" size="40"></label>
<button type="submit">Save</button>
</form>` : ''}`;
  return page(layout(req, `Rule ${r.id}`, body, req.session ? await takeFlash(app.db, req.session) : null));
}

const DONE: Record<StatusChange, string> = { enable: 'enabled', disable: 'disabled', drop: 'dropped' };

export async function postRuleChange(req: Req, app: App): Promise<Res> {
  const id = Number(req.params[0]);
  const change = req.params[1] as StatusChange;
  const res = await audited(app, req, async (db) => {
    const out = await changeRuleStatus(db, [id], change);
    // thrown inside: nothing to record for a rule that is not there
    if (out.missing.length) throw new HttpError(404, `rule ${id} does not exist`);
    return out;
  }, { action: `rule.${change}`, target: `rule ${id}`, detail: (o) => o });
  const msg = res.changed.length ? `rule ${id}: ${DONE[change]}` : `rule ${id} is ${res.unchanged[0]?.status}: nothing to ${change}`;
  await setFlash(app.db, req.session!, msg);
  return redirect(back(req, '/rules'));
}

export async function postRuleEdit(req: Req, app: App): Promise<Res> {
  const id = Number(req.params[0]);
  const before = await getRule(app.db, id);
  const duration = field(req.form, 'duration', 32);
  const action = field(req.form, 'action', 16);
  const reason = req.form.get('reason')?.trim();
  if (reason !== undefined && reason.length > 255) throw new HttpError(400, 'reason: at most 255 characters');
  const edit: RuleEdit = {
    ...(duration !== undefined ? { durationS: /^(never|permanent)$/i.test(duration) ? null : parseDuration(duration, 'duration') } : {}),
    ...(action !== undefined && action.toUpperCase() !== before.action ? { action: actionArg(action, 'action') } : {}),
    ...(reason !== undefined && reason !== (before.reason ?? '') ? { reason } : {}),
  };
  if (!Object.keys(edit).length) {
    await setFlash(app.db, req.session!, `rule ${id}: nothing changed`);
    return redirect(`/rules/${id}`);
  }
  await audited(app, req, (db) => editRule(db, id, edit), {
    action: 'rule.edit', target: `rule ${id}`,
    detail: () => ({ before: { expires_at: before.expires_at, action: before.action, reason: before.reason }, set: edit }),
  });
  await setFlash(app.db, req.session!, `rule ${id}: updated`);
  return redirect(`/rules/${id}`);
}
