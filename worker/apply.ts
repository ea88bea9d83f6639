/**
 * One device, one batch: validate every claimed rule again (the worker's whitelist check),
 * render add and remove with the device's adapter, run it through one transport session, and
 * record the outcome. A rule that cannot be carried fails alone; a device that fails fails
 * the batch, to be retried with backoff.
 */
import type { Db } from '../lib/db.ts';
import { oneLine } from '../lib/errors.ts';
import { protectedRanges } from '../lib/queries/lists.ts';
import type { DeviceRow } from '../lib/types.ts';
import type { Claimed } from './claim.ts';
import { toDeviceRule, type RuleInput } from './devices/canonical.ts';
import type { DeviceRule } from './devices/types.ts';
import { deviceHealth, markDone, markFailed } from './outcome.ts';
import { keptOverlapping, rulesById } from './rules.ts';
import { deviceOptions, type AdapterLookup } from './target.ts';
import type { SessionPool } from './sessions.ts';
import type { Transport } from './transports/types.ts';

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
}

export async function applyDeviceBatch(db: Db, device: DeviceRow, claimed: Claimed[], deps: ApplyDeps): Promise<BatchOutcome> {
  const out: BatchOutcome = { device: device.name, applied: 0, removed: 0, failed: 0, errors: [] };
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
  const rules = await rulesById(db, [...new Set(claimed.map((c) => c.rule_id))]);
  const prot = await protectedRanges(db);
  const add: DeviceRule[] = [];
  const remove: DeviceRule[] = [];
  const ok: Claimed[] = [];
  const refused = new Map<string, Claimed[]>();
  for (const c of claimed) {
    const row = rules.get(c.rule_id);
    try {
      if (!row) throw new Error(`rule ${c.rule_id} is gone`);
      const dr = toDeviceRule(row, { protected: prot, purpose: c.desired === 'present' ? 'apply' : 'remove' });
      const why = c.desired === 'present' ? adapter.unsupported(dr, opts) : undefined;
      if (why) throw new Error(`${device.adapter} cannot carry rule ${c.rule_id}: ${why}`);
      (c.desired === 'present' ? add : remove).push(dr);
      ok.push(c);
    } catch (err) {
      const msg = oneLine(err);
      refused.set(msg, [...(refused.get(msg) ?? []), c]);
    }
  }
  for (const [msg, rows] of refused) await fail(rows, msg);
  if (!ok.length) return out;

  try {
    const batchRows = ok.map((c) => rules.get(c.rule_id)!) as RuleInput[];
    const keep: DeviceRule[] = [];
    for (const k of await keptOverlapping(db, device.id, batchRows, new Set(ok.map((c) => c.rule_id)))) {
      try {
        keep.push(toDeviceRule(k, { protected: [], purpose: 'remove' }));
      } catch {
        // a kept rule that no longer validates is left to its own row's next attempt
      }
    }
    const plan = adapter.render({ add, remove }, opts, { mode: 'delta', keep });
    if (deps.pool) {
      const { session, fresh } = await deps.pool.get(device);
      try {
        // the setup is idempotent; with a kept connection it runs once per connection
        if (fresh) await session.run(adapter.setup(opts).steps);
        await session.run(plan.steps);
      } catch (err) {
        await deps.pool.discard(device.id);
        throw err;
      }
    } else {
      const session = await deps.transportFor(device).open();
      try {
        await session.run(adapter.setup(opts).steps);
        await session.run(plan.steps);
      } finally {
        await session.close();
      }
    }
  } catch (err) {
    const msg = `${device.name}: ${oneLine(err)}`;
    await fail(ok, msg);
    await deviceHealth(db, device.id, msg);
    return out;
  }
  await markDone(db, ok, deps.workerId);
  await deviceHealth(db, device.id, null);
  out.applied = ok.filter((c) => c.desired === 'present').length;
  out.removed = ok.length - out.applied;
  return out;
}
