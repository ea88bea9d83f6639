/** Whitelist and blacklist: the entries, and (for admins) adding and removing them, audited. */
import { parseDuration } from '../../lib/duration.ts';
import { IpmsError, RefusedError } from '../../lib/errors.ts';
import type { Cidr } from '../../lib/ip.ts';
import { addBlacklist, addWhitelist, listEntries, removeEntry, type ListEntryOut, type ListName } from '../../lib/queries/lists.ts';
import { actionArg, cidrArg } from '../../cli/args.ts';
import { audited } from '../audit.ts';
import { html, visible, type SafeHtml } from '../html.ts';
import { field, page, redirect, type App, type Req, type Res } from '../http.ts';
import { setFlash, takeFlash } from '../session.ts';
import { actionButton, csrfField, isAdmin, layout, when } from './layout.ts';

function removeButton(req: Req, table: ListName, e: ListEntryOut): SafeHtml {
  return actionButton(req, `/${table.toLowerCase()}/${e.id}/remove`, 'remove', 'danger');
}

function comment(req: Req): string | undefined {
  return field(req.form, 'comment', 255);
}

/** Entries shown per list: a feed of 100k entries is found with the filter, not scrolled. */
const SHOWN = 500;

export async function listsPage(req: Req, app: App): Promise<Res> {
  const raw = field(req.query, 'cidr', 64);
  let within: Cidr | undefined;
  let error: string | undefined;
  try {
    within = raw ? cidrArg(raw, 'address or CIDR') : undefined;
  } catch (err) {
    if (!(err instanceof IpmsError)) throw err;
    error = err.message;
  }
  const [white, black] = error ? [[], []] : await Promise.all([
    listEntries(app.db, 'Whitelist', SHOWN + 1, within), listEntries(app.db, 'Blacklist', SHOWN + 1, within)]);
  const more = (n: number, what: string) => (n > SHOWN
    ? html`<p><small>The first ${SHOWN} ${what} shown: narrow them with the filter above (<code>ipms ${what} list</code> has them all).</small></p>` : '');
  const admin = isAdmin(req);
  const body = html`
<form method="get" action="/lists" class="filters">
<label>Entries overlapping <input name="cidr" value="${raw ?? ''}" placeholder="203.0.113.0/24" size="24"></label>
<button type="submit">Show</button> <a href="/lists">all</a>
</form>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<h2 id="whitelist">Whitelist <small>never blocked</small></h2>
${white.length ? html`<table class="whitelist"><thead><tr><th>cidr</th><th>comment</th><th>added (UTC)</th><th></th></tr></thead><tbody>
${white.slice(0, SHOWN).map((e) => html`<tr><td>${e.cidr}</td><td>${visible(e.comment ?? '')}</td><td>${when(e.created_at)}</td><td>${removeButton(req, 'Whitelist', e)}</td></tr>`)}
</tbody></table>${more(white.length, 'whitelist')}` : html`<p>${within ? 'No whitelist entry overlaps it.' : 'The whitelist is empty.'}</p>`}
${admin ? html`<form method="post" action="/whitelist/add" class="add">${csrfField(req)}
<label>Address or CIDR <input name="cidr" required placeholder="192.0.2.0/24" size="24"></label>
<label>Comment <input name="comment" maxlength="255" size="30"></label>
<button type="submit">Add to whitelist</button> <small>open rules it covers are dropped</small>
</form>` : ''}
<h2 id="blacklist">Blacklist <small>blocked on sight</small></h2>
${black.length ? html`<table class="blacklist"><thead><tr><th>cidr</th><th>action</th><th>source</th><th>expires (UTC)</th><th>rule</th><th>comment</th><th></th></tr></thead><tbody>
${black.slice(0, SHOWN).map((e) => html`<tr><td>${e.cidr}</td><td>${e.action}</td><td>${visible(e.source ?? '-')}</td><td>${e.expires_at ? when(e.expires_at) : 'never'}</td><td>${e.rule_id ? `${e.rule_id} ${e.rule_status}` : '-'}</td><td>${visible(e.comment ?? '')}</td><td>${removeButton(req, 'Blacklist', e)}</td></tr>`)}
</tbody></table>${more(black.length, 'blacklist')}` : html`<p>${within ? 'No blacklist entry overlaps it.' : 'The blacklist is empty.'}</p>`}
${admin ? html`<form method="post" action="/blacklist/add" class="add">${csrfField(req)}
<label>Address or CIDR <input name="cidr" required placeholder="203.0.113.0/24" size="24"></label>
<label>Action <select name="action"><option>DROP</option><option>REJECT</option></select></label>
<label>Expire after <input name="expire" placeholder="never (or 7d)" size="10"></label>
<label>Comment <input name="comment" maxlength="255" size="30"></label>
<button type="submit">Add to blacklist</button>
</form>` : ''}`;
  return page(layout(req, 'Whitelist and blacklist', body, req.session ? await takeFlash(app.db, req.session) : null));
}

export async function postWhitelistAdd(req: Req, app: App): Promise<Res> {
  const c = cidrArg(field(req.form, 'cidr', 64) ?? '', 'CIDR');
  const note = comment(req);
  const res = await audited(app, req, (db) => addWhitelist(db, c, note, req.session!.user),
    { action: 'whitelist.add', target: c.text, detail: (o) => ({ comment: note ?? null, dropped: o.dropped }) });
  const dropped = res.dropped.length ? `; dropped rule${res.dropped.length > 1 ? 's' : ''} ${res.dropped.map((r) => r.id).join(', ')}` : '';
  await setFlash(app.db, req.session!, `whitelist: added ${c.text}${dropped}`);
  return redirect('/lists#whitelist');
}

export async function postBlacklistAdd(req: Req, app: App): Promise<Res> {
  const c = cidrArg(field(req.form, 'cidr', 64) ?? '', 'CIDR');
  const expire = field(req.form, 'expire', 32);
  const action = actionArg(field(req.form, 'action', 16) ?? 'DROP', 'action');
  const expiresAt = expire && !/^(never|permanent)$/i.test(expire) ? new Date(Date.now() + parseDuration(expire, 'expire') * 1000) : null;
  const note = comment(req);
  const res = await audited(app, req,
    async (db) => {
      const out = await addBlacklist(db, [{ line: 1, cidr: c, ...(note ? { comment: note } : {}) }], { source: 'manual', expiresAt, action });
      // refused: nothing was written, and the audit row goes with the rollback
      if (out.refused.length) throw new RefusedError(`refused to blacklist ${c.text}: ${out.refused[0]!.why}`, 'E_PROTECTED');
      return out;
    },
    { action: 'blacklist.add', target: c.text, detail: () => ({ action, expires_at: expiresAt, comment: note ?? null }) });
  await setFlash(app.db, req.session!, res.added ? `blacklist: added ${c.text}` : res.renewed ? `blacklist: renewed ${c.text}` : `blacklist: ${c.text} was already there`);
  return redirect('/lists#blacklist');
}

export async function postListRemove(req: Req, app: App): Promise<Res> {
  const table: ListName = req.params[0] === 'whitelist' ? 'Whitelist' : 'Blacklist';
  const id = Number(req.params[1]);
  const { cidr, dropped } = await audited(app, req,
    async (db) => {
      // removing a blacklist entry drops its open rules (Blacklist_after_delete): name them
      const open = table === 'Blacklist'
        ? await db.rows<{ id: number }>("SELECT id FROM Rule WHERE blacklist_id = ? AND status IN ('pending', 'active', 'disabled') ORDER BY id", [id])
        : [];
      return { cidr: await removeEntry(db, table, { id }), dropped: open.map((r) => r.id) };
    },
    { action: `${table.toLowerCase()}.remove`, target: `${table.toLowerCase()} entry ${id}`,
      detail: (o) => (table === 'Blacklist' ? { cidr: o.cidr, dropped: o.dropped } : { cidr: o.cidr }) });
  await setFlash(app.db, req.session!, `${table.toLowerCase()}: removed ${cidr}${dropped.length ? ` (dropped rule${dropped.length > 1 ? 's' : ''} ${dropped.join(', ')})` : ''}`);
  return redirect(`/lists#${table.toLowerCase()}`);
}
