/** The frame of every page, and the small pieces the pages share. */
import { formatDuration } from '../../lib/duration.ts';
import { html, type Html, type SafeHtml } from '../html.ts';
import type { Req } from '../http.ts';

const NAV: [string, string][] = [
  ['/', 'Overview'], ['/records', 'Records'], ['/rules', 'Rules'], ['/lists', 'Lists'],
  ['/devices', 'Devices'], ['/thresholds', 'Thresholds'], ['/audit', 'Audit'],
];

export function layout(req: Req, title: string, content: Html, flash?: string | null): SafeHtml {
  const s = req.session;
  const section = NAV.filter(([p]) => p === '/' ? req.path === '/' : req.path === p || req.path.startsWith(`${p}/`)).pop()?.[0];
  return html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ipms</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<header>
<span class="brand">ipms</span>
${s ? html`<nav>${NAV.map(([p, label]) => html`<a href="${p}"${p === section ? html` aria-current="page"` : ''}>${label}</a>`)}</nav>
<form method="post" action="/logout" class="who">
${csrfField(req)}<span>${s.user} <small>(${s.role})</small></span> <button type="submit">Log out</button>
</form>` : ''}
</header>
<main>
${flash ? html`<p class="flash" role="status">${flash}</p>` : ''}
<h1>${title}</h1>
${content}
</main>
</body>
</html>`;
}

export function csrfField(req: Req): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${req.csrf ?? ''}">`;
}

export function isAdmin(req: Req): boolean {
  return req.session?.role === 'admin';
}

/** A one-button form that POSTs a change (shown to admins only). */
export function actionButton(req: Req, action: string, label: string, cls = '', hidden: Record<string, string> = {}): SafeHtml {
  if (!isAdmin(req)) return html``;
  return html`<form method="post" action="${action}" class="inline">${csrfField(req)}${Object.entries(hidden).map(
    ([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`,
  )}<button type="submit" class="${cls}">${label}</button></form>`;
}

/** `2026-05-01 10:00:00Z`, from ISO text or a Date. */
export function when(t: string | Date | null | undefined): string {
  if (!t) return '-';
  const iso = typeof t === 'string' ? t : t.toISOString();
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function age(iso: string): string {
  return formatDuration((Date.now() - Date.parse(iso)) / 1000);
}

/** The green / red light: enabled or disabled (grey: closed). */
export function light(state: 'green' | 'red' | 'grey', label: string): SafeHtml {
  return html`<span class="light ${state}" role="img" aria-label="${label}" title="${label}"></span>`;
}

export function endpoint(ip: string, port: number | null): string {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return port === null ? host : `${host}:${port}`;
}
