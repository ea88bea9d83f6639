/** `ipms db migrate | status | grants`. */
import type { Command } from 'commander';
import { grantStatements } from '../../lib/grants.ts';
import { dbStatus, migrate } from '../../lib/migrate.ts';
import type { Context } from '../context.ts';
import { renderTable } from '../table.ts';

export function registerDb(program: Command, ctx: Context): void {
  const db = program.command('db').description('database schema, triggers and accounts');

  db.command('migrate')
    .description('apply pending schema versions and (re)install changed triggers; safe to run again and again')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const report = await migrate(ctx.dbConfig());
      if (opts.json) return ctx.json(report);
      ctx.io.out(
        `schema: ${report.applied.length ? `applied ${report.applied.join(', ')}` : 'up to date'}; ` +
          `triggers and procedures: ${report.created.length} installed, ${report.unchanged.length} unchanged` +
          (report.dropped.length ? `, ${report.dropped.length} dropped` : ''),
      );
    });

  db.command('status')
    .description('schema versions, triggers, and the server settings that matter')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const st = await dbStatus(ctx.db());
      if (opts.json) return ctx.json(st);
      const bad = st.programs.filter((p) => p.state !== 'ok');
      ctx.io.out(`server: ${st.server} (binary log ${st.binlog ? 'on' : 'off'}, log_bin_trust_function_creators ${st.trustFunctionCreators ? 'on' : 'off'})`);
      ctx.io.out(`schema: ${st.applied.length} applied, ${st.pending.length} pending${st.pending.length ? ` (${st.pending.join(', ')})` : ''}`);
      ctx.io.out(`triggers and procedures: ${st.programs.length - bad.length} ok, ${bad.length} missing or outdated`);
      if (bad.length) ctx.io.out(renderTable(['name', 'kind', 'state'], bad.map((p) => [p.name, p.kind, p.state])));
      if (st.pending.length || bad.length) {
        ctx.io.err('ipms: the database is not fully migrated: run `ipms db migrate`');
        ctx.exitCode = 3;
      }
    });

  db.command('grants')
    .description('print CREATE USER / GRANT statements for each component (least privilege)')
    .option('--host <host>', "client host part of the accounts ('%' = any)", '%')
    .option('--database <name>', 'database name (default: the configured one)')
    .action((opts: { host: string; database?: string }) => {
      const name = opts.database ?? ctx.dbConfig().database;
      ctx.io.out(
        [
          '-- Run as a privileged account; replace CHANGE-ME with real passwords.',
          '-- With the binary log on (MySQL 8 default), creating triggers also needs SUPER, or the server',
          '-- option log_bin_trust_function_creators=1 (safe with binlog_format=ROW, the default).',
          ...grantStatements(name, opts.host),
        ].join('\n'),
      );
    });
}
