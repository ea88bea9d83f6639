/**
 * The sets of the nftables adapter: one per action, family, shape (which of destination,
 * protocol and port a rule carries) and source kind, so each rule is one element.
 *
 * Single source addresses go to hash sets, source networks to interval sets. Interval sets are
 * the slow path of nft 1.0.6: its userspace redoes overlap checks over the whole set for every
 * element deleted (measured in a namespace: add+delete of 100 elements took 0.1 s in a 2k set,
 * 10 s in a 20k set, 48 s in a 100k set, where a 100k hash set takes ~3 s for anything). Hosts
 * are the bulk of what a honeypot produces; networks (blacklists) are few. Elements of an
 * interval set only overlap when their networks nest, and partition.ts keeps them apart.
 */
import type { Action } from '../../lib/types.ts';
import type { Family } from '../../lib/ip.ts';
import { displayCidr } from '../../lib/ip.ts';
import { PROTO_NUMBER } from './protocols.ts';
import type { DeviceKey } from './types.ts';

export type Shape = '' | 'dst' | 'proto' | 'port' | 'dst_proto' | 'dst_port';
export const SHAPES: readonly Shape[] = ['', 'dst', 'proto', 'port', 'dst_proto', 'dst_port'];
const ACTIONS: readonly Action[] = ['DROP', 'REJECT'];
const FAMILIES: readonly Family[] = [4, 6];

export interface NftSet {
  name: string;
  action: Action;
  family: Family;
  shape: Shape;
  /** interval set of source networks (else a hash set of single source addresses) */
  net: boolean;
  /** nft type, e.g. `ipv4_addr . inet_proto . inet_service` */
  type: string;
  /** the packet expression looked up in the set */
  match: string;
}

function makeSet(action: Action, family: Family, net: boolean, shape: Shape): NftSet {
  const addr = family === 4 ? 'ipv4_addr' : 'ipv6_addr';
  const ip = family === 4 ? 'ip' : 'ip6';
  const withDst = shape.startsWith('dst');
  const withProto = shape !== '' && shape !== 'dst';
  const withPort = shape.endsWith('port');
  const type = [addr, withDst && addr, withProto && 'inet_proto', withPort && 'inet_service'].filter(Boolean).join(' . ');
  const match = [`${ip} saddr`, withDst && `${ip} daddr`, withProto && 'meta l4proto', withPort && 'th dport'].filter(Boolean).join(' . ');
  return { name: setName(action, family, net, shape), action, family, shape, net, type, match };
}

function setName(action: Action, family: Family, net: boolean, shape: Shape): string {
  return `${action.toLowerCase()}${family}${net ? '_net' : ''}${shape ? `_${shape}` : ''}`;
}

/** Every set, in render order. */
export const NFT_SETS: readonly NftSet[] = ACTIONS.flatMap((a) =>
  FAMILIES.flatMap((f) => [false, true].flatMap((net) => SHAPES.map((s) => makeSet(a, f, net, s)))),
);
const BY_NAME = new Map(NFT_SETS.map((s) => [s.name, s]));

export function setByName(name: string): NftSet | undefined {
  return BY_NAME.get(name);
}

export function shapeOf(k: DeviceKey): Shape {
  if (k.dst) return k.proto ? (k.dstPort !== undefined ? 'dst_port' : 'dst_proto') : 'dst';
  return k.proto ? (k.dstPort !== undefined ? 'port' : 'proto') : '';
}

export function setOf(k: DeviceKey): NftSet {
  return BY_NAME.get(setName(k.action, k.family, k.src.prefix < (k.family === 4 ? 32 : 128), shapeOf(k)))!;
}

/** Everything of an element after the source: ` . 192.0.2.1 . 6 . 80` ('' for plain sets). */
export function selectorText(k: DeviceKey): string {
  const parts: string[] = [];
  if (k.dst) parts.push(k.dst.address);
  if (k.proto) parts.push(String(PROTO_NUMBER[k.proto]));
  if (k.dstPort !== undefined) parts.push(String(k.dstPort));
  return parts.map((p) => ` . ${p}`).join('');
}

export function srcText(family: Family, address: string, prefix: number): string {
  return displayCidr({ family, address, prefix });
}
