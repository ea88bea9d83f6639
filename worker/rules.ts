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
 * rule (usually few), and applied single-address rules that are in the batch or inside one of
 * its ranges. Adapters with interval sets need them to keep the sets free of overlaps.
 * Also, in the same look-ups, the rules whose removal from the device is still outstanding
 * (not in this batch): what they put there may still be there.
 */
export async function keptOverlapping(
  q: Queryable, deviceId: number, batch: RuleInput[], exclude: Set<number>,
): Promise<{ kept: RuleInput[]; leaving: RuleInput[] }> {
  // driven from Rule's source index, then the (rule_id, device_id) key: starting from the
  // device's RuleDevice rows would read all of them for every look-up
  const base = `SELECT ${RULE_COLS}, rd.desired FROM Rule r JOIN RuleDevice rd ON rd.rule_id = r.id AND rd.device_id = ?
                WHERE ((rd.desired = 'present' AND rd.state = 'applied') OR (rd.desired = 'absent' AND rd.state <> 'removed'))`;
  const kept = new Map<number, RuleInput>();
  const leaving = new Map<number, RuleInput>();
  const add = (rows: (RuleInput & { desired: string })[]) => {
    for (const { desired, ...r } of rows) if (!exclude.has(r.id)) (desired === 'present' ? kept : leaving).set(r.id, r);
  };
  add(await q.rows(`${base} AND r.src_prefix < LENGTH(r.src_ip) * 8`, [deviceId]));
  const singles = batch.filter((r) => r.src_prefix === r.src_ip.length * 8).map((r) => r.src_ip);
  for (let i = 0; i < singles.length; i += 2000) {
    const chunk = singles.slice(i, i + 2000);
    add(await q.rows(`${base} AND r.src_ip IN (${chunk.map(() => '?').join(',')})`, [deviceId, ...chunk]));
  }
  for (const r of batch.filter((x) => x.src_prefix < x.src_ip.length * 8)) {
    add(await q.rows(`${base} AND r.src_ip BETWEEN ? AND ? AND LENGTH(r.src_ip) = ?`, [deviceId, r.src_ip, r.src_last ?? r.src_ip, r.src_ip.length]));
  }
  return { kept: [...kept.values()], leaving: [...leaving.values()] };
}

/** Everything the database says the device should enforce (for reconcile and full renders). */
export async function presentOnDevice(q: Queryable, deviceId: number): Promise<(RuleInput & { rd_id: number; state: string })[]> {
  return q.rows(
    `SELECT ${RULE_COLS}, rd.id AS rd_id, rd.state FROM RuleDevice rd JOIN Rule r ON r.id = rd.rule_id
     WHERE rd.device_id = ? AND rd.desired = 'present'`,
    [deviceId],
  );
}
