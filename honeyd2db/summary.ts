/** What one `ipms ingest` run did, counted as it goes; printed at the end (or as JSON). */

export interface Counts {
  /** lines read (every line, whatever became of it) */
  lines: number;
  /** SensorLog rows that count: connection starts and probes addressed to a honeypot */
  hits: number;
  /** SensorLog rows stored but never counted (not addressed to a honeypot, multicast...) */
  strays: number;
  /** SensorLog rows of connection ends (E lines) */
  ends: number;
  /** of the ends, those linked to their start */
  endsLinked: number;
  /** Data rows (service log, syslog, script log lines) */
  payloads: number;
  /** of the payloads, those linked to a connection */
  payloadsLinked: number;
  /** script-log `connection from` lines that became the connection (no S line of their own) */
  scriptConnections: number;
  /** `honeyd log started/stopped` lines and the -d banner */
  markers: number;
  /** lines that are not ours: empty lines, other programs' syslog lines */
  skipped: number;
  /** last lines of files without their newline yet (honeyd may be writing them): read next run */
  unfinished: number;
  /** lines refused, each written to the rejects file with its reason */
  rejected: number;
  /** rows the database took in this run (directly or from the spool) */
  inserted: number;
  /** rows the database already had (same event id): a file read again, a spool replayed again */
  alreadyPresent: number;
  /** rows written to the local spool in this run because the database was unreachable */
  spooled: number;
  /** rows sent from the spool to the database in this run */
  replayed: number;
}

export function zeroCounts(): Counts {
  return {
    lines: 0, hits: 0, strays: 0, ends: 0, endsLinked: 0, payloads: 0, payloadsLinked: 0, scriptConnections: 0,
    markers: 0, skipped: 0, unfinished: 0, rejected: 0, inserted: 0, alreadyPresent: 0, spooled: 0, replayed: 0,
  };
}

export interface FileSummary {
  path: string;
  format: string;
  lines: number;
  rejected: number;
  /** byte offset reached */
  offset: number;
}

export interface Summary {
  sensor: string;
  counts: Counts;
  files: FileSummary[];
  /** false: no honeypot address was given, so every unicast destination counted as a hit */
  honeypotsKnown: boolean;
  honeypots: string[];
  rejectsFile: string | null;
  spoolFile: string;
  /** bytes still in the spool at the end (the database was unreachable) */
  spoolPendingBytes: number;
  seconds: number;
  warnings: string[];
}

/**
 * The summary as `ingest --json` prints it: the same fields with snake_case names, as every
 * other JSON of the CLI (`counts.already_present`, `counts.ends_linked`, `honeypots_known`...).
 */
export function summaryJson(s: Summary): unknown {
  const snake = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(snake);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snake(x)]));
  };
  return snake(s);
}

export function renderSummary(s: Summary): string[] {
  const c = s.counts;
  const out = [
    `ingest ${s.sensor}: ${c.lines} lines: ${c.hits} hits, ${c.strays} stray, ${c.ends} ends (${c.endsLinked} linked), ` +
      `${c.payloads} payloads (${c.payloadsLinked} linked), ${c.markers} markers, ${c.skipped} skipped, ${c.rejected} rejected`,
    `  database: ${c.inserted} rows inserted, ${c.alreadyPresent} already present` +
      (c.replayed ? `, ${c.replayed} replayed from the spool` : '') +
      (c.spooled ? `; ${c.spooled} rows spooled` : '') +
      ` (${s.seconds.toFixed(1)} s)`,
  ];
  if (c.lines === 0 && s.files.some((f) => f.offset > 0)) out.push('  nothing new: every file had been read up to its end before (checkpoints)');
  if (c.unfinished) {
    out.push(`  ${c.unfinished} file(s) end in a line without its newline yet (honeyd may be writing it): left for the next run`);
  }
  if (c.scriptConnections) out.push(`  ${c.scriptConnections} connections known only from script logs were added as connections`);
  out.push(
    s.honeypotsKnown
      ? `  honeypots: ${s.honeypots.length <= 6 ? s.honeypots.join(', ') : `${s.honeypots.slice(0, 6).join(', ')} and ${s.honeypots.length - 6} more`}`
      : '  honeypots: none given (--honeyd-config or --honeypot-net): EVERY unicast destination was counted as a hit',
  );
  if (c.rejected && s.rejectsFile) out.push(`  rejected lines and reasons: ${s.rejectsFile}`);
  if (s.spoolPendingBytes) {
    out.push(`  ${s.spoolPendingBytes} bytes of rows wait in the spool ${s.spoolFile}: the next run (or --follow) sends them when the database answers`);
  }
  return out;
}
