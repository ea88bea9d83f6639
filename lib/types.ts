/**
 * Row types of the tables the TypeScript code reads. Addresses are the raw INET6_ATON bytes
 * (Buffer of 4 or 16); DATETIME columns arrive as Date in UTC (sessions run in UTC).
 */

export type Kind = 'start' | 'probe' | 'end' | 'stray';
export type Action = 'DROP' | 'REJECT';
export type Origin = 'threshold' | 'blacklist' | 'manual';
export type RuleStatus = 'pending' | 'active' | 'disabled' | 'dropped' | 'expired';
export type Desired = 'present' | 'absent';
export type DeviceState = 'pending' | 'applied' | 'failed' | 'removed';
export type AppliesTo = 'external' | 'internal' | 'any';
export type GroupBy = 'src' | 'src_dport' | 'src_dst_dport' | 'tuple';

/** Statuses under which a rule is "open": it holds its traffic key (see Rule.open_key). */
export const OPEN_STATUSES: readonly RuleStatus[] = ['pending', 'active', 'disabled'];

/** Protocol names a rule may carry: the fixed list device adapters know. */
export const RULE_PROTOCOLS = ['tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'gre', 'esp', 'ah', 'igmp', 'udplite', 'dccp'] as const;
export type RuleProto = (typeof RULE_PROTOCOLS)[number];
/** Protocols that have ports. */
export const PORT_PROTOCOLS: readonly RuleProto[] = ['tcp', 'udp', 'sctp', 'udplite', 'dccp'];

/**
 * Why a rule cannot name this protocol for this address family, or undefined: icmp and igmp
 * only exist for IPv4, icmpv6 only for IPv6 (the Rule triggers say the same). AH is IPv4 only
 * in rules: in IPv6 it is an extension header, which the protocol match of nftables
 * (`meta l4proto`) and ip6tables (`-p`) skips on the way to the transport header, so a rule
 * for it would be applied and block nothing.
 */
export function protoFamilyProblem(p: RuleProto, family: 4 | 6): string | undefined {
  if ((p === 'icmp' || p === 'igmp') && family !== 4) return `${p} does not exist for IPv6 (icmp and igmp are IPv4 only)`;
  if (p === 'icmpv6' && family !== 6) return 'icmpv6 does not exist for IPv4 (icmpv6 is IPv6 only)';
  if (p === 'ah' && family !== 4) return 'ah cannot be blocked for IPv6: there AH is an extension header, which the firewalls\' protocol match skips (block the source for all protocols)';
  return undefined;
}

export interface SensorRow {
  id: number;
  name: string;
  /** management address (never blocked) */
  address: Buffer | null;
  description: string | null;
  created_at: Date;
}

export interface SensorLogRow {
  id: number;
  sensor_id: number;
  /** the time on the log line, UTC */
  ts: Date;
  kind: Kind;
  proto: string;
  src_ip: Buffer;
  src_port: number | null;
  dst_ip: Buffer;
  dst_port: number | null;
  icmp_type: number | null;
  icmp_code: number | null;
  length: number | null;
  tcp_flags: string | null;
  os: string | null;
  remark: string | null;
  bytes_in: number | null;
  bytes_out: number | null;
  start_id: number | null;
  event_id: Buffer | null;
  raw: string | null;
  inserted_at: Date;
}

export interface ThresholdRow {
  id: number;
  name: string;
  enabled: number;
  /** NULL = any protocol */
  proto: string | null;
  /** NULL = any destination port */
  dst_port: number | null;
  /** NULL = any sensor */
  sensor_id: number | null;
  group_by: GroupBy;
  window_s: number;
  max_hits: number;
  action: Action;
  /** NULL = permanent */
  duration_s: number | null;
  description: string | null;
  created_at: Date;
}

export interface RuleRow {
  id: number;
  /** first address of the source range */
  src_ip: Buffer;
  src_prefix: number;
  /** last address of the source range */
  src_last: Buffer;
  dst_ip: Buffer | null;
  dst_port: number | null;
  proto: RuleProto | null;
  action: Action;
  origin: Origin;
  threshold_id: number | null;
  blacklist_id: number | null;
  sensor_id: number | null;
  hits: number;
  reason: string | null;
  status: RuleStatus;
  scope: 'external' | 'internal';
  /** devices chosen by hand */
  targeted: number;
  created_by: string | null;
  created_at: Date;
  updated_at: Date | null;
  expires_at: Date | null;
}

export interface DeviceRow {
  id: number;
  name: string;
  host: string;
  port: number;
  adapter: string;
  transport: string;
  username: string | null;
  /** private key path or secret reference, never the key */
  key_ref: string | null;
  /** pinned host key, SHA256:base64 */
  host_key: string | null;
  /** adapter options, JSON text */
  options: string | null;
  enabled: number;
  applies_to: AppliesTo;
  created_at: Date;
  last_ok_at: Date | null;
  last_error: string | null;
  /** 1: commands run through `sudo -n --` (an unprivileged login) */
  sudo: number;
  /** the worker holding the device's lease (schema 0005), and until when */
  claimed_by: string | null;
  claimed_until: Date | null;
  /** when the worker last read the device's uptime, at its look (schema 0017) */
  looked_at?: Date | null;
  /** 0: its adapter option ipv6 is false, and it takes no IPv6 rule (kept from options by the Device triggers: schema 0023) */
  ipv6?: number;
}

export interface RuleDeviceRow {
  id: number;
  rule_id: number;
  device_id: number;
  desired: Desired;
  state: DeviceState;
  attempts: number;
  last_error: string | null;
  applied_at: Date | null;
  removed_at: Date | null;
  next_attempt_at: Date;
  claimed_by: string | null;
  claimed_until: Date | null;
  /** bumped on every change of desired */
  version: number;
  updated_at: Date | null;
}

export interface CidrEntryRow {
  id: number;
  cidr: string;
  first_ip: Buffer;
  last_ip: Buffer;
  prefix: number;
  comment: string | null;
  created_at: Date;
}

export interface BlacklistRow extends CidrEntryRow {
  source: string | null;
  action: Action;
  expires_at: Date | null;
}
