/** `ipms logs`, `ipms why`, `ipms status`, `ipms check`: looking at what happened. */
import type { Command } from 'commander';
import { formatDuration, parseDuration, parseSince } from '../../lib/duration.ts';
import { InputError, IpmsError, oneLine } from '../../lib/errors.ts';
import { listLogs, type LogOut } from '../../lib/queries/logs.ts';
import { getStatus } from '../../lib/queries/status.ts';
import { why } from '../../lib/queries/why.ts';
import { requireSensor } from '../../lib/queries/sensors.ts';
import { cidrArg, collect, intArg, ipArg, nameArg, oneOf, portArg } from '../args.ts';
import type { Context } from '../context.ts';
import { renderTable, safeText } from '../table.ts';

function endpoint(ip: string, port: number | null): string {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return port === null ? host : `${host}:${port}`;
}


function printLog(ctx: Context, l: LogOut): void {
  const extra = [l.icmp ? `icmp ${l.icmp}` : '', l.tcp_flags ? `flags ${l.tcp_flags}` : '', l.os ? `os ${l.os}` : '',
    l.bytes_in !== null ? `in ${l.bytes_in} out ${l.bytes_out}` : ''].filter(Boolean).join(', ');
  ctx.io.out(`${l.ts}  ${l.sensor}  ${l.kind.padEnd(5)} ${l.proto.padEnd(4)} ${endpoint(l.src, l.src_port)} -> ${endpoint(l.dst, l.dst_port)}${extra ? `  (${extra})` : ''}`);
  for (const p of l.payload) {
    ctx.io.out(`    | ${p.script ? `${p.script}: ` : ''}${safeText(p.text)}${p.clipped ? ' [...]' : ''}${p.file_path ? `  [file ${safeText(p.file_path)}]` : ''}`);
  }
  if (l.payload_total > l.payload.length) ctx.io.out(`    | ... and ${l.payload_total - l.payload.length} more payload lines (SELECT * FROM DataView WHERE sensorlog_id = ${l.id})`);
}

export function registerObserve(program: Command, ctx: Context): void {
  program.command('logs')
    .description('sensor records, newest first, with their payload lines')
    .option('--sensor <name>', 'one sensor')
    .option('--src <cidr>', 'sources in this address or CIDR')
    .option('--dst-port <port>', 'to this port')
    .option('--since <when>', 'a duration ago (1h) or a time')
    .option('--before <id>', 'records older than this record id (paging)')
    .option('--limit <n>', 'at most this many records', '50')
    .option('--json', 'print a JSON array')
    .action(async (o: { sensor?: string; src?: string; dstPort?: string; since?: string; before?: string; limit: string; json?: boolean }) => {
      if (o.sensor) await requireSensor(ctx.db(), nameArg(o.sensor, '--sensor'));
      const rows = await listLogs(ctx.db(), {
        ...(o.sensor ? { sensor: nameArg(o.sensor, '--sensor') } : {}),
        ...(o.src ? { src: cidrArg(o.src, '--src') } : {}),
        ...(o.dstPort ? { dstPort: portArg(o.dstPort) } : {}),
        ...(o.since ? { since: parseSince(o.since) } : {}),
        ...(o.before ? { before: intArg(o.before, '--before', 1) } : {}),
        limit: intArg(o.limit, '--limit', 1, 100_000),
      });
      if (o.json) return ctx.json(rows);
      if (!rows.length) return ctx.io.out('no records');
      for (const l of rows) printLog(ctx, l);
    });

  program.command('why <ip>')
    .description('why an address is blocked, or why it is not')
    .option('--json', 'print JSON')
    .action(async (text: string, o: { json?: boolean }) => {
      const w = await why(ctx.db(), ipArg(text, 'IP').bytes);
      if (o.json) return ctx.json(w);
      ctx.io.out(`${w.ip}: ${w.verdict}`);
      if (w.events.length) {
        ctx.io.out('\nevents');
        ctx.io.out(renderTable(['sensor', 'kind', 'count', 'first', 'last'], w.events.map((e) => [e.sensor, e.kind, e.count, e.first, e.last])));
      }
      ctx.io.out('\nthresholds (best window still counted)');
      ctx.io.out(renderTable(['name', 'enabled', 'count', 'max hits', 'window', 'crossed'],
        w.thresholds.map((t) => [t.name, t.enabled ? 'yes' : 'no', t.best_count, t.max_hits, formatDuration(t.window_s), t.crossed ? 'yes' : 'no'])));
      if (w.rules.length) {
        ctx.io.out('\nrules');
        ctx.io.out(renderTable(['id', 'src', 'status', 'origin', 'devices'],
          w.rules.map((r) => [r.id, r.src, r.status, r.threshold ? `${r.origin}:${r.threshold}` : r.origin,
            r.devices.map((d) => `${d.device}=${d.state}${d.last_error ? ` (${d.last_error})` : ''}`).join(', ') || '-'])));
      }
    });

  program.command('status')
    .description('rules by status, the oldest device change waiting, failures by device, silent sensors')
    .option('--silent-after <duration>', 'a sensor is silent after this long without events', '24h')
    .option('--json', 'print JSON')
    .action(async (o: { silentAfter: string; json?: boolean }) => {
      const st = await getStatus(ctx.db(), parseDuration(o.silentAfter, '--silent-after'));
      if (o.json) return ctx.json(st);
      ctx.io.out(`rules: ${Object.entries(st.rules).map(([k, v]) => `${v} ${k}`).join(', ')}`);
      // (a device change: a rule to put on, or one to take off, such as a dropped rule's removal)
      ctx.io.out(`oldest device change waiting: ${st.oldest_pending_s ? formatDuration(st.oldest_pending_s) : 'none'}`);
      if (st.devices.length) {
        ctx.io.out(renderTable(['device', 'enabled', 'applied', 'pending', 'failed'], st.devices.map((d) => [d.name, d.enabled ? 'yes' : 'no', d.applied, d.pending, d.failed])));
      } else ctx.io.out('devices: none configured (rules are decided but applied nowhere)');
      for (const f of st.failed) ctx.io.out(`failing: ${f.device}: ${f.failed} rule(s), last error: ${f.last_error ?? '-'}`);
      ctx.io.out(`sensors: ${st.sensors}, silent: ${st.silent_sensors.length ? st.silent_sensors.join(', ') : 'none'}`);
      for (const u of st.unapproved_honeypots) {
        ctx.io.out(`honeypots waiting for approval: ${u.sensor}: ${u.honeypots} (not protected from blocking; ipms sensors show ${u.sensor})`);
      }
    });

  program.command('check')
    .description('Nagios/Icinga plugin: one status line with perfdata; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN')
    .option('--warn <limits>', 'WARNING limits in one flag, e.g. pending=5m,failed=1,silent=24h (repeatable)', collect)
    .option('--crit <limits>', 'CRITICAL limits in one flag, e.g. pending=30m,failed=10 (repeatable)', collect)
    .option('--warn-pending <duration>', 'WARNING when a rule waits this long for a device', '5m')
    .option('--crit-pending <duration>', 'CRITICAL when a rule waits this long', '30m')
    .option('--warn-failed <n>', 'WARNING at this many failed device rows', '1')
    .option('--crit-failed <n>', 'CRITICAL at this many', '10')
    .option('--silent-after <duration>', 'WARNING when a sensor has been silent this long', '24h')
    .option('--unreachable <state>', 'an unreachable database: unknown (the plugin convention) or critical (no decision reaches a device meanwhile)', 'unknown')
    .action(async (o: { warn?: string[]; crit?: string[]; warnPending: string; critPending: string; warnFailed: string; critFailed: string; silentAfter: string; unreachable: string }) => {
      let lim;
      let st;
      let unreachable: 'unknown' | 'critical' = 'unknown';
      try {
        unreachable = oneOf(o.unreachable, ['unknown', 'critical'] as const, '--unreachable');
        const warn = limitsArg(o.warn?.join(','), '--warn', ['pending', 'failed', 'silent']);
        const crit = limitsArg(o.crit?.join(','), '--crit', ['pending', 'failed']);
        lim = {
          wp: parseDuration(warn.pending ?? o.warnPending, warn.pending ? '--warn pending' : '--warn-pending'),
          cp: parseDuration(crit.pending ?? o.critPending, crit.pending ? '--crit pending' : '--crit-pending'),
          wf: intArg(warn.failed ?? o.warnFailed, warn.failed ? '--warn failed' : '--warn-failed', 1),
          cf: intArg(crit.failed ?? o.critFailed, crit.failed ? '--crit failed' : '--crit-failed', 1),
          silent: parseDuration(warn.silent ?? o.silentAfter, warn.silent ? '--warn silent' : '--silent-after'),
        };
        // (a state would go critical before it ever warned)
        if (lim.wp > lim.cp) throw new InputError(`the pending warning limit (${formatDuration(lim.wp)}) is later than the critical one (${formatDuration(lim.cp)})`);
        if (lim.wf > lim.cf) throw new InputError(`the failed warning limit (${lim.wf}) is above the critical one (${lim.cf})`);
        st = await getStatus(ctx.db(), lim.silent);
      } catch (err) {
        // a monitoring plugin reports any failure to look (bad limits too) as UNKNOWN, never as a state
        if (!(err instanceof IpmsError)) throw err;
        if (unreachable === 'critical' && err.code === 'E_DB_UNREACHABLE') {
          ctx.io.out(`IPMS CRITICAL - ${oneLine(err)}`);
          ctx.exitCode = 2;
          return;
        }
        ctx.io.out(`IPMS UNKNOWN - ${oneLine(err)}`);
        ctx.exitCode = 3;
        return;
      }
      const failed = st.failed.reduce((a, f) => a + f.failed, 0);
      const problems: string[] = [];
      let level = 0;
      const raise = (l: number, msg: string) => {
        level = Math.max(level, l);
        problems.push(msg);
      };
      if (st.oldest_pending_s >= lim.cp) raise(2, `a rule has waited ${formatDuration(st.oldest_pending_s)} for a device`);
      else if (st.oldest_pending_s >= lim.wp) raise(1, `a rule has waited ${formatDuration(st.oldest_pending_s)} for a device`);
      if (failed >= lim.cf) raise(2, `${failed} failed on ${st.failed.map((f) => f.device).join(', ')}`);
      else if (failed >= lim.wf) raise(1, `${failed} failed on ${st.failed.map((f) => f.device).join(', ')}`);
      if (st.silent_sensors.length) raise(1, `silent sensors: ${st.silent_sensors.join(', ')}`);
      const word = ['OK', 'WARNING', 'CRITICAL'][level]!;
      const perf = `active=${st.rules.active} pending=${st.rules.pending} failed=${failed};${lim.wf};${lim.cf} oldest_pending=${st.oldest_pending_s}s;${lim.wp};${lim.cp} silent_sensors=${st.silent_sensors.length}`;
      ctx.io.out(`IPMS ${word} - ${problems.length ? problems.join('; ') : `${st.rules.active} active, ${st.rules.pending} pending rules`} | ${perf}`);
      ctx.exitCode = level;
    });
}

/** `pending=5m,failed=1`: the keys allowed, each at most once. */
function limitsArg(text: string | undefined, what: string, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === undefined) return out;
  for (const part of text.split(',')) {
    const m = /^([a-z]+)=([^,=\s]+)$/.exec(part.trim());
    if (!m || !keys.includes(m[1]!) || m[1]! in out) {
      throw new InputError(`${what}: '${part.trim().slice(0, 40)}' is not one of ${keys.map((k) => `${k}=...`).join(', ')}`);
    }
    out[m[1]!] = m[2]!;
  }
  return out;
}
