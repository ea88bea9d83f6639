/**
 * The messages honeyd sends to syslog (openlog("honeyd", LOG_PERROR|LOG_PID|LOG_CONS)), read
 * into a kind and the tuple they carry. Format strings from honeyd 1.5c/1.6a/1.6d honeyd.c and
 * arp.c; `(%s:%d - %s:%d)` is honeyd_contoa() (util.c:374-406). Messages we do not know become
 * kind 'other' with only the text: honeyd has many rare ones and none of them is an error.
 */
import { Scanner } from './scan.ts';
import { rejected, type Rejected, type SyslogKind } from './types.ts';

/** What a message carries besides its text. */
export interface MessageFields {
  kind: SyslogKind;
  proto: 'tcp' | 'udp' | null;
  src: string | null;
  src_port: number | null;
  dst: string | null;
  dst_port: number | null;
  payload: string | null;
  detail: string | null;
  number: number | null;
}

/**
 * `YYYY-MM-DD:HH-MM-SS:tcp(6):START:...` is what a patched honeyd (p0f "genre" logging) sends
 * to syslog. No stock source tree has it, so we refuse it instead of guessing its fields.
 */
export const NON_STOCK_MESSAGE = /^\d{4}-\d\d-\d\d:\d\d-\d\d-\d\d:[^:]*\(\d+\):(?:START|END|PROBE):/;

// Messages whose whole content is one tuple after a fixed text.
const TUPLE_MESSAGES: ReadonlyArray<readonly [string, SyslogKind, 'tcp' | 'udp', string | null]> = [
  ['Connection request: tcp ', 'conn-request', 'tcp', null],
  ['Killing attempted connection: tcp ', 'conn-killed', 'tcp', 'attempted'],
  ['Killing unknown connection: tcp ', 'conn-killed', 'tcp', 'unknown'],
  ['Connection dropped by reset: tcp ', 'conn-reset-received', 'tcp', null],
  ['Connection dropped with reset: tcp ', 'conn-reset-sent', 'tcp', null],
  ['Connection closed: tcp ', 'conn-closed', 'tcp', null],
  ['Connection to closed port: udp ', 'udp-closed-port', 'udp', null],
  ['Connection: udp ', 'udp-connection', 'udp', null],
];

const ICMP_REPLY = /^Sending ICMP (Echo|Timestamp|Address Mask|Info) Reply: /;
const SIGNAL = /^(exiting|rereading configuration|rotating log files) on signal (\d{1,3})$/;
const PRIVILEGES = /^Demoting process privileges to uid (\d{1,10}), gid \d{1,10}$/;

/**
 * Read the message that starts at `start`. `end` excludes a tolerated trailing \r for the
 * structured messages; a service chunk keeps everything up to `full` (its text may end in \r).
 */
export function readMessage(line: string, start: number, end: number, full: number): MessageFields | Rejected {
  const f: MessageFields = {
    kind: 'other', proto: null, src: null, src_port: null, dst: null, dst_port: null, payload: null, detail: null, number: null,
  };
  const sc = new Scanner(line, end, start);

  if (sc.maybe('E(')) {
    sc.pos--;
    if (!tuple(sc, f) || !sc.lit(': ', "': ' after the connection")) return sc.err!;
    f.kind = 'service-output';
    f.payload = line.slice(sc.pos, full);
    return f;
  }
  for (const [text, kind, proto, detail] of TUPLE_MESSAGES) {
    if (sc.maybe(text)) {
      if (!tuple(sc, f) || !sc.expectEnd()) return sc.err!;
      f.kind = kind;
      f.proto = proto;
      f.detail = detail;
      return f;
    }
  }
  if (sc.maybe('Connection established: ')) {
    f.proto = sc.maybe('tcp ') ? 'tcp' : sc.maybe('udp ') ? 'udp' : null;
    if (f.proto === null) {
      sc.fail('malformed', "expected 'tcp ' or 'udp '");
      return sc.err!;
    }
    if (!tuple(sc, f)) return sc.err!;
    f.kind = 'conn-established';
    if (sc.maybe(' <-> ')) {
      f.detail = sc.rest();
      return f;
    }
    return sc.expectEnd() ? f : sc.err!;
  }
  if (sc.maybe('Expiring TCP ') || sc.maybe('Expiring UDP ')) {
    f.proto = line.charCodeAt(start + 9) === 84 ? 'tcp' : 'udp';
    if (!tuple(sc, f) || !sc.lit(' (', "' (' and the connection pointer")) return sc.err!;
    // %p: glibc prints a null pointer as '(nil)'
    const close = sc.maybe('(nil))') ? sc.pos - 1 : line.indexOf(')', sc.pos);
    if (close < 0 || close >= end) {
      sc.fail('malformed', "no ')' after the connection pointer (truncated?)");
      return sc.err!;
    }
    sc.pos = close + 1;
    if (f.proto === 'tcp' && sc.maybe(' in state ')) {
      f.number = sc.uint(255, 'TCP state');
      if (f.number < 0) return sc.err!;
    }
    if (!sc.expectEnd()) return sc.err!;
    f.kind = 'expire';
    return f;
  }
  const message = line.slice(start, end);
  const icmp = ICMP_REPLY.exec(message);
  if (icmp !== null) {
    sc.pos = start + icmp[0].length;
    if (!pair(sc, f, ' -> ') || !sc.expectEnd()) return sc.err!;
    f.kind = 'icmp-reply';
    f.detail = icmp[1]!;
    return f;
  }
  if (sc.maybe('Received port unreachable: ')) {
    if (!pair(sc, f, ' -> ') || !sc.lit(': errors ')) return sc.err!;
    f.number = sc.uint(1_000_000, 'error count');
    if (f.number < 0 || !sc.expectEnd()) return sc.err!;
    f.kind = 'port-unreachable';
    return f;
  }
  if (sc.maybe('arp reply ') || sc.maybe('arp_recv_cb: ')) {
    const sep = line.startsWith('arp reply ', start) ? ' is-at ' : ' at ';
    f.src = sc.ipv4('address');
    if (f.src === null || !sc.lit(sep)) return sc.err!;
    f.kind = 'arp';
    f.detail = sc.rest();
    return f;
  }
  if (sc.maybe('arp_send: who-has ')) {
    if (!pair(sc, f, ' tell ') || !sc.expectEnd()) return sc.err!;
    f.kind = 'arp';
    return f;
  }
  if (sc.maybe('started with ')) {
    f.kind = 'started';
    f.detail = sc.rest();
    return f;
  }
  const sig = SIGNAL.exec(message);
  if (sig !== null) {
    f.kind = 'signal';
    f.detail = sig[1]!;
    f.number = Number(sig[2]);
    return f;
  }
  const priv = PRIVILEGES.exec(message);
  if (priv !== null) {
    f.kind = 'privileges';
    f.number = Number(priv[1]);
    return f;
  }
  if (NON_STOCK_MESSAGE.test(message)) {
    return rejected(
      'non-stock',
      "non-stock honeyd variant: 'YYYY-MM-DD:HH-MM-SS:proto:START|END|PROBE:...' messages come from a patched honeyd " +
        '(p0f genre logging), not from stock honeyd 1.5c/1.6a/1.6d; use its -l log instead',
    );
  }
  return f;
}

/** `(SRC:SPORT - DST:DPORT)`: honeyd_contoa(). */
function tuple(sc: Scanner, f: MessageFields): boolean {
  if (!sc.lit('(', "'(' opening the connection")) return false;
  f.src = sc.ipv4('source address');
  if (f.src === null || !sc.lit(':')) return false;
  f.src_port = sc.uint(65535, 'source port');
  if (f.src_port < 0 || !sc.lit(' - ')) return false;
  f.dst = sc.ipv4('destination address');
  if (f.dst === null || !sc.lit(':')) return false;
  f.dst_port = sc.uint(65535, 'destination port');
  return f.dst_port >= 0 && sc.lit(')', "')' closing the connection");
}

/** `A<sep>B`: two addresses. */
function pair(sc: Scanner, f: MessageFields, sep: string): boolean {
  f.src = sc.ipv4('first address');
  if (f.src === null || !sc.lit(sep)) return false;
  f.dst = sc.ipv4('second address');
  return f.dst !== null;
}
