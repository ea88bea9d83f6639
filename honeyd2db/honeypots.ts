/**
 * The sensor's honeypot addresses: `bind` lines of honeyd.conf and --honeypot-net ranges (the
 * `net` argument honeyd was started with). Only traffic to one of them is a hit. Asked once per
 * line, so exact addresses sit in a Set and IPv4 ranges are compared as integers.
 */
import { parseCidr, type Cidr } from '../lib/ip.ts';

interface Range4 {
  first: number;
  last: number;
}

/** Dotted quad to uint32, or -1 when it is not one (IPv6 text). */
export function ipv4ToInt(ip: string): number {
  let v = 0;
  let part = 0;
  let dots = 0;
  let digits = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return -1;
      v = v * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + c - 48;
      digits++;
      if (part > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return v * 256 + part;
}

/**
 * Not a single host: multicast (224/4), the reserved 240/4 and the limited broadcast
 * 255.255.255.255, "this network" 0/8, IPv6 multicast. Never a hit, whatever the configuration:
 * such packets reach every host of the LAN, the honeypot only overhears them.
 */
export function isNonUnicast(ip: string): boolean {
  const v = ipv4ToInt(ip);
  if (v >= 0) return v >= 0xe0000000 || v < 0x01000000;
  return ip.toLowerCase().startsWith('ff');
}

export class Honeypots {
  private readonly exact = new Set<string>();
  private readonly ranges4: Range4[] = [];
  private readonly ranges6: Cidr[] = [];
  /** canonical text of what was given, for messages */
  readonly described: string[] = [];
  /** the --honeypot-net ranges (registered as honeypot addresses: see recordHoneypotNets) */
  readonly nets: Cidr[] = [];

  constructor(addresses: readonly string[], nets: readonly string[]) {
    for (const a of addresses) {
      this.exact.add(a);
      this.described.push(a);
    }
    for (const text of nets) {
      const c = parseCidr(text, '--honeypot-net');
      this.described.push(c.text);
      this.nets.push(c);
      if (c.family === 6) {
        this.ranges6.push(c);
        continue;
      }
      let first = c.first.readUInt32BE(0);
      let last = c.last.readUInt32BE(0);
      // the network and broadcast addresses of a honeyd net are not honeypots (a /31 or /32 has none)
      if (c.prefix <= 30) {
        first++;
        last--;
      }
      this.ranges4.push({ first, last });
    }
  }

  /** Were any honeypot addresses given? Without them every destination counts. */
  get known(): boolean {
    return this.described.length > 0;
  }

  has(ip: string): boolean {
    if (this.exact.has(ip)) return true;
    if (this.ranges4.length > 0) {
      const v = ipv4ToInt(ip);
      if (v >= 0) {
        for (const r of this.ranges4) if (v >= r.first && v <= r.last) return true;
        return false;
      }
    }
    if (this.ranges6.length > 0 && ip.includes(':')) {
      for (const r of this.ranges6) {
        const c = parseCidr(`${ip}/128`, 'address');
        if (Buffer.compare(r.first, c.first) <= 0 && Buffer.compare(c.first, r.last) <= 0) return true;
      }
    }
    return false;
  }
}
