/**
 * The private logfile of honeyd's backdoor emulators (mydoom.pl, kuang2.pl, cmdexe.pl), written
 * by their own logentry():
 *
 *   printf LOG ("%s: %s[%d]: %s\n", strftime("%F %T %z", localtime), $program_name, $$, $msg)
 *   2006-10-08 04:53:40 +0000: mydoom.pl[31476]: connection from 217.159.217.218:45771 to 192.168.2.1:1080
 *
 * The line carries its own UTC offset, so no zone is needed. Messages are matched against the
 * sprintf formats of mydoom.pl 0.6, kuang2.pl 0.2 and cmdexe.pl 1.1 (honeyd 1.5c scripts/);
 * anything else is kind 'other'. This is not a hot path, so plain regexes are fine.
 */
import { canonicalIp } from '../../lib/ip.ts';
import { checkLine } from './guard.ts';
import { badCalendar, sqlUtc } from './time.ts';
import { rejected, skipped, type ParseContext, type Rejected, type ScriptEvent, type ScriptKind, type Skipped } from './types.ts';

const PREFIX = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d): ([^\s[\]]{1,64})\[(\d{1,10})\]: /;

const CONNECTION = /^connection from (\S+):(\d{1,5}) to (\S+):(\d{1,5})$/;
const UPLOAD_ATTEMPT = /^file upload attempt from (\S+):(\d{1,5})$/;
const SOCKS4_CONNECT = /^socks4 connect request: dst host: (\S+), dst port: (\d{1,5})$/;
const SOCKS4_COMMAND = /^socks4 command code: ([0-9A-F]{2,})$/;
const MYDOOM_UPLOADED = /^file uploaded to (.+), (\d{1,15}) byte\(s\) written$/;
const KUANG2_UPLOADED = /^file uploaded to (.+), size: (\d{1,15}) byte\(s\), SHA-1: ([0-9a-f]{40})$/;
const K2_COMMAND = /^cmd received: (K2_[A-Z_]+(?: \([A-Z]+\))?), (?:file|start): (.*?)(?:, size: (-?\d{1,15}) byte\(s\))?$/;
const TIMEOUT = /^timed out after (\d{1,10}) seconds$/;
const EXITING = /^(?:exiting|K2_QUIT received, exiting|forced exit of )/;

/** Simple `prefix: rest` messages whose rest is the detail. */
const DETAIL_MESSAGES: ReadonlyArray<readonly [string, ScriptKind]> = [
  ['unknown command: ', 'unknown-command'],
  ['unknown upload signature: ', 'unknown-upload-signature'],
  ['cmd: ', 'cmd'],
  ['hex: ', 'hex'],
  ['ERROR: ', 'error'],
  ['DEBUG: ', 'debug'],
];

export function parseScriptLog(line: string, _ctx?: ParseContext): ScriptEvent | Skipped | Rejected {
  const bad = checkLine(line);
  if (bad !== null) return bad;
  if (line.length === 0) return skipped('empty line');
  const p = PREFIX.exec(line);
  if (p === null) {
    return rejected(
      'malformed',
      "no 'YYYY-MM-DD HH:MM:SS +ZZZZ: script[pid]: ' prefix (a continuation of a multi-line ERROR message, or not a script log)",
    );
  }
  const [y, mo, d, h, mi, s] = [p[1], p[2], p[3], p[4], p[5], p[6]].map(Number) as [number, number, number, number, number, number];
  const badTime = badCalendar(y, mo, d, h, mi, s);
  if (badTime !== null) return rejected('bad-time', `invalid timestamp '${line.slice(0, 25)}': ${badTime}`);
  const oh = Number(p[8]);
  const om = Number(p[9]);
  if (oh > 23 || om > 59) return rejected('bad-time', `invalid UTC offset '${p[7]}${p[8]}${p[9]}'`);
  const offsetMin = (p[7] === '-' ? -1 : 1) * (oh * 60 + om);
  const utc = Date.UTC(y, mo - 1, d, h, mi, s) - offsetMin * 60_000;

  const e: ScriptEvent = {
    type: 'script', kind: 'other', ts: new Date(utc), ts_sql: sqlUtc(utc), utc_offset_min: offsetMin,
    script: p[10]!, pid: Number(p[11]), message: line.slice(p[0].length),
    src: null, src_port: null, dst: null, dst_port: null, target: null, target_port: null,
    file_path: null, bytes: null, sha1: null, detail: null, number: null,
  };
  return readMessage(e);
}

function readMessage(e: ScriptEvent): ScriptEvent | Rejected {
  const msg = e.message;
  let m: RegExpExecArray | null;
  if ((m = CONNECTION.exec(msg)) !== null) {
    e.kind = 'connection';
    return endpoint(e, m[1]!, m[2]!, 'src') ?? endpoint(e, m[3]!, m[4]!, 'dst') ?? e;
  }
  if ((m = UPLOAD_ATTEMPT.exec(msg)) !== null) {
    e.kind = 'upload-attempt';
    return endpoint(e, m[1]!, m[2]!, 'src') ?? e;
  }
  if ((m = SOCKS4_CONNECT.exec(msg)) !== null) {
    e.kind = 'socks4-connect';
    // joined from the request's 4 address bytes (mydoom.pl:236), so always a dotted quad
    const port = Number(m[2]);
    if (port > 65535) return rejected('bad-number', `socks4 port ${port} out of range (0-65535)`);
    const target = ip(m[1]!, 'socks4 target host');
    if (typeof target !== 'string') return target;
    e.target = target;
    e.target_port = port;
    return e;
  }
  if ((m = SOCKS4_COMMAND.exec(msg)) !== null) {
    e.kind = 'socks4-command';
    e.detail = m[1]!;
    return e;
  }
  if ((m = MYDOOM_UPLOADED.exec(msg) ?? KUANG2_UPLOADED.exec(msg)) !== null) {
    e.kind = 'file-uploaded';
    e.file_path = m[1]!;
    e.bytes = Number(m[2]);
    e.sha1 = m[3] ?? null;
    return e;
  }
  if ((m = K2_COMMAND.exec(msg)) !== null) {
    e.kind = 'k2-command';
    e.detail = m[1]!;
    // kuang2.pl logs the attacker's file name through quotemeta(): undo the backslashes
    e.file_path = m[2]!.replace(/\\(.)/g, '$1');
    e.bytes = m[3] === undefined ? null : Number(m[3]);
    return e;
  }
  if ((m = TIMEOUT.exec(msg)) !== null) {
    e.kind = 'timeout';
    e.number = Number(m[1]);
    return e;
  }
  if (msg === 'upload limit reached, exiting') {
    e.kind = 'upload-limit';
    return e;
  }
  if (EXITING.test(msg)) {
    e.kind = 'exiting';
    return e;
  }
  for (const [prefix, kind] of DETAIL_MESSAGES) {
    if (msg.startsWith(prefix)) {
      e.kind = kind;
      e.detail = msg.slice(prefix.length);
      return e;
    }
  }
  return e;
}

/** Fill src/dst and its port; a Rejected when either is invalid, else null. */
function endpoint(e: ScriptEvent, addr: string, port: string, which: 'src' | 'dst'): Rejected | null {
  const p = Number(port);
  if (p > 65535) return rejected('bad-number', `${which === 'src' ? 'source' : 'destination'} port ${p} out of range (0-65535)`);
  const a = ip(addr, which === 'src' ? 'source address' : 'destination address');
  if (typeof a !== 'string') return a;
  if (which === 'src') {
    e.src = a;
    e.src_port = p;
  } else {
    e.dst = a;
    e.dst_port = p;
  }
  return null;
}

function ip(text: string, what: string): string | Rejected {
  try {
    return canonicalIp(text, what);
  } catch {
    return rejected('bad-address', `${what} '${text.slice(0, 40)}' is not an IP address`);
  }
}
