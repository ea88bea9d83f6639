/** `ipms db migrate | status | grants | prune`. */
import type { Command } from 'commander';
import { parseDuration } from '../../lib/duration.ts';
import { InputError } from '../../lib/errors.ts';
import { grantStatements, quoteIdent, ROLES, sensorRole } from '../../lib/grants.ts';
import { collect, nameArg } from '../args.ts';
import { cliUser, recordAudit } from '../../lib/queries/audit.ts';
import { prune } from '../../lib/queries/prune.ts';
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
          (report.dropped.length ? `, ${report.dropped.length} dropped` : '') +
          (report.views.length ? `; views made again under this account (their definer does not exist here): ${report.views.join(', ')}` : ''),
      );
      // what the new schema versions changed that the administrator should know of
      for (const n of report.notes) ctx.io.out(n);
    });

  db.command('status')
    .description('schema versions, triggers, and the server settings that matter')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const st = await dbStatus(ctx.db({ asIs: true }));
      // An account of a component (sensor, worker) sees neither the schema's history nor the
      // triggers (information_schema lists what an account has rights on): nothing but the
      // migration's finished mark can be told from it, which every account may read.
      if (!st.applied.length) {
        const finished = await ctx.db({ asIs: true }).rows<{ finished_at: Date }>('SELECT finished_at FROM ipms_migrated WHERE id = 1').catch(() => []);
        if (finished.length) {
          const note = `this account may not see the schema's history or its triggers (it lacks the rights; run db status as the migrating account); the last migration finished at ${finished[0]!.finished_at.toISOString()}`;
          if (opts.json) return ctx.json({ ...st, visible: false, finished_at: finished[0]!.finished_at });
          ctx.io.out(`server: ${st.server}`);
          ctx.io.out(note);
          return;
        }
      }
      if (opts.json) return ctx.json(st);
      const bad = st.programs.filter((p) => p.state !== 'ok');
      ctx.io.out(`server: ${st.server} (binary log ${st.binlog ? 'on' : 'off'}, log_bin_trust_function_creators ${st.trustFunctionCreators ? 'on' : 'off'})`);
      ctx.io.out(`schema: ${st.applied.length} applied, ${st.pending.length} pending${st.pending.length ? ` (${st.pending.join(', ')})` : ''}`);
      for (const h of st.halfway) {
        ctx.io.out(`schema: ${h.name} stopped half way (${h.done} of its ${h.of} statements done): \`ipms db migrate\` goes on from there`);
      }
      ctx.io.out(`triggers and procedures: ${st.programs.length - bad.length} ok, ${bad.length} missing or outdated`);
      if (bad.length) ctx.io.out(renderTable(['name', 'kind', 'state'], bad.map((p) => [p.name, p.kind, p.state])));
      for (const d of st.definers) {
        ctx.io.out(`runs as: ${d.account} (${d.objects} triggers, procedures and views)${d.exists === false ? ' — this account does not exist here' : ''}`);
      }
      const gone = st.definers.filter((d) => d.exists === false);
      if (gone.length) {
        ctx.io.err(`ipms: triggers, procedures and views run as ${gone.map((d) => d.account).join(', ')}, which this server does not have: ` +
          'inserts into their tables fail (error 1449); run `ipms db migrate` as the migrating account');
        ctx.exitCode = 3;
      } else if (st.pending.length || bad.length) {
        ctx.io.err('ipms: the database is not fully migrated: run `ipms db migrate`');
        ctx.exitCode = 3;
      }
    });

  db.command('grants')
    .description('print CREATE USER / GRANT statements for each component (least privilege)')
    .option('--host <host>', "client host part of the accounts ('%' = any)", '%')
    .option('--database <name>', "database name (default: the configured one, else 'ipms')")
    .option('--sensor <name>', 'only the account of this sensor, ipms_sensor_NAME (repeatable): one per sensor host', collect)
    .option('--role <account>', `only this account (repeatable): ${ROLES.map((r) => r.user).join(', ')}`, collect)
    .action((opts: { host: string; database?: string; sensor?: string[]; role?: string[] }) => {
      // (nothing is contacted: before any database exists, the name the README uses)
      const name = opts.database ?? ctx.config().db?.database ?? 'ipms';
      if (opts.role?.length) {
        const roles = opts.role.map((u) => {
          const r = ROLES.find((x) => x.user === u);
          if (!r) throw new InputError(`--role: no account '${u}' (${ROLES.map((x) => x.user).join(', ')})`);
          return r;
        });
        ctx.io.out([`-- Run as a privileged account${roles.some((r) => r.user === 'ipms_migrator') ? ` (first CREATE DATABASE ${quoteIdent(name)};)` : ' once the database is migrated'}; ` +
          'replace CHANGE-ME with a real password.', ...grantStatements(name, opts.host, roles)].join('\n'));
        return;
      }
      if (opts.sensor?.length) {
        const roles = opts.sensor.map((s) => sensorRole(nameArg(s, '--sensor')));
        ctx.io.out(['-- Run as a privileged account once the database is migrated; replace CHANGE-ME with the sensor\'s own password.',
          ...grantStatements(name, opts.host, roles)].join('\n'));
        return;
      }
      ctx.io.out(
        [
          '-- Run as a privileged account; replace CHANGE-ME with real passwords. In this order:',
          `-- CREATE DATABASE ${quoteIdent(name)}; then the ipms_migrator statements below; then \`ipms db migrate\` as`,
          '-- ipms_migrator; then the other accounts (their grants name tables, which must exist by then).',
          '-- (`ipms db grants --role ipms_migrator` prints that account alone, and so on for each.)',
          '-- With the binary log on (MySQL 8 default), creating triggers also needs SUPER, or the server',
          '-- option log_bin_trust_function_creators=1 (safe with binlog_format=ROW, the default).',
          '-- CREATE USER IF NOT EXISTS leaves an existing account\'s password as it was (ALTER USER ... IDENTIFIED BY',
          '-- changes it). MariaDB keeps these statements, passwords included, in its binary log: run them',
          '-- with SET SESSION sql_log_bin = 0 where that is allowed, or use IDENTIFIED BY PASSWORD \'*hash\'.',
          '-- GRANT only adds: an ipms_admin granted by an earlier version (writes on every table) keeps them',
          `-- until REVOKE INSERT, UPDATE, DELETE ON ${quoteIdent(name)}.* FROM 'ipms_admin'@'${opts.host}'; then grant it as below.`,
          ...grantStatements(name, opts.host),
        ].join('\n'),
      );
    });

  db.command('prune')
    .description('delete old hits, long-closed rules and old audit entries (each kind only when asked for)')
    .option('--logs <age>', 'SensorLog and Data rows whose event time is older than AGE (e.g. 90d)')
    .option('--rules <age>', 'dropped or expired rules closed more than AGE ago and off every device (e.g. 365d)')
    .option('--audit <age>', 'AuditLog entries older than AGE (e.g. 730d)')
    .option('--dry-run', 'count what would go, delete nothing')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { logs?: string; rules?: string; audit?: string; dryRun?: boolean; json?: boolean }) => {
      const age = (v: string | undefined, flag: string) => (v === undefined ? undefined : parseDuration(v, flag));
      const o = { logsS: age(opts.logs, '--logs'), rulesS: age(opts.rules, '--rules'), auditS: age(opts.audit, '--audit'), dryRun: opts.dryRun };
      if (o.logsS === undefined && o.rulesS === undefined && o.auditS === undefined) {
        throw new InputError('say what to prune: --logs AGE, --rules AGE and/or --audit AGE (nothing is deleted by default)');
      }
      const r = await prune(ctx.db(), o);
      // deleting history is itself history (after the audit sweep, so that it stays)
      if (!r.dryRun) {
        await recordAudit(ctx.db(), { who: cliUser(), via: 'cli', action: 'db.prune', detail: r });
      }
      if (opts.json) return ctx.json(r);
      const verb = r.dryRun ? 'would delete' : 'deleted';
      const parts = [
        ...(r.before.logs ? [`${r.sensorlog} log rows (hits, connection ends, markers) and ${r.data} payload lines before ${r.before.logs}`] : []),
        ...(r.before.rules ? [`${r.rules} rules closed before ${r.before.rules}`] : []),
        ...(r.before.audit ? [`${r.audit} audit entries before ${r.before.audit}`] : []),
      ];
      ctx.io.out(`prune: ${verb} ${parts.join('; ')}`);
    });
}
