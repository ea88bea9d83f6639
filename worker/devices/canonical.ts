/**
 * The only way to make a DeviceRule: validate a Rule row (addresses through lib/ip.ts, prefix,
 * port, protocol from the fixed list, family consistency), refuse protected ranges, and remember
 * the result so renderers can check that every rule they get came from here. This is the last
 * of the three whitelist checks (trigger, worker, here) before anything reaches a device.
 */
import { RULE_PROTOCOLS, type Action } from '../../lib/types.ts';
import { bytesToIp, parseCidr, RangeIndex, tooWideToBlock, type Family } from '../../lib/ip.ts';
import { InputError, IpmsError, RefusedError } from '../../lib/errors.ts';
import { hasPorts, protoFamilyProblem, PROTO_NUMBER } from './protocols.ts';
import type { DeviceKey, DeviceRule } from './types.ts';

/** A range that must never be blocked: whitelist entry, management or honeypot address. */
export interface ProtectedRange {
  first: Buffer;
  last: Buffer;
  /** shown in the refusal message, e.g. `whitelist #4 (192.0.2.0/24)`; never sent to a device */
  what: string;
}

/** The Rule columns a device rule is made of (RuleRow fits). */
export interface RuleInput {
  id: number;
  src_ip: Buffer;
  src_prefix: number;
  src_last?: Buffer | null;
  dst_ip?: Buffer | null;
  dst_port?: number | null;
  proto?: string | null;
  action: string;
  expires_at?: Date | null;
}

export interface ToDeviceRuleOptions {
  /** a list is indexed on first use (and the index kept for that list) */
  protected: readonly ProtectedRange[] | RangeIndex<ProtectedRange>;
  /** for expiresInS; default: now */
  now?: Date;
  /**
   * apply (default): the rule is going onto a device: protected ranges and expiry are checked.
   * remove: taking a rule off is always allowed (a range whitelisted after the rule was applied
   * must still come off, an expired rule too); expiresInS is left out.
   * keep: a rule already on the device that a render writes again (a full render, or the rules
   * a delta must keep around the ones it changes): checked like apply, so that a range protected
   * since is not written back and the device's own timeout keeps counting to the rule's expiry.
   */
  purpose?: 'apply' | 'remove' | 'keep';
}

/** Longest lifetime we carry, in seconds (about 68 years); longer is treated as a typo. */
export const MAX_EXPIRES_S = 2 ** 31 - 1;

const made = new WeakSet<object>();

const indexes = new WeakMap<readonly ProtectedRange[], RangeIndex<ProtectedRange>>();

/** The index of a list of protected ranges, made once per list (a batch asks it per rule). */
export function protectedIndex(p: readonly ProtectedRange[] | RangeIndex<ProtectedRange>): RangeIndex<ProtectedRange> {
  if (p instanceof RangeIndex) return p;
  let ix = indexes.get(p);
  if (!ix) {
    ix = new RangeIndex(p, 'protected range ');
    indexes.set(p, ix);
  }
  return ix;
}

export function toDeviceRule(row: RuleInput, opts: ToDeviceRuleOptions): DeviceRule {
  const id = row.id;
  if (!Number.isSafeInteger(id) || id < 1) throw new InputError(`rule id must be a positive integer, not ${String(id)}`, 'E_RULE');
  const what = `rule ${id}`;
  if (row.src_ip != null && isV4Mapped(Buffer.from(row.src_ip))) {
    // stored as 16 bytes, it escaped the database's IPv4 whitelist look-ups
    throw new InputError(`${what}: source ${bytesToIp(Buffer.from(row.src_ip))} is IPv4-mapped; store the IPv4 form`, 'E_RULE');
  }
  const src = parseCidr(`${addrText(row.src_ip, `${what}: source`)}/${prefixText(row.src_prefix, what)}`, `${what}: source`);
  // (the Rule triggers refuse it too; a rule that got past them, from a restore or by hand, does not reach a device)
  const wide = tooWideToBlock(src);
  if (wide && (opts.purpose ?? 'apply') !== 'remove') throw new InputError(`${what}: ${src.text}: ${wide}`, 'E_RULE');
  const family = src.family;
  if (row.src_last != null && !Buffer.from(row.src_last).equals(src.last)) {
    throw new InputError(`${what}: src_last does not match ${src.text}`, 'E_RULE');
  }

  let dst: DeviceRule['dst'];
  if (row.dst_ip != null) {
    const d = parseCidr(addrText(row.dst_ip, `${what}: destination`), `${what}: destination`);
    if (d.family !== family) throw new InputError(`${what}: destination ${d.address} is not IPv${family} like the source`, 'E_RULE');
    dst = Object.freeze({ address: d.address });
  }

  let proto: DeviceRule['proto'];
  if (row.proto != null) {
    const p = RULE_PROTOCOLS.find((x) => x === row.proto);
    if (!p) throw new InputError(`${what}: unknown protocol (allowed: ${RULE_PROTOCOLS.join(', ')})`, 'E_RULE');
    const misfit = protoFamilyProblem(p, family);
    // (an IPv6 ah rule was applied by earlier versions, and devices hold it: it comes off)
    if (misfit && !(p === 'ah' && (opts.purpose ?? 'apply') === 'remove')) throw new InputError(`${what}: protocol ${misfit}`, 'E_RULE');
    proto = p;
  }

  let dstPort: number | undefined;
  if (row.dst_port != null) {
    if (!Number.isInteger(row.dst_port) || row.dst_port < 1 || row.dst_port > 65535) {
      throw new InputError(`${what}: destination port must be 1-65535`, 'E_RULE');
    }
    if (!hasPorts(proto)) throw new InputError(`${what}: a destination port needs a protocol with ports (tcp, udp, sctp, udplite, dccp)`, 'E_RULE');
    dstPort = row.dst_port;
  }

  const action = row.action === 'DROP' || row.action === 'REJECT' ? (row.action as Action) : undefined;
  if (!action) throw new InputError(`${what}: action must be DROP or REJECT`, 'E_RULE');

  let expiresInS: number | undefined;
  if ((opts.purpose ?? 'apply') !== 'remove') {
    const p = protectedIndex(opts.protected).overlapping(src);
    if (p) throw new RefusedError(`${what}: ${src.text} overlaps protected range ${p.what}; not sent to any device`, 'E_PROTECTED');
    if (row.expires_at != null) {
      const ms = row.expires_at.getTime() - (opts.now ?? new Date()).getTime();
      if (!Number.isFinite(ms)) throw new InputError(`${what}: bad expiry time`, 'E_RULE');
      if (ms <= 0) throw new RefusedError(`${what}: expired at ${row.expires_at.toISOString()}; remove it instead`, 'E_EXPIRED');
      expiresInS = Math.ceil(ms / 1000);
      if (expiresInS > MAX_EXPIRES_S) throw new InputError(`${what}: expiry is more than ${MAX_EXPIRES_S} s away`, 'E_RULE');
    }
  }

  const rule: DeviceRule = Object.freeze({
    id,
    family,
    src: Object.freeze({ address: src.address, prefix: src.prefix }),
    ...(dst ? { dst } : {}),
    ...(dstPort !== undefined ? { dstPort } : {}),
    ...(proto ? { proto } : {}),
    action,
    ...(expiresInS !== undefined ? { expiresInS } : {}),
  });
  made.add(rule);
  return rule;
}

/** Renderers call this on every rule: anything not made by toDeviceRule is a bug, not input. */
export function assertDeviceRules(rules: readonly DeviceRule[]): void {
  for (const r of rules) {
    if (typeof r !== 'object' || r === null || !made.has(r)) {
      throw new IpmsError('E_UNVALIDATED', 'device rule was not built by toDeviceRule; refusing to render it');
    }
  }
}

function addrText(b: unknown, what: string): string {
  if (!Buffer.isBuffer(b) && !(b instanceof Uint8Array)) throw new InputError(`${what}: address must be 4 or 16 bytes`, 'E_RULE');
  try {
    return bytesToIp(b);
  } catch {
    throw new InputError(`${what}: address must be 4 or 16 bytes (got ${b.length})`, 'E_RULE');
  }
}

function prefixText(p: unknown, what: string): string {
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > 128) throw new InputError(`${what}: bad prefix length`, 'E_RULE');
  return String(p);
}

function isV4Mapped(b: Buffer): boolean {
  return b.length === 16 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
}

/** Names that reach device text (table, chain, set, ACL, list) come from device options. */
export const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]{0,30}$/;

export function checkName(name: unknown, what: string, maxLen = 31): string {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.length > maxLen) {
    throw new InputError(`${what}: name must be a letter then letters, digits, _ or - (at most ${maxLen} characters)`, 'E_DEVICE_OPTION');
  }
  return name;
}

/** The traffic and action of a rule: what a device can show back. */
export function keyOf(r: DeviceKey): DeviceKey {
  return {
    family: r.family,
    src: { address: r.src.address, prefix: r.src.prefix },
    ...(r.dst ? { dst: { address: r.dst.address } } : {}),
    ...(r.proto ? { proto: r.proto } : {}),
    ...(r.dstPort !== undefined ? { dstPort: r.dstPort } : {}),
    action: r.action,
  };
}

/** One-line text of a key, for sets, maps and messages: `DROP 198.51.100.0/24 > 192.0.2.1 tcp/80`. */
export function keyText(k: DeviceKey): string {
  const to = k.dst ? ` > ${k.dst.address}` : '';
  const p = k.proto ? ` ${k.proto}${k.dstPort !== undefined ? `/${k.dstPort}` : ''}` : '';
  return `${k.action} ${k.src.address}/${k.src.prefix}${to}${p}`;
}

/** Sort order: family, source (by bytes), prefix, destination, protocol, port, action. */
export function sortKey(k: DeviceKey): string {
  const hex = (a: string) => parseCidr(a).first.toString('hex').padStart(32, '0');
  return [
    k.family,
    hex(k.src.address),
    String(k.src.prefix).padStart(3, '0'),
    k.dst ? hex(k.dst.address) : '',
    k.proto ? String(PROTO_NUMBER[k.proto]).padStart(3, '0') : '',
    k.dstPort !== undefined ? String(k.dstPort).padStart(5, '0') : '',
    k.action,
  ].join('|');
}

/** Keys sorted and without duplicates: among items with the same key the earliest one given wins. */
export function sortedUnique<T extends DeviceKey & { id?: number }>(items: readonly T[]): T[] {
  const withKey = items.map((r) => ({ r, k: sortKey(r) }));
  withKey.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0)); // stable: ties keep their order
  const out: T[] = [];
  let last = '';
  for (const { r, k } of withKey) {
    if (k !== last) out.push(r);
    last = k;
  }
  return out;
}

/**
 * Removals whose device entry is still wanted by another rule (same entry in `wanted`) are left
 * out: on devices where an entry is just its key, deleting it would also remove the other rule.
 */
export function notWanted(remove: readonly DeviceRule[], wanted: readonly DeviceKey[], entryOf: (k: DeviceKey) => string): DeviceRule[] {
  const keep = new Set(wanted.map(entryOf));
  return remove.filter((r) => !keep.has(entryOf(r)));
}

export function familyBits(f: Family): number {
  return f === 4 ? 32 : 128;
}
