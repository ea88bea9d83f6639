/**
 * A small bar chart as inline SVG, drawn on the server: no script, nothing for the CSP to
 * allow. Presentation attributes (fill, not style="") so that style-src stays 'self'.
 */
import { html, type SafeHtml } from './html.ts';

const W = 240;
const H = 48;

export function barChart(values: number[], label: string, barLabel: (i: number, v: number) => string): SafeHtml {
  const max = Math.max(1, ...values);
  const step = W / Math.max(1, values.length);
  const bars = values.map((v, i) => {
    const h = v === 0 ? 0 : Math.max(1, Math.round((v / max) * (H - 2)));
    return html`<rect x="${(i * step + 0.5).toFixed(1)}" y="${H - h}" width="${(step - 1).toFixed(1)}" height="${h}" fill="#c0392b"><title>${barLabel(i, v)}</title></rect>`;
  });
  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${label}" xmlns="http://www.w3.org/2000/svg"><rect x="0" y="0" width="${W}" height="${H}" fill="#f4f4f4"></rect>${bars}</svg>`;
}
