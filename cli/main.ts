/**
 * The `ipms` command: commander, one file per command group under cli/commands/.
 * Configuration is resolved only when a command needs it, so `ipms --help` works anywhere.
 */
import { Command, CommanderError } from 'commander';
import { EXIT, IpmsError, oneLine } from '../lib/errors.ts';
import { Context, type GlobalFlags, type Output } from './context.ts';
import { terminalText } from './table.ts';
import { registerDb } from './commands/db.ts';
import { registerIngest } from './commands/ingest.ts';
import { registerRules } from './commands/rules.ts';
import { registerLists } from './commands/lists.ts';
import { registerSensors } from './commands/sensors.ts';
import { registerObserve } from './commands/observe.ts';
import { registerDevices } from './commands/devices.ts';
import { registerServe } from './commands/serve.ts';
import { registerUsers } from './commands/users.ts';

export const EXIT_HELP = `
Exit codes:
  0  ok
  1  failure: the command ran but something it did failed (a device, a check)
  2  bad usage or bad input (nothing was changed)
  3  database unreachable, login refused, or schema not migrated
  4  not found (rule, sensor, device, threshold...)
  5  refused for safety or consistency (whitelisted address, duplicate)

Environment:
  IPMS_DATABASE_URL   mysql://user:pass@host:port/db[?ssl-ca=FILE&ssl-mode=verify-identity]
  IPMS_CONFIG         JSON config file (default ~/.config/ipms/config.json, /etc/ipms/config.json)
`;

export function buildProgram(ctx: Context, forCheck = false): Command {
  const program = new Command('ipms')
    .description('Intrusion Prevention Management System: honeypot hits in, firewall rules out')
    .version('0.1.0')
    .option('--database-url <url>', 'database URL (overrides IPMS_DATABASE_URL)')
    .option('--config <file>', 'JSON config file')
    .addHelpText('after', EXIT_HELP)
    .configureOutput({
      writeOut: (s) => ctx.io.out(s.replace(/\n$/, '')),
      writeErr: (s) => ctx.io.err(s.replace(/\n$/, '')),
      // one line, like every other error: "ipms: unknown option '--x' (see --help)"; for the
      // monitoring plugin (a global option's error too) UNKNOWN on stdout, as for its own
      outputError: (s) => (forCheck ? ctx.io.out(`IPMS UNKNOWN - ${usageText(s)}`) : ctx.io.err(`ipms: ${usageText(s)} (see --help)`)),
    })
    .exitOverride();
  registerDb(program, ctx);
  registerIngest(program, ctx);
  registerRules(program, ctx);
  registerLists(program, ctx);
  registerSensors(program, ctx);
  registerObserve(program, ctx);
  registerDevices(program, ctx);
  registerServe(program, ctx);
  registerUsers(program, ctx);
  return program;
}

export function defaultOutput(): Output {
  return {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
    isTty: Boolean(process.stdout.isTTY),
  };
}

/** Commander's error text without its "error: " prefix and line breaks. */
function usageText(s: string): string {
  return s.replace(/^error:\s*/i, '').replace(/\s*\n\s*/g, ' ').trim();
}

/** The command named on the command line (the first operand after the global options). */
function commandOf(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--database-url' || a === '--config') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/** Run the CLI; returns the exit code instead of exiting, so tests can call it in-process. */
export async function main(argv: string[], raw: Output = defaultOutput(), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // (every line, whatever command prints it: see terminalText)
  const io: Output = { ...raw, out: (s) => raw.out(terminalText(s)), err: (s) => raw.err(terminalText(s)) };
  let program: Command | undefined;
  const ctx = new Context(() => (program?.opts() ?? {}) as GlobalFlags, io, env);
  const forCheck = commandOf(argv) === 'check';
  program = buildProgram(ctx, forCheck);
  try {
    await program.parseAsync(argv);
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are "errors" to commander; they are successes to the shell
      // (commander.help is the help shown for a command group given no command: a usage error)
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.OK;
      // `ipms help [command]` asked for help (exit code 0); a group without its command did not
      if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      // a monitoring plugin answers even bad usage with UNKNOWN (printed by outputError), exit 3
      return forCheck ? 3 : EXIT.USAGE;
    }
    if (err instanceof IpmsError) {
      io.err(`ipms: ${oneLine(err)}`);
      if (env.IPMS_DEBUG) io.err(String(err.stack));
      return err.exitCode;
    }
    io.err(`ipms: unexpected error: ${oneLine(err)}`);
    if (env.IPMS_DEBUG) io.err(String((err as Error).stack));
    return EXIT.FAILURE;
  } finally {
    await ctx.close();
  }
}
