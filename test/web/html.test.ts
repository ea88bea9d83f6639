import { describe, expect, it } from 'vitest';
import { escapeHtml, href, html, raw, SafeHtml, seg, visible } from '../../web/html.ts';

describe('html`...` escapes by default', () => {
  it('escapes every interpolated string, number and nested value', () => {
    const payload = `<script>alert("x")</script>' onmouseover='y' &amp;`;
    const out = html`<td title="${payload}">${payload}</td>`;
    expect(out).toBeInstanceOf(SafeHtml);
    expect(out.text).toBe(
      '<td title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;y&#39; &amp;amp;">' +
        '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;y&#39; &amp;amp;</td>',
    );
    expect(html`${['<a>', ['<b>', 1, null, undefined, false]]}`.text).toBe('&lt;a&gt;&lt;b&gt;1');
  });

  it('inserts SafeHtml (and only SafeHtml) as it is', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p>${inner}</p>`.text).toBe('<p><b>&lt;i&gt;</b></p>');
    // an object that merely looks like SafeHtml is text
    expect(html`${{ text: '<b>' } as unknown as string}`.text).toBe('[object Object]');
    expect(html`${raw('<hr>')}`.text).toBe('<hr>');
    expect(html`${String(raw('<hr>'))}`.text).toBe('&lt;hr&gt;');
  });

  it('escapeHtml covers the five characters that matter in text and quoted attributes', () => {
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
    expect(escapeHtml('plain text ü 💥')).toBe('plain text ü 💥');
  });
});

describe('visible()', () => {
  it('shows control and direction-changing characters as escapes, keeps newlines and tabs', () => {
    expect(visible('a\u0000b\u001bc\td\ne\u007f')).toBe('a\\x00b\\x1bc\td\ne\\x7f');
    expect(visible('evil\u202eexe.txt\u200b')).toBe('evil\\u202eexe.txt\\u200b');
    expect(visible('GET / HTTP/1.0')).toBe('GET / HTTP/1.0');
  });
});

describe('href()', () => {
  it('builds site paths with encoded parameters and refuses anything else', () => {
    expect(href('/records', { src: '203.0.113.0/24', port: 445, since: '', before: undefined })).toBe('/records?src=203.0.113.0%2F24&port=445');
    expect(href('/rules', { q: '"><script>' })).toBe('/rules?q=%22%3E%3Cscript%3E');
    expect(() => href('//evil.example/')).toThrow();
    expect(() => href('javascript:alert(1)')).toThrow();
    expect(seg('a/b?c')).toBe('a%2Fb%3Fc');
  });
});
