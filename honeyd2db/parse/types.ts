/**
 * What the honeyd line parsers return. Every parser maps one line (without its `\n`) to exactly
 * one ParseResult and never throws: bad input becomes a `Rejected` with a reason, so a tailer can
 * count and keep going. Field names follow the SensorLog / Data columns (lib/types.ts) so the
 * ingest can map events to rows without renaming; addresses stay canonical text here (the ingest
 * turns them into INET6_ATON bytes).
 */

import type { OverlapState } from './time.ts';

/** How to read the times on a line. One context per sensor/file, passed explicitly. */
export interface ParseContext {
  /**
   * IANA zone the honeyd host ran in ('Europe/Paris', 'UTC'). `-l`/`-s` timestamps and syslog
   * stamps are local wall-clock time of that zone with no offset on the line.
   */
  tz: string;
  /** Year for syslog stamps, which carry none. Default: the current year in `tz`. */
  year?: number;
  /**
   * One file's reading of the hour a daylight-saving zone's clocks go back (see time.ts): given,
   * the second pass through that hour is told from the first. Per file: give each its own.
   */
  overlap?: OverlapState;
}

/** An instant in UTC, in the two forms the ingest needs. */
export interface Stamp {
  ts: Date;
  /** UTC as MySQL DATETIME(3) text: `YYYY-MM-DD HH:MM:SS.mmm` */
  ts_sql: string;
}

/** One `-l` line: a connection start (S), end (E) or a logged packet (-). */
export interface ConnEvent extends Stamp {
  type: 'conn';
  kind: 'start' | 'end' | 'probe';
  /** protocol name as printed: tcp, udp, icmp, or the /etc/protocols name (gre, sctp...), or 'unkn' */
  proto: string;
  proto_num: number;
  /** addresses in the order honeyd printed them (see `other_proto`), canonical text */
  src: string;
  dst: string;
  /** tcp/udp only */
  src_port: number | null;
  dst_port: number | null;
  /** icmp probe lines only (`SRC DST: TYPE(CODE): LEN`) */
  icmp_type: number | null;
  icmp_code: number | null;
  /** probe lines: IP packet length */
  length: number | null;
  /** tcp probe lines: flag letters in FSRPAUEC order; '' when honeyd printed the flags field empty */
  tcp_flags: string | null;
  /** passive OS fingerprint from ` [..]`, trailing space inside the brackets trimmed ('Linux 2.6') */
  os: string | null;
  /** honeyd's remark from ` {..}`: in stock honeyd only 'Honeyd Scanner?' */
  remark: string | null;
  /** end lines: payload bytes received from / sent to the remote side */
  bytes_in: number | null;
  bytes_out: number | null;
  /**
   * A protocol other than tcp/udp/icmp: honeyd printed only `SRC DST`, and because it swaps them
   * on stack garbage (log.c:78, honeyd.c:2620-2624) they are often reversed. The caller decides.
   */
  other_proto: boolean;
}

/** One `-s` line: a piece of what a service script wrote on stderr. */
export interface ServiceEvent extends Stamp {
  type: 'service';
  proto: string;
  proto_num: number;
  src: string;
  src_port: number;
  dst: string;
  dst_port: number;
  /** text between the first `: |` after the tuple and the last `|`; may contain `|` and `\r` */
  payload: string;
}

export type SyslogKind =
  /** `E(a:p - b:p): text`: a service script's stderr chunk (payload, unsplit) */
  | 'service-output'
  | 'conn-request'
  /** detail = the command, or null for the form without ` <-> command` */
  | 'conn-established'
  /** detail = 'attempted' (SYN set) | 'unknown' */
  | 'conn-killed'
  /** `Connection dropped by reset`: the remote side sent a RST */
  | 'conn-reset-received'
  /** `Connection dropped with reset`: honeyd answered with a RST */
  | 'conn-reset-sent'
  | 'conn-closed'
  | 'udp-closed-port'
  | 'udp-connection'
  /** `Expiring TCP/UDP (..) (0x..)`; number = TCP state */
  | 'expire'
  /** src = honeypot, dst = remote; detail = 'Echo' | 'Timestamp' | 'Address Mask' | 'Info' */
  | 'icmp-reply'
  /** number = soft error count */
  | 'port-unreachable'
  /** src = first address printed, dst = `tell` address, detail = MAC address if printed */
  | 'arp'
  /** detail = the command-line arguments */
  | 'started'
  /** detail = 'exiting' | 'rereading configuration' | 'rotating log files'; number = signal */
  | 'signal'
  /** number = uid */
  | 'privileges'
  /** any other honeyd message: only `message` is set */
  | 'other'
  /**
   * A `-d` stderr line without the `honeyd[PID]: ` prefix: either the continuation of a
   * multi-line message (a service chunk with embedded newlines stays one syslog message) or other
   * stderr output (warnings, wrapper scripts). Which one needs the previous line; the caller has it.
   */
  | 'unprefixed';

/** One syslog line (`Mon DD HH:MM:SS host honeyd[PID]: msg`) or `-d` stderr line (`honeyd[PID]: msg`). */
export interface SyslogEvent {
  type: 'syslog';
  kind: SyslogKind;
  /** null on stderr lines, which carry no time */
  ts: Date | null;
  ts_sql: string | null;
  host: string | null;
  pid: number | null;
  /** everything after `honeyd[PID]: ` (the whole line for 'unprefixed') */
  message: string;
  proto: 'tcp' | 'udp' | null;
  src: string | null;
  src_port: number | null;
  dst: string | null;
  dst_port: number | null;
  /** service-output only: the script's text */
  payload: string | null;
  detail: string | null;
  number: number | null;
}

export type ScriptKind =
  /** `connection from A:p to B:p` */
  | 'connection'
  /** mydoom `file upload attempt from A:p` */
  | 'upload-attempt'
  /** `file uploaded to PATH, N byte(s) written` (mydoom) / `..., size: N byte(s), SHA-1: H` (kuang2) */
  | 'file-uploaded'
  | 'upload-limit'
  /** mydoom `socks4 connect request: dst host: H, dst port: P` */
  | 'socks4-connect'
  /** detail = the hex command code */
  | 'socks4-command'
  /** detail = hex dump */
  | 'unknown-command'
  | 'unknown-upload-signature'
  /** number = seconds */
  | 'timeout'
  /** kuang2 `cmd received: K2_X, file: F[, size: N byte(s)]`: detail = K2_X, file_path = F */
  | 'k2-command'
  /** cmdexe `cmd: TEXT`: detail = what the attacker typed */
  | 'cmd'
  /** cmdexe `hex: ...`: detail = one hexdump line of non-printable input */
  | 'hex'
  | 'exiting'
  /** detail = text after `ERROR: ` */
  | 'error'
  /** detail = text after `DEBUG: ` */
  | 'debug'
  | 'other';

/** One line of the backdoor emulators' own logfile (mydoom.pl, kuang2.pl, cmdexe.pl). */
export interface ScriptEvent extends Stamp {
  type: 'script';
  kind: ScriptKind;
  /** the `%z` offset the script printed, in minutes east of UTC */
  utc_offset_min: number;
  /** program name as printed: mydoom.pl */
  script: string;
  pid: number;
  message: string;
  src: string | null;
  src_port: number | null;
  dst: string | null;
  dst_port: number | null;
  /** socks4-connect: the host/port the attacker asked the proxy for */
  target: string | null;
  target_port: number | null;
  /** file-uploaded: path on the sensor; k2-command: the attacker's file name (quotemeta undone) */
  file_path: string | null;
  bytes: number | null;
  sha1: string | null;
  detail: string | null;
  number: number | null;
}

export type ParsedEvent = ConnEvent | ServiceEvent | SyslogEvent | ScriptEvent;

/**
 * A line honeyd writes that carries no event: `honeyd log started ------` / `stopped` in -l and
 * -s files (at start, exit and every SIGUSR1 rotation), and the version banner on -d stderr.
 */
export interface Marker {
  type: 'marker';
  marker: 'log-started' | 'log-stopped' | 'banner';
  ts: Date | null;
  ts_sql: string | null;
}

/** A line that is fine but not ours: an empty line, another program's syslog line. */
export interface Skipped {
  type: 'skipped';
  reason: string;
}

export type RejectCode =
  | 'too-long'
  | 'binary'
  | 'malformed'
  | 'bad-address'
  | 'bad-number'
  | 'bad-time'
  | 'bad-zone'
  | 'non-stock';

/** A line the parser refuses; `reason` is meant for people, `code` for counters. */
export interface Rejected {
  type: 'rejected';
  code: RejectCode;
  reason: string;
}

export type ParseResult = ParsedEvent | Marker | Skipped | Rejected;

export function rejected(code: RejectCode, reason: string): Rejected {
  return { type: 'rejected', code, reason };
}

export function skipped(reason: string): Skipped {
  return { type: 'skipped', reason };
}
