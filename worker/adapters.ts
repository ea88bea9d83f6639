/** The device adapters by name (Device.adapter), and how `devices test` checks each tool. */
export { adapterFor, ADAPTERS } from './devices/index.ts';

export const ADAPTER_NAMES = ['nftables', 'iptables', 'ipset', 'cisco-ios', 'pf', 'routeros'] as const;

/** The command that shows the device's tool is there (`devices test`); CLI devices need none. */
export const TOOL_CHECK: Record<string, readonly string[]> = {
  nftables: ['nft', '--version'],
  iptables: ['iptables', '--version'],
  ipset: ['ipset', 'version'],
  pf: ['pfctl', '-s', 'info'],
};
