/**
 * HTML that escapes by default. `html\`...\`` is a tagged template: every interpolated value is
 * escaped unless it is SafeHtml, which only this tag (and `raw`, for our own constant text)
 * makes. Payloads are attacker-written, so nothing reaches a page any other way.
 *
 * Attribute values must be quoted in templates (`href="${x}"`); escaping covers both quotes.
 * URLs are built with `href()`, which only makes paths of this site.
 */

export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type Html = SafeHtml | string | number | bigint | boolean | null | undefined | readonly Html[];

const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITY[c]!);
}

function render(v: Html): string {
  if (v instanceof SafeHtml) return v.text;
  if (v === null || v === undefined || v === false) return '';
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Html[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Trusted text written in our own source (never data). */
export function raw(text: string): SafeHtml {
  return new SafeHtml(text);
}

/**
 * Control characters, and the invisible or direction-changing ones that make text read
 * differently from what it is (U+202E...), shown as escapes. For attacker-written text that
 * is displayed in <pre>: newlines and tabs are kept.
 */
export function visible(s: string): string {
  return s.replace(
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g,
    (c) => {
      const n = c.charCodeAt(0);
      return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
    },
  );
}

/**
 * A path of this site with a query string. The path is our own constant text; parameter values
 * are encoded, and empty ones left out.
 */
export function href(path: string, params: Record<string, string | number | null | undefined> = {}): string {
  if (!path.startsWith('/') || path.startsWith('//')) throw new Error(`href: not a site path: ${path}`);
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** A path segment from data (a threshold name, an id). */
export function seg(v: string | number): string {
  return encodeURIComponent(String(v));
}
