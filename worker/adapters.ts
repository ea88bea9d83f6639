/** The device adapters by name (Device.adapter), and how `devices test` checks each tool. */
import { adapterFor } from './devices/index.ts';
import { iptablesOptions } from './devices/iptables.ts';
import type { DeviceOptions, ExecStep } from './devices/types.ts';
import { XT_WAIT, xtCommands } from './devices/xtables.ts';

export { adapterFor, ADAPTERS } from './devices/index.ts';

export const ADAPTER_NAMES = ['nftables', 'iptables', 'ipset', 'cisco-ios', 'pf', 'routeros'] as const;

/** The command that shows the device's tool is there (`devices test`); CLI devices need none. */
export const TOOL_CHECK: Record<string, readonly string[]> = {
  nftables: ['nft', '--version'],
  iptables: ['iptables', '--version'],
  ipset: ['ipset', 'version'],
  pf: ['pfctl', '-s', 'info'],
};

/**
 * A read that needs the rights the batches need (root, or the sudoers line): `--version` runs
 * as anyone, so a device whose login lacks them passed `devices test` and failed its first
 * batch. The adapter's look for its own objects where it has one, else the chain it hooks.
 * (IOS and RouterOS logins are given their rights on the device: their look is CLI lines, not
 * a command, and no such check.)
 */
export function privilegedCheck(adapter: string, opts: DeviceOptions): ExecStep | undefined {
  const a = adapterFor(adapter);
  const look = a.lostCheck?.(opts).step;
  if (look && 'argv' in look) return look;
  if (adapter === 'iptables') {
    const o = iptablesOptions(opts);
    return { argv: [xtCommands(o.backend, 4).tables, ...XT_WAIT, '-S', o.hooks[0] ?? 'INPUT'] };
  }
  return undefined;
}
