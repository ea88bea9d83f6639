/** `ipms sensors ...` and `ipms thresholds ...`. */
import { cliUser } from '../../lib/queries/audit.ts';
import type { Command } from 'commander';
import { formatDuration, parseDuration } from '../../lib/duration.ts';
import { InputError, NotFoundError } from '../../lib/errors.ts';
import type { Cidr } from '../../lib/ip.ts';
import { openRulesOver } from '../../lib/queries/lists.ts';
import { addSensor, addThreshold, approveSensorNets, listSensors, listThresholds, removeSensor, removeThreshold, revokeSensorNets, setSensor, setThreshold, type ThresholdOut, type ThresholdSet } from '../../lib/queries/sensors.ts';
import { RULE_PROTOCOLS } from '../../lib/types.ts';
import { actionArg, cidrArg, intArg, ipArg, nameArg, oneOf, portArg } from '../args.ts';
import type { Context } from '../context.ts';
import { renderTable } from '../table.ts';

const GROUPS = ['src', 'src_dport', 'src_dst_dport', 'tuple'] as const;

/** key=value pairs of `thresholds add/set`, each validated; keys are the Threshold columns. */
export function parseThresholdPairs(pairs: string[]): ThresholdSet {
  const set: ThresholdSet = {};
  const none = (v: string) => /^(any|none|null|)$/i.test(v);
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new InputError(`'${pair}' is not key=value`);
    const key = pair.slice(0, eq).trim().toLowerCase();
    const v = pair.slice(eq + 1).trim();
    const what = `threshold ${key}`;
    switch (key) {
      case 'enabled': set.enabled = oneOf(v, ['yes', 'no', 'true', 'false', '1', '0'] as const, what).match(/^(yes|true|1)$/) !== null; break;
      case 'proto': set.proto = none(v) ? null : oneOf(v.toLowerCase(), RULE_PROTOCOLS, what); break;
      case 'dst_port': case 'port': set.dst_port = none(v) ? null : portArg(v, what); break;
      case 'sensor': set.sensor = none(v) ? null : nameArg(v, what); break;
      case 'group_by': case 'group': set.group_by = oneOf(v, GROUPS, what); break;
      case 'window_s': set.window_s = intArg(v, what, 1, 31 * 86400); break;
      case 'window':
        set.window_s = /^\d+$/.test(v) ? intArg(v, what, 1, 31 * 86400) : parseDuration(v, what);
        if (set.window_s > 31 * 86400) throw new InputError(`${what}: at most 31d`);
        break;
      case 'max_hits': case 'hits': set.max_hits = intArg(v, what, 1, 1_000_000_000); break;
      case 'action': set.action = actionArg(v, what); break;
      case 'duration_s': set.duration_s = none(v) || /^(never|permanent)$/i.test(v) ? null : intArg(v, what, 1, 100 * 365 * 86400); break;
      case 'duration': set.duration_s = none(v) || /^(never|permanent)$/i.test(v) ? null : parseDuration(v, what); break;
      case 'description':
        if (v.length > 255) throw new InputError(`${what}: at most 255 characters`);
        set.description = v || null;
        break;
      default:
        throw new InputError(`unknown threshold key '${key}' (enabled, proto, dst_port, sensor, group_by, window, max_hits, action, duration, description)`);
    }
  }
  return set;
}

/** A threshold in words: what it counts, and the rule it makes. */
function thresholdWords(t: ThresholdOut): { counts: string; rule: string } {
  return {
    counts: `${t.max_hits} hits / ${formatDuration(t.window_s)} of ${t.proto ?? 'any'}${t.dst_port ? ` to port ${t.dst_port}` : ''}${t.sensor ? ` on ${t.sensor}` : ''}`,
    rule: `${t.action} ${t.duration_s ? `for ${formatDuration(t.duration_s)}` : 'until dropped'}`,
  };
}

function printThresholds(ctx: Context, rows: ThresholdOut[]): void {
  ctx.io.out(renderTable(
    ['name', 'enabled', 'counts', 'group by', 'rule'],
    rows.map((t) => {
      const w = thresholdWords(t);
      return [t.name, t.enabled ? 'yes' : 'no', w.counts, t.group_by, w.rule];
    }),
  ));
}

/** Ranges for a sensor's honeypots: canonical, and no wider than a rule may be. */
function honeypotNets(texts: readonly string[], what: string): Cidr[] {
  return texts.map((t) => {
    const c = cidrArg(t, what);
    const floor = c.family === 4 ? 8 : 16;
    if (c.prefix < floor) throw new InputError(`${what} ${c.text}: wider than /${floor} is not a honeypot range`);
    return c;
  });
}

export function registerSensors(program: Command, ctx: Context): void {
  const sensors = program.command('sensors').description('the honeyd sensors that feed the database');
  sensors.command('add <name>')
    .description('register a sensor (ingest also registers one on first use)')
    .option('--address <ip>', 'management address of the sensor host (never blocked)')
    .option('--description <text>', 'where it is, what it watches')
    .option('--honeypot-net <cidr>', 'approve a range for its honeypots (see sensors approve); repeatable', (v: string, all: string[]) => [...all, v], [])
    .action(async (name: string, o: { address?: string; description?: string; honeypotNet: string[] }) => {
      const address = o.address ? ipArg(o.address, '--address') : undefined;
      const nets = honeypotNets(o.honeypotNet, '--honeypot-net');
      const covering = address ? await openRulesOver(ctx.db(), address.text) : [];
      const id = await addSensor(ctx.db(), nameArg(name), address ? address.bytes : null, o.description);
      await ctx.audit('sensor.add', `sensor ${name}`, { address: address?.text ?? null, description: o.description ?? null });
      ctx.io.out(`sensor ${name}: added (id ${id})`);
      for (const r of covering) ctx.io.out(`rule ${r.id} (${r.src}): dropped, ${address!.text} is sensor ${name}'s address`);
      if (nets.length) {
        const a = await approveSensorNets(ctx.db(), name, nets, cliUser());
        await ctx.audit('sensor.approve', `sensor ${name}`, a);
        ctx.io.out(`sensor ${name}: honeypot ranges approved: ${a.approved.join(', ')}`);
      }
    });
  sensors.command('set <name>')
    .description("change a sensor's management address or description (a sensor the ingest registered has neither)")
    .option('--address <ip>', "management address of the sensor host (never blocked); 'none' to clear")
    .option('--description <text>', "where it is, what it watches; '' to clear")
    .action(async (name: string, o: { address?: string; description?: string }) => {
      const address = o.address === undefined ? undefined : /^none$/i.test(o.address) ? null : ipArg(o.address, '--address');
      const covering = address ? await openRulesOver(ctx.db(), address.text) : [];
      await setSensor(ctx.db(), nameArg(name), {
        ...(address !== undefined ? { address: address ? address.bytes : null } : {}),
        ...(o.description !== undefined ? { description: o.description || null } : {}),
      });
      await ctx.audit('sensor.set', `sensor ${name}`, { ...(address !== undefined ? { address: address?.text ?? null } : {}),
        ...(o.description !== undefined ? { description: o.description } : {}) });
      ctx.io.out(`sensor ${name}: changed`);
      for (const r of covering) ctx.io.out(`rule ${r.id} (${r.src}): dropped, ${address!.text} is sensor ${name}'s address`);
    });
  sensors.command('approve <name> <cidr...>')
    .description("approve ranges for a sensor's honeypots: whitelisted, never blocked (its honeypots protect nothing outside them)")
    .option('--comment <text>', 'why (kept with the range)')
    .option('--json', 'print JSON')
    .addHelpText('after', `
A sensor registers its honeypot addresses itself (honeyd.conf bind lines, ingest --honeypot-net).
So that a stolen sensor password cannot shield any address, what keeps honeypots from being
blocked is a range approved here: it is whitelisted (created_by ipms-honeypots, removed by
revoke), approving drops the open rules over it, and none may cover it afterwards. An ingest run
with an admin's account approves what it registers; \`sensors show\` lists the approved ranges
and counts the honeypots waiting.`)
    .action(async (name: string, cidrs: string[], o: { comment?: string; json?: boolean }) => {
      const nets = honeypotNets(cidrs, 'range');
      if (o.comment !== undefined && o.comment.length > 255) throw new InputError('--comment: at most 255 characters');
      const a = await approveSensorNets(ctx.db(), nameArg(name), nets, cliUser(), o.comment);
      await ctx.audit('sensor.approve', `sensor ${name}`, a);
      if (o.json) return ctx.json(a);
      for (const c of a.approved) ctx.io.out(`sensor ${name}: honeypot range ${c} approved`);
      for (const c of a.already) ctx.io.out(`sensor ${name}: honeypot range ${c} was approved already`);
      ctx.io.out(`sensor ${name}: ${a.honeypots} honeypot address(es) protected from now on`);
    });
  sensors.command('revoke <name> <cidr...>')
    .description('revoke approved honeypot ranges of a sensor: its honeypots in them may be blocked again')
    .option('--json', 'print JSON')
    .action(async (name: string, cidrs: string[], o: { json?: boolean }) => {
      const nets = cidrs.map((c) => cidrArg(c, 'range'));
      const r = await revokeSensorNets(ctx.db(), nameArg(name), nets);
      await ctx.audit('sensor.revoke', `sensor ${name}`, r);
      if (o.json) return ctx.json(r);
      for (const c of r.revoked) ctx.io.out(`sensor ${name}: honeypot range ${c} revoked`);
      ctx.io.out(`sensor ${name}: ${r.honeypots} honeypot address(es) no longer protected`);
    });
  sensors.command('list')
    .description('sensors with their last event and events in the last 24 h; silent ones stand out')
    .option('--silent-after <duration>', 'call a sensor silent after this long without events', '24h')
    .option('--json', 'print a JSON array')
    .action(async (o: { silentAfter: string; json?: boolean }) => {
      const rows = await listSensors(ctx.db(), parseDuration(o.silentAfter, '--silent-after'));
      if (o.json) return ctx.json(rows);
      if (!rows.length) return ctx.io.out('no sensors');
      ctx.io.out(renderTable(['name', 'address', 'last event', 'events 24h', 'honeypots', 'not approved', 'state'],
        rows.map((s) => [s.name, s.address, s.last_event_at ? new Date(s.last_event_at) : 'never', s.events_24h, s.honeypots, s.honeypots_unapproved || '',
          s.silent ? 'SILENT' : ''])));
    });
  sensors.command('show <name>')
    .description('one sensor')
    .option('--json', 'print JSON (honeypots_waiting: up to 100 addresses outside every approved range)')
    .action(async (name: string, o: { json?: boolean }) => {
      const [row] = await listSensors(ctx.db(), 86400, nameArg(name));
      if (!row) throw new NotFoundError(`sensor ${name} does not exist`);
      // which honeypots wait for an approved range (the ingest sends the admin here)
      const waiting = (await ctx.db().rows<{ a: string }>(
        'SELECT INET6_NTOA(address) AS a FROM VirtHost WHERE sensor_id = ? AND approved = 0 ORDER BY LENGTH(address), address LIMIT 100',
        [row.id])).map((r) => r.a);
      const s = { ...row, honeypots_waiting: waiting };
      if (o.json) return ctx.json(s);
      ctx.io.out(Object.entries(s).map(([k, v]) => `${k.padEnd(20)} ${Array.isArray(v) ? v.join(', ') || '-' : v ?? '-'}`).join('\n'));
    });
  sensors.command('remove <name>')
    .description('remove a sensor (refused while it has logs, unless --purge)')
    .option('--purge', 'also delete its log rows and payloads')
    .action(async (name: string, o: { purge?: boolean }) => {
      const r = await removeSensor(ctx.db(), nameArg(name), Boolean(o.purge));
      await ctx.audit('sensor.remove', `sensor ${name}`, { purged_logs: r.logs });
      ctx.io.out(`sensor ${name}: removed${r.logs ? ` with ${r.logs} log rows` : ''}`);
    });

  const th = program.command('thresholds').description('when hits become rules (the rows a DBA edits in SQL)');
  th.command('list').option('--json', 'print a JSON array').description('every threshold')
    .action(async (o: { json?: boolean }) => {
      const rows = await listThresholds(ctx.db());
      if (o.json) return ctx.json(rows);
      printThresholds(ctx, rows);
    });
  th.command('add <name> [pairs...]')
    .description('add a threshold: key=value (max_hits=20 window=1m group_by=src_dport proto=tcp dst_port=22 action=DROP duration=1h sensor=NAME)')
    .action(async (name: string, pairs: string[]) => {
      const set = parseThresholdPairs(pairs);
      await addThreshold(ctx.db(), nameArg(name), set);
      await ctx.audit('threshold.add', `threshold ${name}`, set);
      // (what was not given is the table's default: say what the threshold is)
      const [t] = await listThresholds(ctx.db(), name);
      const w = thresholdWords(t!);
      ctx.io.out(`threshold ${name}: added: ${w.counts} per ${t!.group_by}, ${w.rule}`);
    });
  th.command('remove <name>')
    .description('remove a threshold (its rules stay, as they were decided; `disable` keeps it for later)')
    .action(async (name: string) => {
      await removeThreshold(ctx.db(), nameArg(name));
      await ctx.audit('threshold.remove', `threshold ${name}`);
      ctx.io.out(`threshold ${name}: removed`);
    });
  th.command('set <name> <pairs...>')
    .description('change a threshold: key=value ...; takes effect on the next insert')
    .action(async (name: string, pairs: string[]) => {
      const set = parseThresholdPairs(pairs);
      await setThreshold(ctx.db(), nameArg(name), set);
      await ctx.audit('threshold.set', `threshold ${name}`, set);
      ctx.io.out(`threshold ${name}: updated`);
    });
  for (const [cmd, on] of [['enable', true], ['disable', false]] as const) {
    th.command(`${cmd} <name>`).description(`${cmd} a threshold`).action(async (name: string) => {
      await setThreshold(ctx.db(), nameArg(name), { enabled: on });
      await ctx.audit(`threshold.${cmd}`, `threshold ${name}`);
      ctx.io.out(`threshold ${name}: ${cmd}d`);
    });
  }
}
