/** `ipms rules list | show | drop | disable | enable | add | edit`. */
import { cliUser } from '../../lib/queries/audit.ts';
import type { Command } from 'commander';
import { parseDuration, parseId, parseSince, formatDuration } from '../../lib/duration.ts';
import { EXIT, InputError } from '../../lib/errors.ts';
import {
  RULE_ORIGINS, RULE_STATUSES, addManualRule, changeRuleStatus, editRule, getRule, listRules,
  type RuleOut, type StatusChange,
} from '../../lib/queries/rules.ts';
import { requireSensor } from '../../lib/queries/sensors.ts';
import { actionArg, cidrArg, intArg, ipArg, listOf, nameArg, portArg, protoArg } from '../args.ts';
import type { Context } from '../context.ts';
import { adapterFor } from '../../worker/adapters.ts';
import { toDeviceRule, type RuleInput } from '../../worker/devices/canonical.ts';
import { deviceOptions } from '../../worker/target.ts';
import { renderTable } from '../table.ts';

function traffic(r: RuleOut): string {
  const to = r.dst ?? 'any';
  const port = r.dst_port ? `:${r.dst_port}` : '';
  return `${to}${port}${r.proto ? `/${r.proto}` : ''}`;
}

function age(iso: string): string {
  return formatDuration((Date.now() - Date.parse(iso)) / 1000);
}

/**
 * What the devices make of a new rule, better said when it is made: one of its rows that a
 * device cannot carry fails there on every batch (chosen by hand with --device); a device of its
 * scope does not take it at all when it is source-only (ipset, pf, RouterOS) and the rule names
 * a destination, protocol or port, or when its option ipv6 is false and the rule is IPv6 (see
 * triggers/Rule_after_insert.sql). Either is said, with the reason.
 */
async function cannotCarry(ctx: Context, ruleId: number): Promise<string[]> {
  const rows = await ctx.db().rows<RuleInput & { name: string; adapter: string; options: string | null; has_row: number }>(
    `SELECT r.id, r.src_ip, r.src_prefix, r.src_last, r.dst_ip, r.dst_port, r.proto, r.action, r.expires_at,
            d.name, d.adapter, d.options, rd.id IS NOT NULL AS has_row
     FROM Rule r JOIN Device d LEFT JOIN RuleDevice rd ON rd.rule_id = r.id AND rd.device_id = d.id
     WHERE r.id = ? AND ((rd.id IS NOT NULL AND rd.desired = 'present')
                         OR (rd.id IS NULL AND r.targeted = 0 AND d.enabled = 1 AND (d.applies_to = 'any' OR d.applies_to = r.scope)))
     ORDER BY d.name`, [ruleId]);
  const out: string[] = [];
  for (const row of rows) {
    try {
      const why = adapterFor(row.adapter).unsupported(toDeviceRule(row, { protected: [], purpose: 'keep' }), deviceOptions(row));
      if (!why) continue;
      out.push(Number(row.has_row)
        ? `device ${row.name} (${row.adapter}) cannot carry rule ${ruleId}: ${why}; it fails there until dropped (or give --device)`
        : `device ${row.name} (${row.adapter}) does not take rule ${ruleId}: ${why}`);
    } catch {
      // (what the worker refuses for other reasons it says itself)
    }
  }
  return out;
}

function deviceSummary(r: RuleOut): string {
  if (!r.devices.length) return 'no device';
  const by = new Map<string, number>();
  for (const d of r.devices) by.set(d.state, (by.get(d.state) ?? 0) + 1);
  return [...by].map(([s, n]) => `${n} ${s}`).join(', ');
}

function printRules(ctx: Context, rules: RuleOut[]): void {
  if (!rules.length) return ctx.io.out('no rules');
  ctx.io.out(
    renderTable(
      ['id', 'src', 'to', 'action', 'status', 'origin', 'hits', 'age', 'expires', 'devices'],
      rules.map((r) => [
        r.id, r.src, traffic(r), r.action, r.status, r.threshold ? `${r.origin}:${r.threshold}` : r.origin, r.hits,
        age(r.created_at), r.expires_at ? r.expires_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : 'never', deviceSummary(r),
      ]),
    ),
  );
}

function ids(values: string[]): number[] {
  if (!values.length) throw new InputError('give at least one rule ID');
  return [...new Set(values.map((v) => parseId(v, 'rule ID')))];
}

export function registerRules(program: Command, ctx: Context): void {
  const rules = program.command('rules').description('the decisions: list, inspect, add, drop, disable, enable');

  rules
    .command('list')
    .description('rules, newest first')
    .option('--status <status...>', `only these statuses (${RULE_STATUSES.join(', ')})`)
    .option('--origin <origin...>', `only these origins (${RULE_ORIGINS.join(', ')})`)
    .option('--src <cidr>', 'only rules whose source overlaps this address or CIDR')
    .option('--sensor <name>', 'only rules made from hits of this sensor')
    .option('--since <when>', 'only rules created since a duration ago (24h) or a time (2026-01-01T10:00Z)')
    .option('--limit <n>', 'at most this many rules', '100')
    .option('--json', 'print a JSON array')
    .action(async (o: { status?: string[]; origin?: string[]; src?: string; sensor?: string; since?: string; limit: string; json?: boolean }) => {
      const filter = {
        status: listOf(o.status, RULE_STATUSES, '--status'),
        origin: listOf(o.origin, RULE_ORIGINS, '--origin'),
        ...(o.src ? { src: cidrArg(o.src, '--src') } : {}),
        ...(o.sensor ? { sensor: nameArg(o.sensor, '--sensor') } : {}),
        ...(o.since ? { since: parseSince(o.since) } : {}),
        limit: intArg(o.limit, '--limit', 1, 1_000_000),
      };
      if (filter.sensor) await requireSensor(ctx.db(), filter.sensor);
      const got = await listRules(ctx.db(), filter);
      if (o.json) return ctx.json(got);
      printRules(ctx, got);
    });

  rules
    .command('show <id>')
    .description('one rule with each device\'s state and last error')
    .option('--json', 'print JSON')
    .action(async (idText: string, o: { json?: boolean }) => {
      const r = await getRule(ctx.db(), parseId(idText, 'rule ID'));
      if (o.json) return ctx.json(r);
      const lines: [string, string][] = [
        ['id', String(r.id)], ['source', r.src], ['traffic', traffic(r)], ['action', r.action], ['status', r.status],
        ['origin', r.origin + (r.threshold ? ` (threshold ${r.threshold})` : '')], ['sensor', r.sensor ?? '-'],
        ['hits', String(r.hits)], ['scope', r.scope], ['reason', r.reason ?? '-'], ['created', r.created_at],
        ['expires', r.expires_at ?? 'never'], ['updated', r.updated_at ?? '-'],
      ];
      ctx.io.out(lines.map(([k, v]) => `${k.padEnd(9)} ${v}`).join('\n'));
      ctx.io.out('');
      ctx.io.out(r.devices.length
        ? renderTable(['device', 'desired', 'state', 'last error'], r.devices.map((d) => [d.device, d.desired, d.state, d.last_error]))
        : 'no device takes this rule');
    });

  const change = (name: StatusChange, what: string) =>
    rules
      .command(`${name} <id...>`)
      .description(what)
      .option('--json', 'print the outcome as JSON')
      .action(async (values: string[], o: { json?: boolean }) => {
        const res = await changeRuleStatus(ctx.db(), ids(values), name);
        // a rule already where it was asked to go is fine (running a command twice, as
        // `thresholds disable` does); one that cannot go there (enable a dropped rule) is refused
        const there = (status: string) => (name === 'drop' ? status === 'dropped' : name === 'disable' ? status === 'disabled'
          : status === 'pending' || status === 'active');
        const refused = res.unchanged.filter((u) => !there(u.status));
        if (res.changed.length) await ctx.audit(`rule.${name}`, res.changed.map((id) => `rule ${id}`).join(', '), { rules: res.changed });
        if (o.json) ctx.json(res);
        else {
          const done = name === 'drop' ? 'dropped' : name === 'disable' ? 'disabled' : 'enabled';
          for (const id of res.changed) ctx.io.out(`rule ${id}: ${done}`);
          for (const u of res.unchanged) {
            if (there(u.status)) ctx.io.out(`rule ${u.id}: already ${u.status}`);
            else ctx.io.err(`ipms: rule ${u.id} is ${u.status}: nothing to ${name}`);
          }
          for (const id of res.missing) ctx.io.err(`ipms: rule ${id} does not exist`);
        }
        if (res.missing.length) ctx.exitCode = EXIT.NOT_FOUND;
        else if (refused.length) ctx.exitCode = EXIT.REFUSED;
      });
  change('drop', 'take rules off every device for good (status dropped)');
  change('disable', 'red light: take rules off the devices but keep them (status disabled)');
  change('enable', 'green light: put disabled rules back on the devices');

  rules
    .command('add <src>')
    .description('block a source address or CIDR by hand (origin manual)')
    .option('--dst <ip>', 'only traffic to this address')
    .option('--dst-port <port>', 'only traffic to this port (needs --proto tcp or udp; tcp if omitted)')
    .option('--proto <proto>', 'only this protocol (tcp, udp, icmp, ...)')
    .option('--action <action>', 'DROP or REJECT', 'DROP')
    .option('--duration <duration>', 'expire after this long (4h, 7d); default: until dropped')
    .option('--reason <text>', 'why (free text, kept in the database, never sent to devices)')
    .option('--device <names...>', 'only these devices (--device a b, or repeated); default: every device that takes it')
    .option('--json', 'print the new rule as JSON')
    .action(async (src: string, o: { dst?: string; dstPort?: string; proto?: string; action: string; duration?: string; reason?: string; device?: string[]; json?: boolean }) => {
      const cidr = cidrArg(src, 'SRC');
      const dstPort = o.dstPort !== undefined ? portArg(o.dstPort) : undefined;
      const proto = o.proto !== undefined ? protoArg(o.proto) : dstPort !== undefined ? 'tcp' : undefined;
      if (o.reason !== undefined && o.reason.length > 255) throw new InputError('--reason: at most 255 characters');
      const id = await addManualRule(ctx.db(), {
        src: cidr,
        ...(o.dst ? { dst: ipArg(o.dst, '--dst') } : {}),
        ...(dstPort !== undefined ? { dstPort } : {}),
        ...(proto ? { proto } : {}),
        action: actionArg(o.action),
        ...(o.duration ? { durationS: parseDuration(o.duration, '--duration') } : {}),
        ...(o.reason !== undefined ? { reason: o.reason } : {}),
        ...(o.device?.length ? { devices: o.device.map((d) => nameArg(d, '--device')) } : {}),
        createdBy: cliUser(),
      });
      const r = await getRule(ctx.db(), id);
      await ctx.audit('rule.add', `rule ${id}`, { src: r.src, dst: r.dst, dst_port: r.dst_port, proto: r.proto, action: r.action,
        expires_at: r.expires_at, reason: r.reason, devices: o.device ?? null });
      const warnings = await cannotCarry(ctx, id);
      if (o.json) ctx.json(r);
      else ctx.io.out(`rule ${id}: ${r.action} ${r.src} -> ${traffic(r)} (${deviceSummary(r)})`);
      // (on stderr, with --json too)
      for (const w of warnings) ctx.io.err(`ipms: ${w}`);
    });

  rules
    .command('edit <id>')
    .description('change the duration (from creation; "never" = permanent), action or reason of a rule')
    .option('--duration <duration>', 'lifetime counted from the rule\'s creation, or "never"')
    .option('--action <action>', 'DROP or REJECT')
    .option('--reason <text>', 'why')
    .action(async (idText: string, o: { duration?: string; action?: string; reason?: string }) => {
      const id = parseId(idText, 'rule ID');
      const set = {
        ...(o.duration !== undefined ? { durationS: /^(never|permanent)$/i.test(o.duration) ? null : parseDuration(o.duration, '--duration') } : {}),
        ...(o.action !== undefined ? { action: actionArg(o.action) } : {}),
        ...(o.reason !== undefined ? { reason: o.reason } : {}),
      };
      await editRule(ctx.db(), id, set);
      await ctx.audit('rule.edit', `rule ${id}`, set);
      ctx.io.out(`rule ${id}: updated`);
    });
}
