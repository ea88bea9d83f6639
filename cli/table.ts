/** Aligned text tables for people; `--json` gives machines the same rows. */

export type Cell = string | number | boolean | null | undefined | Date;

/**
 * Text written by others (payloads, feed comments, reasons) with control characters escaped,
 * never raw: an escape sequence from a feed must not reach the admin's terminal.
 */
export function safeText(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/**
 * Everything the CLI prints, line breaks and tabs kept: whatever path a value from a sensor, a
 * feed or a device takes to the output (a log's fields, a rule's reason, a feed's skip reason,
 * a device's error), no control character reaches the terminal raw (an escape sequence could
 * set the clipboard, retitle the window, or hide and erase lines of the output).
 */
export function terminalText(s: string): string {
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => safeText(c));
}

function show(v: Cell): string {
  if (v === null || v === undefined) return '-';
  if (v instanceof Date) return v.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
  return safeText(String(v));
}

export function renderTable(headers: string[], rows: Cell[][]): string {
  const text = rows.map((r) => r.map(show));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...text.map(line)].join('\n');
}

/** ISO 8601 UTC, or null: the form every JSON output uses for times. */
export function isoOrNull(d: Date | null | undefined): string | null {
  return d ? d.toISOString() : null;
}
