/** Reading what a device batch needs: the claimed rules, and the rules that stay on the device. */
import type { Queryable } from '../lib/db.ts';
import type { RuleInput } from './devices/canonical.ts';

const RULE_COLS = 'r.id, r.src_ip, r.src_prefix, r.src_last, r.dst_ip, r.dst_port, r.proto, r.action, r.expires_at';

export async function rulesById(q: Queryable, ids: number[]): Promise<Map<number, RuleInput>> {
  const out = new Map<number, RuleInput>();
  for (let i = 0; i < ids.length; i += 5000) {
    const chunk = ids.slice(i, i + 5000);
    const rows = await q.rows<RuleInput>(`SELECT ${RULE_COLS} FROM Rule r WHERE r.id IN (${chunk.map(() => '?').join(',')})`, chunk);
    for (const r of rows) out.set(r.id, r);
  }
  return out;
}

/**
 * Rules applied on the device that stay there and overlap the batch: every applied range
 * rule (usually few; found through Rule's ix_rule_open_range, not by reading every rule the
 * device holds), and applied single-address rules that are in the batch or inside one of its
 * ranges. Adapters with interval sets need them to keep the sets free of overlaps.
 * Also, in the same look-ups, the rules whose removal from the device is still outstanding
 * (not in this batch): what they put there may still be there.
 */
export async function keptOverlapping(
  q: Queryable, deviceId: number, batch: RuleInput[], exclude: Set<number>,
): Promise<{ kept: RuleInput[]; leaving: RuleInput[] }> {
  const applied = "rd.desired = 'present' AND rd.state = 'applied'";
  // (a row is 'absent' from the moment its rule closes or its device stops taking it; until
  // the worker has taken it off, it is 'pending' or 'failed')
  const outstanding = "rd.desired = 'absent' AND rd.state IN ('pending', 'failed')";
  const kept = new Map<number, RuleInput>();
  const leaving = new Map<number, RuleInput>();
  const add = (rows: (RuleInput & { desired: string })[]) => {
    for (const { desired, ...r } of rows) if (!exclude.has(r.id)) (desired === 'present' ? kept : leaving).set(r.id, r);
  };
  // open range rules, then this device's row of each (its (rule_id, device_id) key)
  add(await q.rows(
    `SELECT ${RULE_COLS}, rd.desired FROM Rule r STRAIGHT_JOIN RuleDevice rd ON rd.rule_id = r.id AND rd.device_id = ?
     WHERE r.open_range = 1 AND ${applied}`,
    [deviceId],
  ));
  // range rules on their way off: from the device's outstanding rows (ix_ruledevice_device)
  add(await q.rows(
    `SELECT ${RULE_COLS}, rd.desired FROM RuleDevice rd STRAIGHT_JOIN Rule r ON r.id = rd.rule_id
     WHERE rd.device_id = ? AND ${outstanding} AND r.src_prefix < LENGTH(r.src_ip) * 8`,
    [deviceId],
  ));
  // single addresses and ranges of the batch: driven from Rule's source index, then the
  // (rule_id, device_id) key
  const base = `SELECT ${RULE_COLS}, rd.desired FROM Rule r STRAIGHT_JOIN RuleDevice rd ON rd.rule_id = r.id AND rd.device_id = ?
                WHERE ((${applied}) OR (${outstanding}))`;
  const singles = batch.filter((r) => r.src_prefix === r.src_ip.length * 8).map((r) => r.src_ip);
  for (let i = 0; i < singles.length; i += 2000) {
    const chunk = singles.slice(i, i + 2000);
    add(await q.rows(`${base} AND r.src_ip IN (${chunk.map(() => '?').join(',')})`, [deviceId, ...chunk]));
  }
  // the rules inside the batch's ranges, 200 ranges a statement (one index range each)
  const ranges = batch.filter((x) => x.src_prefix < x.src_ip.length * 8);
  for (let i = 0; i < ranges.length; i += 200) {
    const chunk = ranges.slice(i, i + 200);
    add(await q.rows(
      `${base} AND (${chunk.map(() => '(r.src_ip BETWEEN ? AND ? AND LENGTH(r.src_ip) = ?)').join(' OR ')})`,
      [deviceId, ...chunk.flatMap((r) => [r.src_ip, r.src_last ?? r.src_ip, r.src_ip.length])],
    ));
  }
  return { kept: [...kept.values()], leaving: [...leaving.values()] };
}

/** Everything the database says the device should enforce (for reconcile and full renders). */
export async function presentOnDevice(q: Queryable, deviceId: number): Promise<(RuleInput & { rd_id: number; rd_version: number; state: string })[]> {
  return q.rows(
    `SELECT ${RULE_COLS}, rd.id AS rd_id, rd.version AS rd_version, rd.state FROM RuleDevice rd JOIN Rule r ON r.id = rd.rule_id
     WHERE rd.device_id = ? AND rd.desired = 'present'`,
    [deviceId],
  );
}
