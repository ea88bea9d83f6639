/** `ipms ingest`: the honeyd2db shim (honeyd2db/ingest.ts does the work). */
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { DbConfig, DbTls } from '../../lib/config.ts';
import { InputError } from '../../lib/errors.ts';
import { nameArg } from '../args.ts';
import { FORMATS, type FormatChoice } from '../../honeyd2db/format.ts';
import { parseHoneydConfig, type HoneydConfig } from '../../honeyd2db/honeyd-config.ts';
import { Honeypots } from '../../honeyd2db/honeypots.ts';
import { ingest } from '../../honeyd2db/ingest.ts';
import { isKnownZone } from '../../honeyd2db/parse/index.ts';
import { renderSummary, summaryJson } from '../../honeyd2db/summary.ts';
import type { Context } from '../context.ts';

interface IngestFlags {
  sensor: string;
  format: FormatChoice;
  tz?: string;
  year?: string;
  follow?: boolean;
  honeydConfig?: string;
  honeypotNet: string[];
  stateDir?: string;
  spoolMaxBytes: string;
  rejects?: string;
  batchSize: string;
  flushMs: string;
  pollMs: string;
  timeoutMs: string;
  sslCa?: string;
  sslMode?: string;
  fromStart?: boolean;
  json?: boolean;
}

/** Where the spool, checkpoints and rejects live unless --state-dir says otherwise. */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  if (env.IPMS_STATE_DIR) return env.IPMS_STATE_DIR;
  if (process.getuid?.() === 0) return '/var/lib/ipms';
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'ipms');
}

export function parseSize(text: string, what: string): number {
  const m = /^(\d+)\s*([kmg]?)i?b?$/i.exec(text.trim());
  if (!m) throw new InputError(`${what}: '${text}' is not a size (e.g. 64M, 1G, 500000)`);
  const n = Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]!;
  if (n < 64 * 1024) throw new InputError(`${what}: at least 64K`);
  return n;
}

function intFlag(text: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new InputError(`${what}: expected a whole number from ${min} to ${max}, got '${text}'`);
  return Number(text);
}

/** The configured database, with --ssl-ca / --ssl-mode applied on top of the URL's options. */
function withTls(cfg: DbConfig, flags: IngestFlags): DbConfig {
  if (flags.sslCa === undefined && flags.sslMode === undefined) return cfg;
  if (flags.sslMode === 'disabled') {
    const { tls: _t, ...plain } = cfg;
    return Object.freeze(plain);
  }
  const tls: DbTls = { ...(cfg.tls ?? { mode: 'verify-identity' }) };
  if (flags.sslMode !== undefined) tls.mode = flags.sslMode as DbTls['mode'];
  if (flags.sslCa !== undefined) tls.ca = flags.sslCa;
  return Object.freeze({ ...cfg, tls: Object.freeze(tls) });
}

export function registerIngest(program: Command, ctx: Context): void {
  program
    .command('ingest')
    .description(
      "read a sensor's honeyd logs into the database, exactly once: -l connection logs, -s service logs, syslog / -d output, " +
        'script logs (mydoom.pl...); spools locally while the database is unreachable',
    )
    .argument('[files...]', "log files, or - for standard input")
    .requiredOption('--sensor <name>', 'the sensor these logs come from (registered on first use)')
    .addOption(new Option('--format <format>', 'format of the files; auto: told from their first lines').choices(['auto', ...FORMATS]).default('auto'))
    .option('--tz <zone>', "time zone honeyd's host runs in (-l, -s and syslog times carry none); default: this machine's")
    .option('--year <year>', 'year of syslog time stamps, which carry none (default: the current year)')
    .option('--follow', 'keep reading as the files grow (through rotation); stop with SIGTERM or Ctrl-C')
    .option('--honeyd-config <file>', "honeyd's configuration: its bind lines are the honeypot addresses (only traffic to them counts)")
    .option('--honeypot-net <cidr>', "a network of honeypot addresses (honeyd's net argument); repeatable", (v: string, all: string[]) => [...all, v], [])
    .option('--state-dir <dir>', 'where the spool, checkpoints and rejects file live (default: $IPMS_STATE_DIR, /var/lib/ipms as root, else ~/.local/state/ipms)')
    .option('--spool-max-bytes <size>', 'bound of the local spool (K, M, G)', '256M')
    .option('--rejects <file>', 'where refused lines go, one JSON object a line (default: in the state directory)')
    .option('--batch-size <rows>', 'rows a batch', '500')
    .option('--flush-ms <ms>', 'under --follow, how long rows may wait for more (at most 250)', '200')
    .option('--poll-ms <ms>', 'under --follow, how often files are looked at', '100')
    .option('--timeout-ms <ms>', 'a database write slower than this is taken for an outage', '30000')
    .option('--ssl-ca <file>', "CA certificate that signed the database server's certificate (turns TLS on; same as ?ssl-ca= in the URL)")
    .addOption(new Option('--ssl-mode <mode>', 'verify-identity (default with TLS): chain and name; verify-ca: chain only').choices(['verify-identity', 'verify-ca', 'disabled']))
    .option('--from-start', 'read every file from its first line, ignoring checkpoints (lines already stored are counted as already present)')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      `
Exits 0 when the run completed, refused lines included (they are counted and kept in the
rejects file with their reason), and also when rows had to be spooled (the next run sends them);
1 when stopped before the end of the files without --follow; 2 on bad arguments or an
unreadable file; 3 when the database refused the login or TLS, is not migrated, or is
unreachable with the spool full.`,
    )
    .action(async (files: string[], flags: IngestFlags) => {
      // the name every other command takes (sensors show, rules list --sensor ...)
      nameArg(flags.sensor, '--sensor');
      if (files.length === 0) throw new InputError('name at least one log file, or - for standard input');
      if (files.filter((f) => f === '-').length > 1) throw new InputError('standard input (-) can be named once');
      // every file readable before anything is written (the sensor's registration included):
      // exit 2 means nothing was changed. (--follow waits for a file that is not there yet)
      if (!flags.follow) {
        for (const f of files) {
          if (f === '-') continue;
          try {
            accessSync(f, fsConstants.R_OK);
          } catch (err) {
            throw new InputError(`cannot read ${f}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
          }
        }
      }
      // the machine's zone as Intl resolves it (it reads TZ too, in every form glibc takes)
      const tz = flags.tz ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (!isKnownZone(tz)) throw new InputError(`--tz: unknown time zone '${tz}' (an IANA name such as UTC or Europe/Paris)`);
      const year = flags.year === undefined ? undefined : intFlag(flags.year, '--year', 1970, 9999);
      let honeydConfig: HoneydConfig | null = null;
      if (flags.honeydConfig !== undefined) {
        let text: string;
        try {
          text = readFileSync(flags.honeydConfig, 'utf8');
        } catch (err) {
          throw new InputError(`cannot read --honeyd-config ${flags.honeydConfig}: ${(err as NodeJS.ErrnoException).code ?? err}`);
        }
        honeydConfig = parseHoneydConfig(text, flags.honeydConfig);
        for (const note of honeydConfig.notes) ctx.io.err(`ipms: note: ${note}`);
      }
      const honeypots = new Honeypots(honeydConfig?.binds.map((b) => b.address) ?? [], flags.honeypotNet);
      const flushMs = intFlag(flags.flushMs, '--flush-ms', 0, 250);
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      try {
        const summary = await ingest({
          sensor: flags.sensor,
          files,
          format: flags.format,
          ctx: year === undefined ? { tz } : { tz, year },
          follow: Boolean(flags.follow),
          honeypots,
          honeydConfig,
          dbConfig: withTls(ctx.dbConfig(), flags),
          stateDir: flags.stateDir ?? defaultStateDir(process.env),
          spoolMaxBytes: parseSize(flags.spoolMaxBytes, '--spool-max-bytes'),
          ...(flags.rejects !== undefined ? { rejectsPath: flags.rejects } : {}),
          batchSize: intFlag(flags.batchSize, '--batch-size', 1, 100_000),
          flushMs,
          pollMs: intFlag(flags.pollMs, '--poll-ms', 10, 10_000),
          timeoutMs: intFlag(flags.timeoutMs, '--timeout-ms', 1000, 3_600_000),
          fromStart: Boolean(flags.fromStart),
          warn: (m) => ctx.io.err(`ipms: warning: ${m}`),
          signal: controller.signal,
        });
        if (flags.json) ctx.json(summaryJson(summary));
        else for (const line of renderSummary(summary)) ctx.io.out(line);
        if (!flags.follow && controller.signal.aborted) {
          // stopping is how --follow ends; without it, a stop means the files were not read to the end
          ctx.io.err('ipms: interrupted before the end of the files: what was read is stored, the next run reads on');
          process.exitCode = 1;
        }
      } finally {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
      }
    });
}
