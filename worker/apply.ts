/**
 * One device, one batch: validate every claimed rule again (the worker's whitelist check),
 * render add and remove with the device's adapter, run it through one transport session, and
 * record the outcome. A rule that cannot be carried fails alone; a device that fails fails
 * the batch, to be retried with backoff.
 */
import { dbErrno, withRetry, type Db } from '../lib/db.ts';
import { InputError, oneLine } from '../lib/errors.ts';
import { looksLikeAddress, overlaps, parseCidr, type Cidr } from '../lib/ip.ts';
import { protectedRanges } from '../lib/queries/lists.ts';
import type { DeviceRow } from '../lib/types.ts';
import type { Claimed } from './claim.ts';
import { keyText, protectedIndex, toDeviceRule, type ProtectedRange, type RuleInput } from './devices/canonical.ts';
import { joinPlans, type Adapter, type DeviceOptions, type DeviceRule, type Plan, type StateEntry, type UptimeCheck } from './devices/types.ts';
import { activateRules, claimChunks, deviceHealth, markDone, markFailed, readCommittedAllowed, release } from './outcome.ts';
import { removalOf } from './reconcile.ts';
import { keptOverlapping, presentOnDevice, rulesById } from './rules.ts';
import { deviceOptions, type AdapterLookup } from './target.ts';
import type { SessionPool } from './sessions.ts';
import { TransportError, type Session, type Transport } from './transports/types.ts';

export interface ApplyDeps {
  adapterFor: AdapterLookup;
  transportFor: (d: DeviceRow) => Transport;
  workerId: string;
  /** daemon mode: keep connections open between batches */
  pool?: SessionPool;
}

export interface BatchOutcome {
  device: string;
  applied: number;
  removed: number;
  failed: number;
  errors: string[];
  /** milliseconds per phase (validate, plan, device, record), for `apply --json` and the bench */
  ms?: Record<string, number>;
}

export async function applyDeviceBatch(db: Db, device: DeviceRow, claimed: Claimed[], deps: ApplyDeps): Promise<BatchOutcome> {
  // Without a kept connection, the connection (key exchange, host key check, login) is made
  // while the batch is read and rendered; nothing is sent on it before the send, and it is
  // closed on every way out.
  const early = deps.pool ? undefined : earlySession(deps.transportFor, device);
  try {
    return await applyWith(db, device, claimed, deps, early);
  } finally {
    await early?.close();
  }
}

/** A connection opened ahead of need, once start() is called: its failure surfaces where it is used. */
function earlySession(transportFor: ApplyDeps['transportFor'], device: DeviceRow) {
  let opening: Promise<Session> | undefined;
  return {
    start(): void {
      opening ??= Promise.resolve().then(() => transportFor(device).open());
      opening.catch(() => undefined);
    },
    get(): Promise<Session> {
      this.start();
      return opening!;
    },
    async close(): Promise<void> {
      await opening?.then((s) => s.close(), () => undefined);
    },
  };
}

async function applyWith(
  db: Db, device: DeviceRow, claimed: Claimed[], deps: ApplyDeps, early: ReturnType<typeof earlySession> | undefined,
): Promise<BatchOutcome> {
  const out: BatchOutcome = { device: device.name, applied: 0, removed: 0, failed: 0, errors: [], ms: {} };
  let t0 = Date.now();
  const lap = (phase: string) => {
    out.ms![phase] = Date.now() - t0;
    t0 = Date.now();
  };
  const fail = async (rows: Claimed[], msg: string) => {
    if (!rows.length) return;
    await markFailed(db, rows, deps.workerId, msg);
    out.failed += rows.length;
    if (!out.errors.includes(msg)) out.errors.push(msg);
  };
  let adapter;
  let opts;
  try {
    adapter = deps.adapterFor(device.adapter);
    opts = deviceOptions(device);
  } catch (err) {
    await fail(claimed, oneLine(err));
    return out;
  }
  early?.start();
  const rules = await rulesById(db, [...new Set(claimed.map((c) => c.rule_id))]);
  const prot = await protectedRanges(db);
  const add: DeviceRule[] = [];
  const remove: DeviceRule[] = [];
  const ok: Claimed[] = [];
  const refused = new Map<string, Claimed[]>();
  // removals of rules this device never applied that cannot be rendered (an ICMP rule of the
  // other address family from an older version): nothing of them is there to take off
  const neverHeld: Claimed[] = [];
  for (const c of claimed) {
    const row = rules.get(c.rule_id);
    try {
      if (!row) throw new Error(`rule ${c.rule_id} is gone`);
      const dr = toDeviceRule(row, { protected: prot, purpose: c.desired === 'present' ? 'apply' : 'remove' });
      const why = c.desired === 'present' ? adapter.unsupported(dr, opts) : undefined;
      if (why) throw new Error(`${device.adapter} cannot carry rule ${c.rule_id}: ${why}`);
      (c.desired === 'present' ? add : remove).push(dr);
      // its entry under the action it had before (another set, table or list) comes off too
      if (c.old_action && c.old_action !== dr.action) {
        remove.push(toDeviceRule({ ...row, action: c.old_action }, { protected: prot, purpose: 'remove' }));
      }
      ok.push(c);
    } catch (err) {
      if (row && c.desired === 'absent' && c.applied_at === null && err instanceof InputError) {
        neverHeld.push(c);
        continue;
      }
      const msg = oneLine(err);
      const list = refused.get(msg);
      if (list) list.push(c);
      else refused.set(msg, [c]);
    }
  }
  for (const [msg, rows] of refused) await fail(rows, msg);
  if (neverHeld.length) {
    out.removed += (await markDone(db, neverHeld, deps.workerId)).removed;
  }
  if (!ok.length) return out;
  lap('validate');

  try {
    const batchRows = ok.map((c) => rules.get(c.rule_id)!) as RuleInput[];
    // first attempt of a first wish on a device that never held the rule (see RenderCall.fresh)
    const fresh = new Set(ok.filter((c) => c.desired === 'present' && c.applied_at === null && c.version === 0 && c.attempts === 1)
      .map((c) => c.rule_id));
    const plans = await plansFor(db, device, adapter, opts, { add, remove, batchRows, exclude: new Set(ok.map((c) => c.rule_id)), fresh, prot });
    lap('plan');
    // the last moment before the device: is the lease still ours? A worker stalled past its
    // lease (a paused VM, a long GC) must not write over the batch of the worker that took over.
    // (Not a fence: the device cannot check a token; it narrows the window to the send itself.)
    const [held] = await db.rows<{ ok: number }>(
      'SELECT 1 AS ok FROM Device WHERE id = ? AND claimed_by = ? AND claimed_until > UTC_TIMESTAMP(3)', [device.id, deps.workerId]);
    if (!held) {
      await fail(ok, `${device.name}: the device lease lapsed before sending (another worker may hold it now); nothing was sent`);
      return out;
    }
    const run = async (session: Session, fresh: boolean) => {
      // a new connection tells the worker its own address as the device sees it: whitelisted
      // before anything is sent (see rememberPeers); a rule of this batch over it waits
      if (fresh && session.peer) {
        const mine = await rememberPeers(db, device, session.peer, prot);
        const over = add.filter((r) => mine.some((m) => overlaps(m, parseCidr(`${r.src.address}/${r.src.prefix}`))));
        if (over.length) throw new OverWorkerError(over.map((r) => r.id), mine);
      }
      // A new connection first makes sure the device still has ipms's objects, when it should
      // hold rules: lost (a reboot without them saved, nft flush ruleset), everything it
      // should enforce goes back whole, not just this batch's delta.
      // The setup makes the sign of the look again (the table, the ACL's permit, the RouterOS
      // marker) before the rules go back: so the rows of the rules sent again are recorded as
      // pending first, and as applied again once they are there. A restore that fails or stops
      // half way (a timeout, a worker killed) leaves them due, for the next batches, rather
      // than recorded as applied on a device that no longer has them.
      // (a dry-run device reads nothing back)
      if (fresh && adapter.lostCheck && device.transport !== 'dry-run' && (await holdsRules(db, device.id))) {
        const check = adapter.lostCheck(opts);
        const [seen] = await session.run([check.step]);
        const up = check.uptime ? await uptimeOf(session, check.uptime) : undefined;
        const look = up === undefined ? undefined : await lookedAgain(db, device.id, up);
        const gone = Boolean(seen && check.lost(seen.stdout));
        if (gone || look?.restarted) {
          // after a restart from a saved configuration, entries of rules taken off since are
          // there too: read what the device holds, and take off what it should not
          const stray = gone ? [] : await strayEntries(session, adapter, opts, out, device.name);
          const restore = await plans.restore(stray);
          const sent = restore.held.filter((h) => h.sent);
          await setHeld(db, restore.held, 'pending');
          out.errors.push(`${device.name}: ${gone ? "ipms's objects were gone from the device (rebooted without them, or flushed)"
            : 'the device started again since the last look (its saved configuration may be older than its rules)'}: ` +
            `its ${sent.length} rule(s) recorded as applied there are sent again` +
            (sent.length < restore.held.length ? ` (${restore.held.length - sent.length} it can no longer carry are not: they fail, saying why)` : ''));
          await session.run(adapter.setup(opts).steps);
          await session.run(restore.plan.steps);
          await setHeld(db, sent, 'applied');
          // (noted last: a restore that did not finish is seen, and made, again next time)
          await look?.record();
          return;
        }
        await look?.record();
      }
      // the setup is idempotent; with a kept connection it runs once per connection. Where the
      // adapter takes both in one transaction they go as one (nft: one process, one round trip)
      const setup = fresh ? adapter.setup(opts) : undefined;
      const joined = setup && adapter.joinsSteps;
      if (setup && !joined) await session.run(setup.steps);
      try {
        await session.run(joined ? joinPlans(setup, plans.primary).steps : plans.primary.steps);
      } catch (err) {
        // Only a command the device refused (E_STEP) is known to have changed nothing. After a
        // timeout or a broken connection it may still be running there, and a second command
        // sent now could land before it, its effect last (a fault review saw a stuck add run
        // after the rule was taken off): the batch fails, the connection is dropped.
        if (!(err instanceof TransportError && err.code === 'E_STEP')) throw err;
        // the setup on its own first (if it is what failed, its own error is the one to
        // report): a joined transaction changed nothing, and a kept connection's device may
        // have lost ipms's objects since (nft flush ruleset, a reboot)
        if (joined || !fresh) await session.run((setup ?? adapter.setup(opts)).steps);
        // a delta that does not fit what the device has changed nothing (one transaction):
        // replace the adapter's objects whole with everything the device should enforce
        if (!plans.fallback) throw err;
        await session.run((await plans.fallback()).steps);
      }
    };
    if (deps.pool) {
      const { session, fresh } = await deps.pool.get(device);
      try {
        await run(session, fresh);
      } catch (err) {
        await deps.pool.discard(device.id);
        // a kept connection the device (or a firewall between) has dropped since the last
        // batch: connect again once, now, rather than fail the batch and wait for the backoff.
        // A command the device refused (E_STEP) would be refused again: that one fails.
        if (fresh || (err instanceof TransportError && err.code === 'E_STEP')) throw err;
        const again = await deps.pool.get(device);
        try {
          await run(again.session, again.fresh);
        } catch (err2) {
          await deps.pool.discard(device.id);
          throw err2;
        }
      }
    } else {
      await run(await early!.get(), true);
    }
  } catch (err) {
    const msg = `${device.name}: ${oneLine(err)}`;
    if (err instanceof OverWorkerError) {
      // only those rules wait (the new whitelist entry drops them); the rest go next round
      const bad = ok.filter((c) => c.desired === 'present' && err.ruleIds.has(c.rule_id));
      await fail(bad, msg);
      await release(db, ok.filter((c) => !bad.includes(c)), deps.workerId);
      return out;
    }
    await fail(ok, msg);
    await deviceHealth(db, device.id, msg);
    return out;
  }
  lap('device');
  // (rows whose rule changed while in flight are released, not counted: they go next round)
  const done = await markDone(db, ok, deps.workerId);
  await clearOldAction(db, ok.filter((c) => c.old_action));
  await deviceHealth(db, device.id, null);
  lap('record');
  out.applied = done.applied;
  out.removed += done.removed;
  return out;
}

/**
 * The entries under a rule's old action are off the device (schema 0019): rows recorded for
 * the version claimed forget it. A worker account granted before (no right on the column)
 * leaves it set: the next batch of the row takes the entry off again, which does no harm.
 */
async function clearOldAction(db: Db, rows: readonly Claimed[]): Promise<void> {
  try {
    for (const { version, ids } of claimChunks(rows)) {
      await withRetry(() => db.exec(
        `UPDATE RuleDevice SET old_action = NULL WHERE id IN (${ids.map(() => '?').join(',')}) AND version = ? AND state IN ('applied', 'removed')`,
        [...ids, version]));
    }
  } catch (err) {
    if (dbErrno(err) !== 1143) throw err;
  }
}

/** Rules of a batch over the worker's own address, found when the connection told it (nothing was sent). */
class OverWorkerError extends Error {
  readonly ruleIds: Set<number>;
  constructor(ids: number[], mine: readonly Cidr[]) {
    super(`rule${ids.length > 1 ? 's' : ''} ${ids.join(', ')} would block ${mine.map((m) => m.text).join(', ')}, which the worker reaches the device from (now whitelisted): not sent`);
    this.ruleIds = new Set(ids);
  }
}

/**
 * The addresses a connection to a device showed: the worker's own as the device sees it, and
 * the device's when it is given by host name. Neither is known to ipms otherwise, and hits are
 * easy to spoof: 50 UDP packets "from" the worker would make a permanent rule that cuts the
 * worker off the device, which it could then not take off. Each is whitelisted (an ordinary
 * entry an admin sees, created_by ipms-worker) unless something protects it already.
 * Loopback is left out. Returns the entries added. Behind a NAT the device sees another
 * address: that one an admin whitelists (README).
 */
async function rememberPeers(db: Db, device: DeviceRow, peer: NonNullable<Session['peer']>, prot: readonly ProtectedRange[]): Promise<Cidr[]> {
  const index = protectedIndex(prot);
  const byName = !looksLikeAddress(device.host);
  const added: Cidr[] = [];
  for (const [addr, what] of [[peer.local, `the ipms worker, as device ${device.name} sees it`], [byName ? peer.remote : undefined, `device ${device.name} (${device.host})`]] as const) {
    if (!addr) continue;
    let c: Cidr;
    try {
      c = parseCidr(addr);
    } catch {
      continue;
    }
    if ((c.family === 4 && c.first[0] === 127) || c.text === '::1/128' || index.overlapping(c)) continue;
    // (a worker account granted before this may not insert: then the admin whitelists it, README)
    const r = await db.exec('INSERT IGNORE INTO Whitelist (cidr, comment, created_by) VALUES (?, ?, ?)',
      [c.text, `${what} (added by the worker)`.slice(0, 255), 'ipms-worker']).catch(() => ({ affectedRows: 0 }));
    if (r.affectedRows) added.push(c);
  }
  return added;
}

/** A RuleDevice row recorded as applied, as a restore found it (see plansFor). */
interface Held {
  id: number;
  ruleId: number;
  version: number;
  sent: boolean;
}

/**
 * Rows of a restore recorded as pending (due at once) before it, as applied again after it:
 * each only while its wish is unchanged (the version it was read at) and no batch holds it.
 * Applied again, their rules are activated as a batch's are (markDone): another device may have
 * recorded the last of a rule's other rows meanwhile, and its activation then saw this row
 * pending. (@ipms_batch_record: RuleDevice_after_update leaves that to the set-based step.)
 */
async function setHeld(db: Db, held: readonly Held[], state: 'pending' | 'applied'): Promise<void> {
  if (!held.length) return;
  const from = state === 'pending' ? 'applied' : 'pending';
  await db.pinned(async (q) => {
    await q.exec('SET @ipms_batch_record = 1');
    try {
      for (const { version, ids } of claimChunks(held)) {
        await withRetry(() => q.exec(
          `UPDATE RuleDevice SET state = ?, updated_at = UTC_TIMESTAMP(3)${state === 'pending' ? ', next_attempt_at = UTC_TIMESTAMP(3)' : ''}
           WHERE id IN (${ids.map(() => '?').join(',')}) AND version = ? AND desired = 'present' AND state = ? AND claimed_by IS NULL`,
          [state, ...ids, version, from]));
      }
      if (state === 'applied') await activateRules(q, [...new Set(held.map((h) => h.ruleId))], await readCommittedAllowed(q));
    } finally {
      await q.exec('SET @ipms_batch_record = NULL');
    }
  });
}

/** Slack between an uptime (whole minutes) and the time since the last look. */
const LOOK_SLACK_S = 120;

/**
 * Whether the device restarted since the worker's last look: its uptime is shorter than the
 * time since then (on the database's clock; before the first look, nothing is known).
 * `record` notes this look. A worker account granted before schema 0017 may not write
 * `looked_at`, and a database not yet migrated has no such column: then no look is known, and
 * no restart seen.
 */
async function lookedAgain(db: Db, deviceId: number, uptimeS: number): Promise<{ restarted: boolean; record: () => Promise<void> } | undefined> {
  let since: number | null;
  try {
    const [r] = await db.rows<{ s: number | string | null }>('SELECT TIMESTAMPDIFF(SECOND, looked_at, UTC_TIMESTAMP()) AS s FROM Device WHERE id = ?', [deviceId]);
    since = r?.s === null || r?.s === undefined ? null : Number(r.s);
  } catch (err) {
    if (dbErrno(err) === 1054) return undefined; // ER_BAD_FIELD_ERROR
    throw err;
  }
  return {
    restarted: since !== null && uptimeS + LOOK_SLACK_S < since,
    record: async () => {
      await db.exec('UPDATE Device SET looked_at = UTC_TIMESTAMP() WHERE id = ?', [deviceId]).catch((err: unknown) => {
        if (dbErrno(err) !== 1143 && dbErrno(err) !== 1054) throw err; // (no grant on the column yet: see above)
      });
    },
  };
}

/**
 * The device's uptime, or undefined where it cannot tell (a login whose view or privilege
 * refuses the command: its error lines are not all known).
 */
async function uptimeOf(session: Session, uptime: UptimeCheck): Promise<number | undefined> {
  try {
    const [r] = await session.run([uptime.step]);
    return r ? uptime.seconds(r.stdout) : undefined;
  } catch (err) {
    if (err instanceof TransportError && err.code === 'E_STEP') return undefined;
    throw err;
  }
}

/**
 * What a delta-only device holds that none of its rules should (found by reading its state, as
 * `devices reconcile` does), as rules to take off: after a restart from an older saved
 * configuration, the entries of rules removed since the save. A state that cannot be read (an
 * IOS list without its final permit) leaves them, saying so: reconcile then reports it.
 */
async function strayEntries(session: Session, adapter: Adapter, opts: DeviceOptions, out: BatchOutcome, name: string): Promise<StateEntry[]> {
  if (adapter.modes.includes('full')) return []; // (a full render replaces the device's objects whole)
  const outputs = (await session.run(adapter.readState(opts).steps)).map((r) => r.stdout);
  try {
    return adapter.parseState(outputs, opts);
  } catch (err) {
    // (an entry ipms does not write, such as an object-group, or a list without its permit)
    out.errors.push(`${name}: its entries could not be read after its restart, so entries of rules taken off since its configuration was saved may still be there (${oneLine(err)}): check its ACL by hand`);
    return [];
  }
}

/**
 * Has the device been recorded as holding any rule it should still hold? (Also one due again:
 * a restore that did not finish leaves its rows pending, and the next look must still run.)
 */
async function holdsRules(db: Db, deviceId: number): Promise<boolean> {
  const [r] = await db.rows<{ x: number }>(
    "SELECT 1 AS x FROM RuleDevice WHERE device_id = ? AND desired = 'present' AND applied_at IS NOT NULL LIMIT 1", [deviceId]);
  return r !== undefined;
}

/**
 * What to send: a delta where the adapter renders one (with the kept rules that overlap it),
 * else the full set of rules the device must enforce; for a delta, a full render to fall back on.
 */
async function plansFor(
  db: Db, device: DeviceRow, adapter: Adapter, opts: DeviceOptions,
  b: { add: DeviceRule[]; remove: DeviceRule[]; batchRows: RuleInput[]; exclude: Set<number>; fresh: Set<number>; prot: readonly ProtectedRange[] },
): Promise<{ primary: Plan; fallback?: () => Promise<Plan>; restore: (found?: readonly StateEntry[]) => Promise<{ plan: Plan; held: Held[] }> }> {
  // Everything the device should enforce after this batch: in one full render where the adapter
  // has one, else as a delta that adds it all (IOS: every add clears its entry first; RouterOS
  // adds what is missing, see RenderCall.restored). `held`: the rows recorded as applied there,
  // and whether this plan sends them.
  let fresh: ReadonlySet<number> = new Set(); // (this batch's fresh rules, once known below)
  // `found`: what a delta-only device holds (read back after a restart): what no wanted rule
  // accounts for is taken off too
  const everything = async (found: readonly StateEntry[] = []): Promise<{ plan: Plan; held: Held[] }> => {
    const removing = new Set(b.remove.map((r) => r.id));
    const want = new Map<number, DeviceRule>(b.add.map((r) => [r.id, r]));
    const held: Held[] = [];
    // (what the device may hold and keep: its other rules still wanted there, whatever their
    // row's state, e.g. one due again after a failed attempt)
    const mayHold: DeviceRule[] = [];
    for (const row of await presentOnDevice(db, device.id)) {
      if (want.has(row.id) || removing.has(row.id)) continue;
      let dr: DeviceRule;
      try {
        dr = toDeviceRule(row, { protected: b.prot, purpose: 'keep' });
      } catch {
        // a rule that no longer validates, expired or protected since, is not written back; its
        // own row's removal follows
        continue;
      }
      mayHold.push(dr);
      if (row.state !== 'applied') continue;
      // one the device's options no longer let it carry (ipv6=false, after the rule was applied)
      // is not written back: a full render would refuse the whole batch for it, and every
      // batch of the device after it (in a restore, its row, pending again, fails on its own,
      // saying why; else it stays recorded where an earlier setting put it)
      const sent = !adapter.unsupported(dr, opts);
      if (sent) want.set(row.id, dr);
      held.push({ id: row.rd_id, ruleId: row.id, version: row.rd_version, sent });
    }
    const restored = new Set(held.filter((h) => h.sent).map((h) => h.ruleId));
    const expected = new Set(found.length ? adapter.expectedState([...b.add, ...mayHold].filter((r) => !adapter.unsupported(r, opts)), opts).map((k) => keyText(k)) : []);
    const stray: DeviceRule[] = [];
    for (const [i, e] of found.filter((x) => !expected.has(keyText(x))).entries()) {
      try {
        stray.push(removalOf(e, i + 1));
      } catch {
        // an entry ipms cannot write is none of its own: left for the administrator
      }
    }
    const plan = adapter.modes.includes('full')
      ? adapter.render({ add: [...want.values()], remove: [] }, opts, { mode: 'full' })
      : adapter.render({ add: [...want.values()], remove: [...b.remove, ...stray] }, opts, { mode: 'delta', restored, fresh });
    return { plan, held };
  };
  const full = async (): Promise<Plan> => (await everything()).plan;
  const restore = (found?: readonly StateEntry[]) => everything(found);
  if (!adapter.modes.includes('delta')) return { primary: await full(), restore };
  const keep: DeviceRule[] = [];
  const { kept, leaving } = await keptOverlapping(db, device.id, b.batchRows, b.exclude);
  for (const k of kept) {
    try {
      keep.push(toDeviceRule(k, { protected: b.prot, purpose: 'keep' }));
    } catch {
      // a kept rule that no longer validates, expired or protected since, is not kept; its own
      // row's removal follows
    }
  }
  // a source that another rule may still hold on the device is not fresh
  const leavingSrc = new Set(leaving.map((r) => Buffer.from(r.src_ip).toString('hex')));
  fresh = new Set(b.batchRows.filter((r) => b.fresh.has(r.id) && !leavingSrc.has(Buffer.from(r.src_ip).toString('hex'))).map((r) => r.id));
  const primary = adapter.render({ add: b.add, remove: b.remove }, opts, { mode: 'delta', keep, fresh });
  return adapter.modes.includes('full') ? { primary, fallback: full, restore } : { primary, restore };
}
