/** `ipms devices ...`, `ipms apply --once`, `ipms worker`. */
import type { Command } from 'commander';
import { isAbsolute } from 'node:path';
import { EXIT, InputError, IpmsError, NotFoundError, oneLine, RefusedError } from '../../lib/errors.ts';
import { canonicalIp, looksLikeAddress } from '../../lib/ip.ts';
import { ipv6Held, ipv6StaysText, listDevices } from '../../lib/queries/devices.ts';
import { openRulesOver } from '../../lib/queries/lists.ts';
import type { DeviceRow } from '../../lib/types.ts';
import type { DeviceOptions } from '../../worker/devices/types.ts';
import { ADAPTER_NAMES, TOOL_CHECK, adapterFor, inUseChecks, privilegedCheck } from '../../worker/adapters.ts';
import { applyDeviceBatch } from '../../worker/apply.ts';
import type { Claimed } from '../../worker/claim.ts';
import { withDeviceLease } from '../../worker/claim.ts';
import { reconcile } from '../../worker/reconcile.ts';
import { TRANSPORTS, deviceOptions, transportFor } from '../../worker/target.ts';
import { Worker, newWorkerId } from '../../worker/worker.ts';
import { parseDuration } from '../../lib/duration.ts';
import { collect, intArg, nameArg, oneOf, portArg } from '../args.ts';
import type { Context } from '../context.ts';
import { renderTable } from '../table.ts';

const HOST_KEY_RE = /^SHA256:[A-Za-z0-9+/]{43}$/;

function hostArg(text: string): string {
  if (looksLikeAddress(text)) return canonicalIp(text, '--host');
  if (!/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(text)) {
    throw new InputError(`--host: '${text}' is neither an IP address nor a host name`);
  }
  return text.toLowerCase();
}

function optionsArg(pairs: string[] | undefined): string | null {
  if (!pairs?.length) return null;
  const o: Record<string, string | number | boolean> = {};
  for (const p of pairs) {
    const m = /^([A-Za-z][A-Za-z0-9_]{0,31})=([A-Za-z0-9_.:,-]{1,64})$/.exec(p);
    if (!m) throw new InputError(`--option: '${p}' must be key=value (letters, digits, _ . : - and commas between the names of a list)`);
    const v = m[2]!;
    o[m[1]!] = /^\d+$/.test(v) ? Number(v) : v === 'true' ? true : v === 'false' ? false : v;
  }
  return JSON.stringify(o);
}

function checkLogin(o: { user?: string; key?: string; hostKey?: string }): void {
  if (o.user !== undefined && !/^[a-z_][a-z0-9_.-]{0,31}$/i.test(o.user)) throw new InputError(`--user: '${o.user}' is not a user name`);
  if (o.key !== undefined && (!isAbsolute(o.key) || /[\0\n]/.test(o.key) || o.key.length > 500)) throw new InputError('--key: give an absolute path');
  if (o.hostKey !== undefined && !HOST_KEY_RE.test(o.hostKey)) throw new InputError(`--host-key: '${o.hostKey}' is not an OpenSSH SHA256:... fingerprint`);
}

/** What a device needs as a whole (after add, or after set changed some of it). */
function checkComplete(d: { adapter: string; transport: string; user?: string | null; key?: string | null; hostKey?: string | null; sudo?: boolean }): void {
  if (d.sudo && adapterFor(d.adapter).kind !== 'exec') throw new InputError(`--sudo: ${d.adapter} is configured through its own CLI, not commands that sudo could run`);
  if (d.transport === 'ssh') {
    if (!d.user) throw new InputError('--user is needed with --transport ssh');
    if (!d.key) throw new InputError('--key is needed with --transport ssh');
    if (!d.hostKey) throw new InputError('--host-key SHA256:... is needed with --transport ssh (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the device)');
  }
}

async function deviceByName(ctx: Context, name: string): Promise<DeviceRow> {
  const [d] = await ctx.db().rows<DeviceRow>('SELECT * FROM Device WHERE name = ?', [nameArg(name)]);
  if (!d) throw new NotFoundError(`device ${name} does not exist`);
  return d;
}

/** A device's options as stored; null when a hand edit left them unreadable (the worker says so too). */
function readableOptions(raw: string | null): object | null {
  if (!raw) return {};
  try {
    const v = JSON.parse(raw) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

function storedOptions(d: DeviceRow): object {
  const v = readableOptions(d.options);
  if (v === null) throw new InputError(`device ${d.name}: its options in the database are not a JSON object; give them whole: UPDATE Device SET options = NULL, then --option`);
  return v;
}

/**
 * Two devices writing the same object in the same place undo each other: a full render of one
 * replaces the other's rules. Several devices may share a host, each with its own objects.
 */
async function refuseSameObject(ctx: Context, d: { id?: number; host: string; port: number; adapter: string; transport: string; options: string | null; enabled?: number | boolean }): Promise<void> {
  // a disabled device writes nothing (it is checked again when enabled)
  if (d.transport === 'dry-run' || d.enabled === 0 || d.enabled === false) return;
  const objectsOf = (adapter: string, options: string | null) =>
    adapterFor(adapter).objects(options ? JSON.parse(options) as DeviceOptions : {});
  const mine = new Set(objectsOf(d.adapter, d.options));
  // (another device whose row was edited into something unreadable writes nothing)
  const theirs = (o: DeviceRow) => {
    try {
      return objectsOf(o.adapter, o.options);
    } catch {
      return [];
    }
  };
  if (!mine.size) return;
  const others = await ctx.db().rows<DeviceRow>('SELECT * FROM Device WHERE adapter = ? AND transport = ? AND enabled = 1', [d.adapter, d.transport]);
  for (const o of others) {
    if (o.id === d.id) continue;
    const samePlace = d.transport === 'local' || (o.host.toLowerCase() === d.host.toLowerCase() && o.port === d.port);
    const shared = theirs(o).find((x) => mine.has(x));
    if (samePlace && shared) {
      const key = shared.split(' ')[0]!;
      throw new RefusedError(`device ${o.name} already keeps ${d.adapter} ${shared} there: two devices on one ${key} undo each other's rules; give this one its own (--option)`, 'E_DUPLICATE');
    }
  }
}

/**
 * The objects ipms owns on a device (a table, set, chain, ACL, address list) are named ipms...:
 * ipms rewrites them whole (a full render, reconcile), so a name of the admin's own objects (an
 * IOS ACL OUTSIDE-IN would get ipms's final permit, a pf table bruteforce be replaced) is
 * refused when a device is added or changed. (A device stored before this rule keeps working:
 * its rules must still come off.)
 */
function ownedNames(adapter: string, options: DeviceOptions): void {
  for (const o of adapterFor(adapter).objects(options)) {
    const name = o.slice(o.indexOf(' ') + 1);
    if (!/^ipms/i.test(name)) {
      throw new InputError(`${adapter}: ${o} must start with 'ipms': ipms rewrites what it owns whole, and would overwrite an object of that name`, 'E_DEVICE_OPTION');
    }
  }
}

/**
 * With its rules off, ipms's own objects on the device (table, chain, sets and their hooks) go
 * too, where the adapter can take them down; else they are named for the administrator. A
 * failure here leaves empty objects that block nothing: said, not fatal (the rules are off).
 */
async function takeDownObjects(ctx: Context, d: DeviceRow): Promise<void> {
  const adapter = adapterFor(d.adapter);
  const opts = deviceOptions(d);
  const objects = adapter.objects(opts).join(', ');
  if (!adapter.teardown) {
    ctx.io.err(`ipms: device ${d.name}: ipms's own objects stay there (${objects}${adapter.setup(opts).manual ? ', and what you added by hand' : ''}): take them off by hand`);
    return;
  }
  try {
    const session = await deps(ctx).transportFor(d).open();
    try {
      await session.run(adapter.teardown(opts).steps);
    } finally {
      await session.close();
    }
    ctx.io.out(`device ${d.name}: ipms's objects taken off (${objects})${d.transport === 'dry-run' ? ' (dry run: sent nowhere)' : ''}`);
  } catch (err) {
    ctx.io.err(`ipms: device ${d.name}: its rules are off, but ipms's own objects (${objects}, empty) could not be taken off: ${oneLine(err)}`);
  }
}

/** `json`: the command prints JSON on standard output, so what a dry-run device would be sent goes to standard error. */
function deps(ctx: Context, json = false) {
  return { adapterFor, transportFor: (d: DeviceRow) => transportFor(d, { print: (s) => (json ? ctx.io.err(s) : ctx.io.out(s)) }) };
}

/**
 * What the administrator does by hand, once (bind the IOS ACLs to an interface, add the pf
 * anchor to pf.conf, move the RouterOS reject rules up): without it the rules are recorded as
 * applied and block nothing.
 */
function printManual(ctx: Context, name: string, adapter: string, opts: DeviceOptions): void {
  const manual = adapterFor(adapter).setup(opts).manual;
  if (!manual) return;
  ctx.io.out(`device ${name}: yours to do by hand, once, on the device (ipms does not; its rules depend on it):`);
  for (const line of manual.split('\n')) ctx.io.out(`  ${line}`);
}

export function registerDevices(program: Command, ctx: Context): void {
  const devices = program.command('devices').description('the firewalls and routers that enforce rules');

  devices.command('add <name>')
    .description('store a device (nothing is contacted; several devices may share a host)')
    .requiredOption('--adapter <adapter>', ADAPTER_NAMES.join('|'))
    .option('--transport <transport>', TRANSPORTS.join('|'), 'ssh')
    .option('--host <host>', 'management address or name (needed with --transport ssh; local and dry-run: 127.0.0.1)')
    .option('--port <port>', 'SSH port', '22')
    .option('--user <user>', 'SSH user')
    .option('--key <path>', 'private key file on the worker host (kept as a path, never read into the database)')
    .option('--host-key <fingerprint>', 'pinned host key: SHA256:... as printed by ssh-keygen -lf')
    .option('--applies-to <scope>', 'external|internal|any', 'any')
    .option('--option <key=value>', 'adapter option (repeatable), e.g. table=ipms', collect)
    .option('--sudo', 'the login is an unprivileged user: run every command as `sudo -n -- ...` (see the README for sudoers)')
    .option('--disabled', 'store it disabled')
    .action(async (name: string, o: { adapter: string; transport: string; host?: string; port: string; user?: string; key?: string; hostKey?: string; appliesTo: string; option?: string[]; sudo?: boolean; disabled?: boolean }) => {
      const adapter = oneOf(o.adapter, ADAPTER_NAMES, '--adapter');
      const transport = oneOf(o.transport, TRANSPORTS, '--transport');
      checkLogin(o);
      checkComplete({ adapter, transport, user: o.user, key: o.key, hostKey: o.hostKey, sudo: o.sudo });
      const options = optionsArg(o.option);
      // an option the adapter does not know (a typo) is refused now, not at the first batch
      adapterFor(adapter).setup(options ? JSON.parse(options) as DeviceOptions : {});
      ownedNames(adapter, options ? JSON.parse(options) as DeviceOptions : {});
      const [dup] = await ctx.db().rows<{ id: number }>('SELECT id FROM Device WHERE name = ?', [nameArg(name)]);
      if (dup) throw new RefusedError(`device ${name} already exists`, 'E_DUPLICATE');
      // (an SSH device on 127.0.0.1 by default would have been this host, not the firewall)
      if (o.host === undefined && transport === 'ssh') throw new InputError('--host is needed with --transport ssh: the device\'s management address or name');
      const host = hostArg(o.host ?? '127.0.0.1');
      const port = portArg(o.port, '--port');
      const appliesTo = oneOf(o.appliesTo, ['external', 'internal', 'any'] as const, '--applies-to');
      await refuseSameObject(ctx, { host, port, adapter, transport, options, enabled: o.disabled ? 0 : 1 });
      const covering = await openRulesOver(ctx.db(), host);
      await ctx.db().exec(
        `INSERT INTO Device (name, host, port, adapter, transport, username, key_ref, host_key, options, enabled, applies_to, sudo)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [name, host, port, adapter, transport, o.user ?? null, o.key ?? null, o.hostKey ?? null,
          options, o.disabled ? 0 : 1, appliesTo, o.sudo ? 1 : 0],
      );
      await ctx.audit('device.add', `device ${name}`, { host, port, adapter, transport, user: o.user ?? null, key: o.key ?? null,
        host_key: o.hostKey ?? null, options, applies_to: appliesTo, enabled: !o.disabled, sudo: Boolean(o.sudo) });
      ctx.io.out(`device ${name}: added${o.disabled ? ' (disabled)' : ''}`);
      for (const r of covering) ctx.io.out(`rule ${r.id} (${r.src}): dropped, ${host} is device ${name}'s management address`);
      printManual(ctx, name, adapter, options ? JSON.parse(options) as DeviceOptions : {});
    });

  devices.command('set <name>')
    .description('change how a device is reached or what it takes (its adapter stays: remove and add for another)')
    .option('--transport <transport>', TRANSPORTS.join('|'))
    .option('--host <host>', 'management address or name')
    .option('--port <port>', 'SSH port')
    .option('--user <user>', 'SSH user')
    .option('--key <path>', 'private key file on the worker host')
    .option('--host-key <fingerprint>', 'the new pinned host key (after the device\'s key was changed)')
    .option('--applies-to <scope>', 'external|internal|any (rules it no longer takes come off, new ones go on)')
    .option('--option <key=value>', 'adapter option (repeatable): replaces that key', collect)
    .option('--sudo', 'run every command through sudo -n --')
    .option('--no-sudo', 'run commands as the login itself')
    .action(async (name: string, o: { transport?: string; host?: string; port?: string; user?: string; key?: string; hostKey?: string; appliesTo?: string; option?: string[]; sudo?: boolean }) => {
      const d = await deviceByName(ctx, name);
      checkLogin(o);
      const set: Record<string, unknown> = {};
      if (o.transport !== undefined) set.transport = oneOf(o.transport, TRANSPORTS, '--transport');
      if (o.host !== undefined) set.host = hostArg(o.host);
      if (o.port !== undefined) set.port = portArg(o.port, '--port');
      if (o.user !== undefined) set.username = o.user;
      if (o.key !== undefined) set.key_ref = o.key;
      if (o.hostKey !== undefined) set.host_key = o.hostKey;
      if (o.appliesTo !== undefined) set.applies_to = oneOf(o.appliesTo, ['external', 'internal', 'any'] as const, '--applies-to');
      if (o.sudo !== undefined) set.sudo = o.sudo ? 1 : 0;
      if (o.option?.length) set.options = JSON.stringify({ ...storedOptions(d), ...JSON.parse(optionsArg(o.option)!) as object });
      if (!Object.keys(set).length) throw new InputError('say what to change (see ipms devices set --help)');
      const after = { ...d, ...set } as DeviceRow;
      checkComplete({ adapter: after.adapter, transport: after.transport, user: after.username, key: after.key_ref, hostKey: after.host_key, sudo: Boolean(after.sudo) });
      // the adapter must accept its options as they now are
      adapterFor(after.adapter).setup(deviceOptions(after));
      if (o.option?.length) ownedNames(after.adapter, deviceOptions(after));
      await refuseSameObject(ctx, after);
      const covering = set.host !== undefined && set.host !== d.host ? await openRulesOver(ctx.db(), after.host) : [];
      const cols = Object.keys(set);
      // Where its rules land (another address, transport or objects): the change and the rows
      // sent again are made holding the device's lease, so no batch is on its way to the old
      // target meanwhile (a row of such a batch would be recorded as applied, and never reach the
      // new one). Options move them when the objects ipms owns there change (table, chain,
      // sets) or the kernel ruleset they go to (the xtables backend); not an option that only
      // says how to send (writeMemory). Old options that no longer read count as a move.
      const moved: string[] = (['host', 'port', 'transport'] as const).filter((c) => set[c] !== undefined && set[c] !== d[c]);
      if (set.options !== undefined) {
        const where = (x: DeviceRow) => {
          try {
            const o = deviceOptions(x);
            return JSON.stringify([adapterFor(x.adapter).objects(o), o.backend ?? 'auto']);
          } catch {
            return undefined;
          }
        };
        const before = where(d);
        if (before === undefined || before !== where(after)) moved.push('options');
      }
      const change = async () => {
        await ctx.db().exec(`UPDATE Device SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`, [...cols.map((c) => set[c]), d.id]);
        if (!moved.length) return 0;
        // (another box, maybe: its uptime says nothing of the old one's; see schema 0017)
        await ctx.db().exec('UPDATE Device SET looked_at = NULL WHERE id = ?', [d.id]);
        // What was recorded as applied is on the old target (or, from dry-run, nowhere): it is
        // all sent again; adds are idempotent, so a device that has them already loses nothing.
        // Rows still claimed (a worker stalled past its lease) are let go too: its result, for
        // the old target, is then not recorded.
        const r = await ctx.db().exec(
          `UPDATE RuleDevice SET state = 'pending', next_attempt_at = UTC_TIMESTAMP(3), last_error = NULL, updated_at = UTC_TIMESTAMP(3),
             claimed_by = NULL, claimed_until = NULL
           WHERE device_id = ? AND desired = 'present' AND (state = 'applied' OR claimed_by IS NOT NULL)`, [d.id]);
        return r.affectedRows;
      };
      const again = moved.length ? await withDeviceLease(ctx.db(), d, newWorkerId(), change) : await change();
      // IPv6 turned off (Device.ipv6, as the triggers read the options): the device takes no IPv6
      // rule from now on (see Device_after_update), and its adapter no longer touches IPv6
      // there, so what ipms put there stays
      const [now] = set.options !== undefined && d.ipv6 === 1 ? await ctx.db().rows<{ ipv6: number }>('SELECT ipv6 FROM Device WHERE id = ?', [d.id]) : [];
      const [held6] = now?.ipv6 === 0 ? await ipv6Held(ctx.db(), d.id) : [];
      await ctx.audit('device.set', `device ${name}`, Object.fromEntries(cols.map((c) => [c, { from: (d as unknown as Record<string, unknown>)[c] ?? null, to: set[c] }])));
      ctx.io.out(`device ${name}: ${cols.map((c) => c === 'host_key' ? `host_key ${String(set[c])}` : c).join(', ')} changed`);
      for (const r of covering) ctx.io.out(`rule ${r.id} (${r.src}): dropped, ${after.host} is device ${name}'s management address`);
      if (held6?.n) {
        ctx.io.err(`ipms: device ${name}: IPv6 is off: ${ipv6StaysText(held6.n)}`);
      }
      if (again) {
        ctx.io.out(`device ${name}: ${again} rule(s) recorded as applied go to it again (its ${moved.join(', ')} changed)`);
        if (d.transport !== 'dry-run') {
          ctx.io.err(`ipms: device ${name}: what ipms put on the old ${moved.includes('options') ? 'objects' : 'target'} stays there; take it off by hand if that device is still in use`);
        }
      }
    });

  devices.command('list')
    .description('devices with their rule counts and health')
    .option('--json', 'print a JSON array')
    .action(async (o: { json?: boolean }) => {
      const rows = await listDevices(ctx.db());
      const out = rows.map((d) => ({
        name: d.name, host: d.host, port: d.port, adapter: d.adapter, transport: d.transport, user: d.username, key: d.key_ref,
        host_key: d.host_key, sudo: Boolean(d.sudo), applies_to: d.applies_to, enabled: Boolean(d.enabled), options: readableOptions(d.options),
        applied: d.applied, pending: d.pending, failed: d.failed,
        last_ok_at: d.last_ok_at ? d.last_ok_at.toISOString() : null, last_error: d.last_error, last_rule_error: d.last_rule_error,
      }));
      if (o.json) return ctx.json(out);
      if (!out.length) return ctx.io.out('no devices');
      ctx.io.out(renderTable(['name', 'adapter', 'transport', 'host', 'takes', 'enabled', 'applied', 'pending', 'failed', 'last error'],
        // (the device's own error, else the newest of a rule it failed: as the console's page)
        out.map((d) => [d.name, d.adapter, d.transport, `${d.host}:${d.port}`, d.applies_to, d.enabled ? 'yes' : 'no', d.applied, d.pending, d.failed,
          d.last_error ?? (d.failed > 0 ? d.last_rule_error : null)])));
    });

  devices.command('show <name>')
    .option('--json', 'print JSON')
    .description('one device')
    .action(async (name: string, o: { json?: boolean }) => {
      const d = await deviceByName(ctx, name);
      const view = { name: d.name, host: d.host, port: d.port, adapter: d.adapter, transport: d.transport, user: d.username, key: d.key_ref,
        host_key: d.host_key, sudo: Boolean(d.sudo), applies_to: d.applies_to, enabled: Boolean(d.enabled), options: d.options, last_ok_at: d.last_ok_at, last_error: d.last_error,
        // who is working on it right now (a lease that has lapsed is nobody's)
        busy: d.claimed_by && d.claimed_until && d.claimed_until.getTime() > Date.now() ? `${d.claimed_by} until ${d.claimed_until.toISOString()}` : null };
      if (o.json) return ctx.json(view);
      ctx.io.out(Object.entries(view).map(([k, v]) => `${k.padEnd(11)} ${v instanceof Date ? v.toISOString() : v ?? '-'}`).join('\n'));
    });

  devices.command('test <name>')
    .description('connect (checking the pinned host key) and check the firewall tool is there')
    .action(async (name: string) => {
      const d = await deviceByName(ctx, name);
      // (nothing to connect to: say so rather than "connected")
      if (d.transport === 'dry-run') {
        ctx.io.out(`device ${name}: dry-run transport: nothing is contacted (its batches are printed, and recorded as applied)`);
        return;
      }
      // a device that cannot be reached or refuses is the answer of a test, not a crash (exit 1)
      const failed = (err: unknown) => new IpmsError('E_DEVICE', `device ${name}: ${oneLine(err)}`, EXIT.FAILURE);
      const session = await transportFor(d, { print: (s) => ctx.io.out(s) }).open().catch((err: unknown) => {
        throw failed(err);
      });
      try {
        const check = TOOL_CHECK[d.adapter];
        if (check) {
          const [r] = await session.run([{ argv: check }]).catch((err: unknown) => {
            throw failed(err);
          });
          ctx.io.out(`device ${name}: connected (host key ${d.host_key ?? 'not used'}); ${(r?.stdout || r?.stderr || '').trim().split('\n')[0] ?? ''}`);
        } else ctx.io.out(`device ${name}: connected (host key ${d.host_key ?? 'not used'})`);
        // (a dry-run device runs nothing: there is no right to check)
        const priv = d.transport === 'dry-run' ? undefined : privilegedCheck(d.adapter, deviceOptions(d));
        if (priv) {
          await session.run([priv]).catch((err: unknown) => {
            throw new IpmsError('E_DEVICE', `device ${name}: connected, but \`${priv.argv.join(' ')}\` failed, which every batch needs the rights for ` +
              `(root, or --sudo and its sudoers line: see the README): ${oneLine(err)}`, EXIT.FAILURE);
          });
          ctx.io.out(`device ${name}: allowed to change the firewall (${priv.argv.join(' ')})`);
        }
        const problems: string[] = [];
        for (const check of inUseChecks(d.adapter, deviceOptions(d))) {
          const [r] = await session.run([check.step]).catch((err: unknown) => {
            throw failed(err);
          });
          const v = check.verdict(r?.stdout ?? '');
          if (v.problem) problems.push(v.problem);
          if (v.doubt) ctx.io.err(`ipms: device ${name}: ${v.doubt}`);
        }
        printManual(ctx, name, d.adapter, deviceOptions(d));
        if (problems.length) throw new IpmsError('E_DEVICE', `device ${name}: ${problems.join('; ')}`, EXIT.FAILURE);
      } finally {
        await session.close();
      }
    });

  for (const [cmd, on] of [['enable', 1], ['disable', 0]] as const) {
    devices.command(`${cmd} <name>`).description(cmd === 'disable' ? 'give it nothing new (what it has stays)' : 'give it the open rules again')
      .action(async (name: string) => {
        const d = await deviceByName(ctx, name);
        if (on) await refuseSameObject(ctx, { ...d, enabled: 1 });
        await ctx.db().exec('UPDATE Device SET enabled = ? WHERE id = ?', [on, d.id]);
        await ctx.audit(`device.${cmd}`, `device ${name}`);
        ctx.io.out(`device ${name}: ${cmd}d`);
      });
  }

  devices.command('remove <name>')
    .description('forget a device; say what to do with the rules it enforces')
    .option('--take-off', 'first remove every ipms rule from the device (connects to it)')
    .option('--leave-rules', 'leave its rules in place on the device')
    .action(async (name: string, o: { takeOff?: boolean; leaveRules?: boolean }) => {
      if (o.takeOff && o.leaveRules) throw new InputError('--take-off and --leave-rules: one or the other');
      const d = await deviceByName(ctx, name);
      const [{ n } = { n: 0 }] = await ctx.db().rows<{ n: number }>(
        "SELECT COUNT(*) AS n FROM RuleDevice WHERE device_id = ? AND state IN ('applied', 'failed', 'pending') AND applied_at IS NOT NULL", [d.id]);
      if (Number(n) && !o.takeOff && !o.leaveRules) {
        throw new RefusedError(`device ${name} enforces ${n} rule(s): pass --take-off to remove them from it first, or --leave-rules`, 'E_HAS_RULES');
      }
      if (o.takeOff) {
        // holding the device's lease: no worker adds to it while its rules come off
        const workerId = newWorkerId();
        await withDeviceLease(ctx.db(), d, workerId, async () => {
          if (!Number(n)) return takeDownObjects(ctx, d);
          await ctx.db().exec(
            `UPDATE RuleDevice SET desired = 'absent', state = 'pending', version = version + 1, claimed_by = ?, claimed_until = UTC_TIMESTAMP(3) + INTERVAL 10 MINUTE
             WHERE device_id = ?`, [workerId, d.id]);
          const claimed = await ctx.db().rows<Claimed>(
            'SELECT id, rule_id, device_id, desired, version, attempts, applied_at, old_action FROM RuleDevice WHERE device_id = ?', [d.id]);
          const res = await applyDeviceBatch(ctx.db(), d, claimed, { ...deps(ctx), workerId });
          if (res.failed) {
            // the device stays as it was: its open rules are wanted there again (the worker
            // re-applies them, adds being idempotent) instead of being retried off it for good
            await ctx.db().exec(
              `UPDATE RuleDevice rd JOIN Rule r ON r.id = rd.rule_id
               SET rd.desired = 'present', rd.state = 'pending', rd.attempts = 0, rd.last_error = NULL, rd.version = rd.version + 1,
                   rd.claimed_by = NULL, rd.claimed_until = NULL, rd.next_attempt_at = UTC_TIMESTAMP(3)
               WHERE rd.device_id = ? AND r.status IN ('pending', 'active')`, [d.id]);
            throw new IpmsError('E_DEVICE', `could not take the rules off ${name}: ${res.errors.join('; ')}; the device is kept with its rules`, EXIT.FAILURE);
          }
          await takeDownObjects(ctx, d);
        });
      }
      await ctx.db().exec('DELETE FROM Device WHERE id = ?', [d.id]);
      await ctx.audit('device.remove', `device ${name}`, { took_off: Boolean(o.takeOff) });
      ctx.io.out(`device ${name}: removed`);
    });

  devices.command('reconcile <name>')
    .description('compare what the device enforces with the database and fix the difference both ways')
    .option('--dry-run', 'only report the drift')
    .option('--json', 'print the report as JSON')
    .action(async (name: string, o: { dryRun?: boolean; json?: boolean }) => {
      const d = await deviceByName(ctx, name);
      // the dry-run transport prints what it would send and reads nothing back
      if (d.transport === 'dry-run') throw new InputError(`device ${name} uses the dry-run transport, which cannot read what a device enforces; reconcile needs ssh or local`);
      // holding the device's lease, so a worker's batch in flight is not taken for drift
      const r = await withDeviceLease(ctx.db(), d, newWorkerId(), () => reconcile(ctx.db(), d, deps(ctx), Boolean(o.dryRun)));
      // a dry run that finds drift exits 1, so cron and monitoring can act on it
      if (o.dryRun && (r.missing.length || r.unexpected.length)) ctx.exitCode = EXIT.FAILURE;
      if (r.fixed) await ctx.audit('device.reconcile', `device ${name}`, { missing: r.missing, unexpected: r.unexpected });
      if (o.json) return ctx.json(r);
      ctx.io.out(`device ${name}: ${r.expected} expected, ${r.found} found; ${r.missing.length} missing, ${r.unexpected.length} unexpected${r.fixed ? ': fixed' : o.dryRun ? ' (dry run: nothing changed)' : ''}`);
      for (const m of r.missing) ctx.io.out(`  missing    ${m}`);
      for (const u of r.unexpected) ctx.io.out(`  unexpected ${u}`);
    });

  program.command('apply')
    .description('apply every due rule to the devices, once (for cron); exit 1 if anything failed')
    .requiredOption('--once', 'do one pass and exit (the only mode; `ipms worker` loops)')
    .option('--device <name>', 'only this device')
    .option('--json', 'print the outcome as JSON')
    .action(async (o: { device?: string; json?: boolean }) => {
      // (an unreachable or half-migrated database is exit 3 here, not a failed tick)
      await ctx.db().rows('SELECT 1');
      const dev = o.device ? await deviceByName(ctx, o.device) : undefined;
      const w = new Worker(ctx.db(), deps(ctx, o.json), { ...(dev ? { deviceId: dev.id } : {}), log: o.json ? undefined : (s) => ctx.io.out(s) });
      const r = await w.tick();
      if (o.json) ctx.json(r);
      else if (!r.outcomes.length && !r.errors.length) ctx.io.out('nothing due');
      if (r.errors.length || r.outcomes.some((x) => x.failed > 0)) ctx.exitCode = EXIT.FAILURE;
    });

  program.command('worker')
    .description('apply rules as they come (daemon); SIGTERM lets the batch in flight finish')
    .option('--poll <duration>', 'how often to look for due rules when idle (1s, 200ms)', '1s')
    .option('--poll-ms <ms>', 'the same in milliseconds')
    .action(async (o: { poll: string; pollMs?: string }) => {
      // (milliseconds too: a daemon polls more often than once a second)
      const ms = /^\s*(\d{1,7})ms\s*$/i.exec(o.poll);
      const pollMs = o.pollMs !== undefined ? intArg(o.pollMs, '--poll-ms', 10, 3_600_000)
        : ms ? intArg(ms[1]!, '--poll', 10, 3_600_000) : parseDuration(o.poll, '--poll') * 1000;
      await ctx.db().rows('SELECT 1');
      const w = new Worker(ctx.db(), deps(ctx), { log: (s) => ctx.io.err(`${new Date().toISOString()} ${s}`) });
      const stop = () => {
        ctx.io.err(`${new Date().toISOString()} stopping after the batch in flight`);
        void w.stop();
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      ctx.io.err(`${new Date().toISOString()} worker ${w.id} polling every ${pollMs} ms`);
      try {
        await w.run(pollMs);
      } finally {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
      }
    });
}
