/** `/` once logged in: the state of the whole, hits per sensor over the last day, top sources. */
import { formatDuration } from '../../lib/duration.ts';
import { listSensors } from '../../lib/queries/sensors.ts';
import { getStatus } from '../../lib/queries/status.ts';
import { HOURS, hitsPerHour, lastDay, topSources } from '../charts.ts';
import { href, html, visible } from '../html.ts';
import { page, type App, type Req, type Res } from '../http.ts';
import { takeFlash } from '../session.ts';
import { barChart } from '../svg.ts';
import { layout, when } from './layout.ts';

const MAX_SENSORS = 40;

export async function overviewPage(req: Req, app: App): Promise<Res> {
  const all = await listSensors(app.db);
  const status = await getStatus(app.db, undefined, all);
  // The busiest sensors, at most MAX_SENSORS of them: a sensor's account may register sensors,
  // so their number is not the admin's choice alone (25k sensors made a 71 MB page in 6 s).
  const sensors = [...all].sort((a, b) => b.events_24h - a.events_24h
    || (b.last_event_at ?? '').localeCompare(a.last_event_at ?? '') || a.name.localeCompare(b.name)).slice(0, MAX_SENSORS);
  const w = lastDay();
  const series = await Promise.all(sensors.map((s) => hitsPerHour(app.db, s.id, w)));
  const top = await topSources(app.db, sensors.map((s) => s.id), w);
  const hourLabel = (i: number, v: number) => {
    const from = new Date(w.from.getTime() + i * 3_600_000).toISOString().slice(11, 13);
    return `${from}:00-${from}:59Z: ${v} hits`;
  };
  const body = html`
<section class="cards">
${Object.entries(status.rules).map(([k, n]) => html`<a class="card" href="${href('/rules', { status: k })}"><b>${n}</b> ${k}</a>`)}
<div class="card"><b>${status.oldest_pending_s ? formatDuration(status.oldest_pending_s) : '-'}</b> oldest pending</div>
</section>
${status.failed.length ? html`<p class="error">Devices with failures: ${status.failed.map((f) => html`<a href="/devices">${f.device}</a> (${f.failed}: ${visible(f.last_error ?? '?')}) `)}</p>` : ''}
<h2>Hits per hour, last ${HOURS} h (UTC)</h2>
${sensors.length ? html`<table>
<thead><tr><th>sensor</th><th>hits per hour</th><th>24 h</th><th>last event</th></tr></thead>
<tbody>
${sensors.map((s, i) => {
  const v = series[i]!;
  const total = v.reduce((a, b) => a + b, 0);
  return html`<tr${s.silent ? html` class="silent"` : ''}><td><a href="${href('/records', { sensor: s.name })}">${visible(s.name)}</a>${s.silent ? html` <small>(silent)</small>` : ''}</td>
<td>${barChart(v, `${visible(s.name)}: ${total} hits in ${HOURS} h, at most ${Math.max(...v)} in an hour`, hourLabel)}</td>
<td class="num">${total}</td><td>${when(s.last_event_at)}</td></tr>`;
})}
</tbody></table>${all.length > sensors.length ? html`<p>${all.length - sensors.length} more sensors, with fewer hits: <code>ipms sensors list</code>.</p>` : ''}` : html`<p>No sensor yet: <code>ipms sensors add NAME</code>, or let <code>ipms ingest</code> register one.</p>`}
<h2>Top sources, last ${HOURS} h${all.length > sensors.length ? ' (at the sensors above)' : ''}</h2>
${top.length ? html`<table>
<thead><tr><th>source</th><th class="num">hits</th><th class="num">sensors</th><th></th></tr></thead>
<tbody>${top.map((t) => html`<tr><td>${t.src}</td><td class="num">${t.hits}</td><td class="num">${t.sensors}</td>
<td><a href="${href('/records', { src: t.src })}">records</a> · <a href="${href('/rules', { src: t.src, status: 'all' })}">rules</a></td></tr>`)}</tbody>
</table>` : html`<p>No hits in the last ${HOURS} hours.</p>`}`;
  return page(layout(req, 'Overview', body, req.session ? await takeFlash(app.db, req.session) : null));
}
