/** The audit log: who changed what and when, newest first, paged by id. */
import { intArg } from '../../cli/args.ts';
import { listAudit } from '../../lib/queries/audit.ts';
import { href, html, visible } from '../html.ts';
import { field, page, type App, type Req, type Res } from '../http.ts';
import { layout, when } from './layout.ts';

const PAGE = 100;

export async function auditPage(req: Req, app: App): Promise<Res> {
  const beforeText = field(req.query, 'before', 20);
  const before = beforeText ? intArg(beforeText, 'before', 1) : undefined;
  const rows = await listAudit(app.db, { ...(before ? { before } : {}), limit: PAGE + 1 });
  const shown = rows.slice(0, PAGE);
  const body = html`${shown.length ? html`<table class="audit">
<thead><tr><th>when (UTC)</th><th>who</th><th>via</th><th>from</th><th>action</th><th>target</th><th>detail</th></tr></thead>
<tbody>${shown.map((a) => html`<tr class="${a.action === 'login.failed' ? 'failed' : ''}"><td>${when(a.at)}</td><td>${visible(a.who)}</td><td>${a.via}</td><td>${a.ip ?? '-'}</td>
<td>${a.action}</td><td>${visible(a.target ?? '-')}</td><td><code>${visible(a.detail ?? '')}</code></td></tr>`)}</tbody>
</table>` : html`<p>Nothing recorded${before ? ' before these' : ''}.</p>`}
<nav class="pager">${before ? html`<a href="/audit">newest</a>` : ''}
${rows.length > PAGE ? html`<a href="${href('/audit', { before: shown[shown.length - 1]!.id })}" rel="next">older</a>` : ''}</nav>`;
  return page(layout(req, 'Audit log', body));
}
