/**
 * Records, as in the paper's figure 7: events newest first, per sensor, filtered by source,
 * port and time, with a detail view of the payload lines. Paged by keyset (`?before=ID`, the
 * last id shown), so page 1000 costs what page 1 does. Payloads are attacker-written: they are
 * escaped and their control characters made visible, never rendered.
 */
import { parseSince } from '../../lib/duration.ts';
import { listLogs, type LogFilter, type LogOut } from '../../lib/queries/logs.ts';
import { cidrArg, intArg, nameArg, portArg } from '../../cli/args.ts';
import { IpmsError } from '../../lib/errors.ts';
import { href, html, visible, type SafeHtml } from '../html.ts';
import { field, HttpError, page, type App, type Req, type Res } from '../http.ts';
import { firstPageBound, sensorNames } from '../records.ts';
import { endpoint, layout, when } from './layout.ts';

/** payload lines shown on a record's page (attacker-written: there may be any number) */
const DETAIL_LINES = 500;

export const PAGE_SIZE = 50;
/**
 * Records a page may read for a port filter: SensorLog has no port index (every index slows
 * the hot insert path), so a port few attackers try would otherwise read the whole table
 * backwards for one page (0.45 s at a million rows). A page searches this many records at
 * most, and "older" goes on from where it stopped.
 */
export const SCAN_WINDOW = 200_000;

interface Filters {
  sensor?: string;
  src?: string;
  port?: string;
  since?: string;
  before?: string;
}

function parseFilters(q: URLSearchParams): { raw: Filters; filter: LogFilter; error?: string } {
  const raw: Filters = {};
  for (const k of ['sensor', 'src', 'port', 'since', 'before'] as const) {
    const v = field(q, k, 64);
    if (v !== undefined) raw[k] = v;
  }
  try {
    const filter: LogFilter = {
      ...(raw.sensor ? { sensor: nameArg(raw.sensor, 'sensor') } : {}),
      ...(raw.src ? { src: cidrArg(raw.src, 'source') } : {}),
      ...(raw.port ? { dstPort: portArg(raw.port, 'port') } : {}),
      ...(raw.since ? { since: parseSince(raw.since, new Date(), 'since') } : {}),
      ...(raw.before ? { before: intArg(raw.before, 'before', 1) } : {}),
    };
    return { raw, filter };
  } catch (err) {
    if (err instanceof IpmsError) return { raw, filter: {}, error: err.message };
    throw err;
  }
}

function flags(l: LogOut): string {
  return [l.icmp ? `icmp ${l.icmp}` : '', l.tcp_flags ? `flags ${l.tcp_flags}` : '', l.os ? `os ${l.os}` : '',
    l.bytes_in !== null ? `in ${l.bytes_in} out ${l.bytes_out ?? 0}` : ''].filter(Boolean).join(', ');
}

function filterForm(raw: Filters, sensors: string[]): SafeHtml {
  return html`<form method="get" action="/records" class="filters">
<label>Sensor <select name="sensor"><option value="">all sensors</option>${sensors.map((s) => html`<option${s === raw.sensor ? html` selected` : ''}>${s}</option>`)}</select></label>
<label>Source <input name="src" value="${raw.src ?? ''}" placeholder="203.0.113.0/24" size="18"></label>
<label>Port <input name="port" value="${raw.port ?? ''}" placeholder="445" size="6"></label>
<label>Since <input name="since" value="${raw.since ?? ''}" placeholder="24h or 2026-01-01T10:00Z" size="20"></label>
<button type="submit">Show</button> <a href="/records">clear</a>
</form>`;
}

/** payload lines are counted up to this (their number is the attacker's choice) */
const COUNT_CAP = 10_000;
const lineCount = (l: { payload_total: number; payload_total_capped?: true }) =>
  (l.payload_total_capped ? `more than ${l.payload_total}` : l.payload_total || '');

export async function recordsPage(req: Req, app: App): Promise<Res> {
  const { raw, filter, error } = parseFilters(req.query);
  const sensors = await sensorNames(app.db);
  if (error) return page(layout(req, 'Records', html`${filterForm(raw, sensors)}<p class="error" role="alert">${error}</p>`), 400);
  const before = filter.before ?? (await firstPageBound(app.db));
  if (before === undefined) return page(layout(req, 'Records', html`${filterForm(raw, sensors)}<p>No records yet.</p>`));
  // one more than a page: whether there is an older page, without counting
  // the list shows how many payload lines a record has, not the lines
  const bounded = filter.dstPort !== undefined && filter.src === undefined;
  const after = bounded ? Math.max(1, before - SCAN_WINDOW) : undefined;
  const rows = await listLogs(app.db, { ...filter, before, ...(after !== undefined ? { after } : {}), limit: PAGE_SIZE + 1, payloadLines: 0, payloadCountCap: COUNT_CAP });
  const shown = rows.slice(0, PAGE_SIZE);
  // a bounded search that found less than a page and did not reach the first record goes on
  const searchOn = after !== undefined && rows.length <= PAGE_SIZE && after > 1;
  const keep = { sensor: raw.sensor, src: raw.src, port: raw.port, since: raw.since };
  const body = html`${filterForm(raw, sensors)}
${shown.length ? html`<table class="records">
<thead><tr><th>id</th><th>time (UTC)</th><th>sensor</th><th>kind</th><th>proto</th><th>source</th><th>destination</th><th>details</th><th>payload</th><th></th></tr></thead>
<tbody>
${shown.map((l) => html`<tr><td class="num">${l.id}</td><td>${when(l.ts)}</td><td>${visible(l.sensor)}</td><td>${l.kind}</td><td>${l.proto}</td>
<td>${endpoint(l.src, l.src_port)}</td><td>${endpoint(l.dst, l.dst_port)}</td><td>${visible(flags(l))}</td>
<td class="num">${lineCount(l)}</td><td><a href="/records/${l.id}">detail</a></td></tr>`)}
</tbody></table>` : html`<p>No records${raw.before ? ' older than these' : ''}${searchOn ? html` among records ${after} to ${before - 1}` : ''}.</p>`}
${searchOn ? html`<p>Searched records ${after} to ${before - 1} (a port filter reads ${SCAN_WINDOW} records a page at most).</p>` : ''}
<nav class="pager">
${raw.before ? html`<a href="${href('/records', keep)}">newest</a>` : ''}
${rows.length > PAGE_SIZE ? html`<a href="${href('/records', { ...keep, before: shown[shown.length - 1]!.id })}" rel="next">older</a>` : ''}
${searchOn ? html`<a href="${href('/records', { ...keep, before: after })}" rel="next">older</a>` : ''}
</nav>`;
  return page(layout(req, 'Records', body));
}

export async function recordPage(req: Req, app: App): Promise<Res> {
  const id = Number(req.params[0]);
  // the shared query pages by id: the first row below id + 1 is the record itself, if it exists
  const [l] = await listLogs(app.db, { before: id + 1, limit: 1, payloadLines: DETAIL_LINES, payloadCountCap: COUNT_CAP });
  if (!l || l.id !== id) throw new HttpError(404, `record ${id} does not exist`);
  const facts: [string, string][] = [
    ['time (UTC)', when(l.ts)], ['sensor', visible(l.sensor)], ['kind', l.kind], ['protocol', l.proto],
    ['source', endpoint(l.src, l.src_port)], ['destination', endpoint(l.dst, l.dst_port)],
  ];
  if (flags(l)) facts.push(['details', visible(flags(l))]);
  const body = html`<dl class="facts">${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
<p><a href="${href('/records', { src: l.src })}">all records of ${l.src}</a> · <a href="${href('/rules', { src: l.src, status: 'all' })}">rules for ${l.src}</a></p>
<h2>Payload</h2>
${l.payload.length ? html`<table class="payload">
<thead><tr><th>time (UTC)</th><th>from</th><th>line</th><th>uploaded file</th></tr></thead>
<tbody>${l.payload.map((p) => html`<tr><td>${when(p.ts)}</td><td>${p.source}${p.script ? html` <small>${visible(p.script)}</small>` : ''}</td>
<td><pre class="payload-text">${visible(p.text)}${p.clipped ? html` <small>[cut: longer than 4096 characters]</small>` : ''}</pre></td><td>${p.file_path ? html`<code>${visible(p.file_path)}</code>` : '-'}</td></tr>`)}</tbody>
</table>${l.payload_total > l.payload.length ? html`<p>The first ${l.payload.length} of ${lineCount(l)} payload lines are shown; the rest are in the database (<code>SELECT * FROM DataView WHERE sensorlog_id = ${l.id}</code>).</p>` : ''}` : html`<p>No payload lines for this record.</p>`}`;
  return page(layout(req, `Record ${l.id}`, body));
}
