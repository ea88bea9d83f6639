/**
 * Parsing `show ip access-lists <acl>` and `show ipv6 access-list <acl6>` back into keys. IOS
 * prints well-known ports by name (`eq www`) and IPv6 addresses in capitals; lines that are not
 * entries (headers, prompts, echoed commands) are skipped, permit entries too.
 */
import { IpmsError } from '../../lib/errors.ts';
import { parseCidr, type Family } from '../../lib/ip.ts';
import { sortedUnique } from './canonical.ts';
import { protoFromText } from './protocols.ts';
import type { StateEntry } from './types.ts';

/** The sequence number of the final permit (cisco-ios.ts renders it): the largest IOS takes. */
export const IOS_LAST_SEQ = 2147483647;

/**
 * IOS port names (tcp and udp keywords as `show access-lists` prints them; IOS-XE 16 added
 * msrpc, onep-plain, onep-tls and ripv6, after the port table of the cisco-acl library).
 */
const PORT_NAMES: Readonly<Record<string, number>> = Object.freeze({
  bgp: 179, biff: 512, bootpc: 68, bootps: 67, chargen: 19, cmd: 514, daytime: 13, discard: 9, dnsix: 195,
  domain: 53, drip: 3949, echo: 7, exec: 512, finger: 79, ftp: 21, 'ftp-data': 20, gopher: 70, hostname: 101, ident: 113,
  irc: 194, isakmp: 500, klogin: 543, kshell: 544, login: 513, lpd: 515, 'mobile-ip': 434, msrpc: 135, nameserver: 42,
  'netbios-dgm': 138, 'netbios-ns': 137, 'netbios-ss': 139, nntp: 119, 'non500-isakmp': 4500, ntp: 123,
  'onep-plain': 15001, 'onep-tls': 15002, 'pim-auto-rp': 496, pop2: 109, pop3: 110, rip: 520, ripv6: 521,
  smtp: 25, snmp: 161, snmptrap: 162, sunrpc: 111,
  syslog: 514, tacacs: 49, talk: 517, telnet: 23, tftp: 69, time: 37, uucp: 540, who: 513, whois: 43, www: 80,
  xdmcp: 177,
});

function bad(line: string, why: string): never {
  throw new IpmsError('E_DEVICE_STATE', `cisco-ios state: ${why} in '${line.trim().slice(0, 160)}'`);
}

function maskToPrefix(w: string, line: string): number {
  const n = w.split('.').reduce((acc, x) => acc * 256 + Number(x), 0);
  const host = n + 1;
  if ((host & n) !== 0 && n !== 0xffffffff) bad(line, `wildcard ${w} is not a prefix`);
  return 32 - Math.round(Math.log2(host));
}

function proto(word: string, family: Family, line: string): StateEntry['proto'] | 'any' {
  if (word === (family === 4 ? 'ip' : 'ipv6')) return 'any';
  if (word === 'ahp') return 'ah';
  if (family === 6 && word === 'icmp') return 'icmpv6';
  return protoFromText(word) ?? bad(line, `unknown protocol '${word}'`);
}

function entry(body: string, family: Family, id: number, line: string): StateEntry {
  const t = body.replace(/\(\d+ match(?:es)?\)/g, ' ').replace(/\blog\b/g, ' ').trim().split(/\s+/);
  const bits = family === 4 ? 32 : 128;
  let i = 0;
  const p = proto(t[i++] ?? '', family, line);
  const addr = (): { address: string; prefix: number } => {
    const w = t[i++];
    if (w === 'any') return { address: family === 4 ? '0.0.0.0' : '::', prefix: 0 };
    if (w === 'host') {
      const c = parseCidr(t[i++] ?? '');
      return { address: c.address, prefix: bits };
    }
    if (w && family === 6) {
      const c = parseCidr(w);
      return { address: c.address, prefix: c.prefix };
    }
    if (w && family === 4) {
      const prefix = maskToPrefix(t[i++] ?? '', line);
      const c = parseCidr(`${w}/${prefix}`);
      return { address: c.address, prefix };
    }
    return bad(line, 'missing address');
  };
  const src = addr();
  const dst = addr();
  if (dst.prefix !== 0 && dst.prefix !== bits) bad(line, 'destination is a network');
  let dstPort: number | undefined;
  if (t[i] === 'eq') {
    const w = t[i + 1] ?? '';
    dstPort = /^\d{1,5}$/.test(w) ? Number(w) : (PORT_NAMES[w] ?? bad(line, `unknown port name '${w}'`));
    i += 2;
  }
  if (i < t.length) bad(line, `unexpected '${t.slice(i).join(' ')}'`);
  if (src.address.includes(':') !== (family === 6)) bad(line, `not an IPv${family} source`);
  return {
    family,
    src,
    ...(dst.prefix === bits ? { dst: { address: dst.address } } : {}),
    ...(p !== 'any' ? { proto: p } : {}),
    ...(dstPort !== undefined ? { dstPort } : {}),
    action: 'DROP',
    id,
  };
}

/**
 * The final permit must be the last entry (sequence 2147483647). A release that does not keep
 * sequence numbers across a reload renumbers the list, and entries added after that land behind
 * the permit and match nothing: the state read says so, rather than report no drift.
 */
function finalPermit(seq: number, line: string): void {
  if (seq !== IOS_LAST_SEQ) {
    bad(line, `the final permit is entry ${seq}, not ${IOS_LAST_SEQ} (a reload renumbered the list?): entries added since may sit ` +
      `behind it; in the ACL enter 'no permit ... any any' and the permit again with sequence ${IOS_LAST_SEQ}`);
  }
}

export function iosParseState(outputs: readonly string[]): StateEntry[] {
  const out: StateEntry[] = [];
  // (an interactive IOS session ends its lines with CR LF)
  const lines = (i: number) => (outputs[i] ?? '').split(/\r?\n/).map((l) => l.replace(/\r+$/, ''));
  for (const family of [4, 6] as const) {
    let entries = 0;
    let permit = false;
    for (const line of lines(family === 4 ? 0 : 1)) {
      const m = family === 4
        ? /^\s*(\d+)\s+(deny|permit)\s+(.*)$/.exec(line)
        : /^\s*(deny|permit)\s+(.*?)\s+sequence\s+(\d+)\s*$/.exec(line);
      if (!m) continue;
      const [seq, verb, body] = family === 4 ? [m[1]!, m[2]!, m[3]!] : [m[3]!, m[1]!, m[2]!];
      entries++;
      if (verb === 'deny') out.push(entry(body, family, Number(seq), line));
      else if (new RegExp(`^${family === 4 ? 'ip' : 'ipv6'} any any\\b`).test(body)) {
        finalPermit(Number(seq), line);
        permit = true;
      }
    }
    // entries but no final permit (removed by hand): the list's implicit deny drops every
    // other packet on the interface; the state read says so rather than report no drift
    if (entries && !permit) {
      throw new IpmsError('E_DEVICE_STATE', `cisco-ios state: the IPv${family} list has no final '${family === 4 ? 'permit ip' : 'permit ipv6'} any any' ` +
        `(sequence ${IOS_LAST_SEQ}): its implicit deny drops all other traffic; enter it again in the ACL`);
    }
  }
  return sortedUnique(out);
}
