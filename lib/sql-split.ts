/**
 * Split a file of SQL statements at top-level semicolons, skipping those inside quotes and
 * comments. Used for schema migrations only: trigger and routine files hold one statement
 * each and are sent whole (there is no DELIMITER: that is a client feature, not SQL).
 */
export function splitStatements(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === "'" || c === '"' || c === '`') {
      i++;
      while (i < n && text[i] !== c) {
        if (text[i] === '\\' && c !== '`') i++;
        i++;
      }
      i++;
    } else if ((c === '-' && next === '-') || c === '#') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === ';') {
      out.push(text.slice(start, i));
      i++;
      start = i;
    } else {
      i++;
    }
  }
  out.push(text.slice(start));
  return out.map(stripComments).filter((s) => s.length > 0);
}

/** Remove leading comment lines and surrounding white space of one statement. */
export function stripComments(stmt: string): string {
  return stmt
    .split('\n')
    .filter((line) => !/^\s*(--|#)/.test(line))
    .join('\n')
    .trim();
}
