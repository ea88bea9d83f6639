/** The device adapters by name (Device.adapter). */
import { InputError } from '../lib/errors.ts';
import type { Adapter } from './devices/types.ts';
import { nftables } from './devices/nftables.ts';

export const ADAPTER_NAMES = ['nftables', 'iptables', 'ipset', 'cisco-ios', 'pf', 'routeros'] as const;

const ADAPTERS: Record<string, Adapter> = { nftables };

export function adapterFor(name: string): Adapter {
  const a = ADAPTERS[name];
  if (!a) throw new InputError(`no adapter '${name}' in this version (available: ${Object.keys(ADAPTERS).join(', ')})`, 'E_ADAPTER');
  return a;
}

/** The command that shows the device's tool is there (`devices test`). */
export const TOOL_CHECK: Record<string, readonly string[]> = {
  nftables: ['nft', '--version'],
  iptables: ['iptables', '--version'],
  ipset: ['ipset', 'version'],
  pf: ['pfctl', '-s', 'info'],
};
