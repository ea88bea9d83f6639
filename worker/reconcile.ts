/**
 * `devices reconcile`: read what the device really enforces, compare it with what the database
 * says it should, and fix the difference both ways in one batch.
 */
import type { Db } from '../lib/db.ts';
import { ipToBytes } from '../lib/ip.ts';
import { protectedRanges } from '../lib/queries/lists.ts';
import type { DeviceRow } from '../lib/types.ts';
import { keyText, toDeviceRule, type RuleInput } from './devices/canonical.ts';
import type { DeviceRule, StateEntry } from './devices/types.ts';
import { presentOnDevice } from './rules.ts';
import { deviceOptions, type AdapterLookup } from './target.ts';
import type { Transport } from './transports/types.ts';

export interface ReconcileReport {
  device: string;
  expected: number;
  found: number;
  missing: string[];
  unexpected: string[];
  fixed: boolean;
}

function entryToInput(e: StateEntry, fallbackId: number): RuleInput {
  return {
    id: e.id ?? fallbackId,
    src_ip: ipToBytes(e.src.address),
    src_prefix: e.src.prefix,
    dst_ip: e.dst ? ipToBytes(e.dst.address) : null,
    dst_port: e.dstPort ?? null,
    proto: e.proto ?? null,
    action: e.action,
  };
}

/** An entry read back from a device, as a rule that takes it off (reconcile; a restore, see apply.ts). */
export function removalOf(e: StateEntry, fallbackId = 1): DeviceRule {
  return toDeviceRule(entryToInput(e, fallbackId), { protected: [], purpose: 'remove' });
}

export async function reconcile(
  db: Db, device: DeviceRow, deps: { adapterFor: AdapterLookup; transportFor: (d: DeviceRow) => Transport }, dryRun: boolean,
): Promise<ReconcileReport> {
  const adapter = deps.adapterFor(device.adapter);
  const opts = deviceOptions(device);
  const prot = await protectedRanges(db);
  const wanted: DeviceRule[] = [];
  const wantedRows: number[] = [];
  const rows = await presentOnDevice(db, device.id);
  for (const r of rows) {
    try {
      wanted.push(toDeviceRule(r, { protected: prot, purpose: 'apply' }));
      wantedRows.push(r.rd_id);
    } catch {
      // protected or expired: it should not be there, so it is not expected
    }
  }
  const session = await deps.transportFor(device).open();
  try {
    // a dry run changes nothing on the device, not even the (idempotent) setup
    if (!dryRun) await session.run(adapter.setup(opts).steps);
    const read = async () => adapter.parseState((await session.run(adapter.readState(opts).steps)).map((r) => r.stdout), opts);
    const found = await read();
    const expected = adapter.expectedState(wanted, opts);
    const foundKeys = new Set(found.map((e) => keyText(e)));
    // What seems missing is read once more before it counts as drift: a listing of 100k nftables
    // elements once came back ~4% short in a test on a loaded machine (not reproduced since).
    // Whatever either reading shows is there.
    if (expected.some((k) => !foundKeys.has(keyText(k)))) {
      for (const e of await read()) {
        if (!foundKeys.has(keyText(e))) {
          found.push(e);
          foundKeys.add(keyText(e));
        }
      }
    }
    const expectedKeys = new Set(expected.map((k) => keyText(k)));
    // compared in the device's own terms: expectedState is what the adapter writes for the
    // rules (nftables merges overlapping ranges into pieces, IOS has no REJECT...)
    const missingKeys = expected.filter((k) => !foundKeys.has(keyText(k)));
    const unexpected = found.filter((e) => !expectedKeys.has(keyText(e)));
    // for a delta: the rules some of whose entries the device lacks
    const missing = missingKeys.length
      ? wanted.filter((w) => adapter.expectedState([w], opts).some((k) => !foundKeys.has(keyText(k))))
      : [];
    const report: ReconcileReport = {
      device: device.name,
      expected: expected.length,
      found: found.length,
      missing: missingKeys.map((k) => keyText(k)),
      unexpected: unexpected.map((e) => keyText(e)),
      fixed: false,
    };
    if (!dryRun && (missingKeys.length || unexpected.length)) {
      // full where the adapter can: the device then holds exactly what is wanted
      const plan = adapter.modes.includes('full')
        ? adapter.render({ add: wanted, remove: [] }, opts, { mode: 'full' })
        : adapter.render(
            { add: missing, remove: unexpected.map((e) => removalOf(e)) },
            opts,
            { mode: 'delta', keep: wanted.filter((w) => !missing.includes(w)) },
          );
      await session.run(plan.steps);
      report.fixed = true;
    }
    // the device now holds exactly what was wanted: record it
    for (let i = 0; !dryRun && i < wantedRows.length; i += 1000) {
      const ids = wantedRows.slice(i, i + 1000);
      await db.exec(
        `UPDATE RuleDevice SET state = 'applied', applied_at = IFNULL(applied_at, UTC_TIMESTAMP(3)), last_error = NULL, updated_at = UTC_TIMESTAMP(3)
         WHERE desired = 'present' AND state <> 'applied' AND claimed_by IS NULL AND id IN (${ids.map(() => '?').join(',')})`,
        ids,
      );
    }
    return report;
  } finally {
    await session.close();
  }
}
