/** The device adapters by name (Device.adapter), and how `devices test` checks each tool. */
import { adapterFor } from './devices/index.ts';
import { iptablesOptions } from './devices/iptables.ts';
import { pfOptions } from './devices/pf.ts';
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

/** A look `devices test` takes once it may change the firewall, and what it finds wrong. */
export interface InUseCheck {
  step: ExecStep;
  /** `problem`: nothing ipms puts there would block (a failed test); `doubt`: maybe so */
  verdict(stdout: string): { problem?: string; doubt?: string };
}

/**
 * Whether what ipms puts on the device takes effect, where the tool can tell: pf must be
 * enabled, and its main ruleset must call ipms's anchor (pf.conf's line, added by hand; a
 * firewall distribution that writes pf.conf itself may drop it). Every step succeeds and
 * reconcile finds no drift on a pf that does neither, while nothing is blocked. (The anchor
 * may be called from another anchor instead: only a doubt, then.)
 */
export function inUseChecks(adapter: string, opts: DeviceOptions): InUseCheck[] {
  if (adapter !== 'pf') return [];
  const { anchor } = pfOptions(opts);
  return [
    {
      step: { argv: ['pfctl', '-s', 'info'] },
      verdict: (out) => (/^\s*Status: Disabled/m.test(out) ? { problem: 'pf is disabled (pfctl -e, and pf_enable="YES" where the system keeps it): nothing ipms puts there blocks' } : {}),
    },
    {
      step: { argv: ['pfctl', '-s', 'rules'] },
      verdict: (out) => (out.split('\n').some((l) => l.trim().startsWith(`anchor "${anchor}"`))
        ? {}
        : { doubt: `pf's main ruleset does not call anchor "${anchor}" (pfctl -s rules): unless another anchor calls it, nothing ipms puts there blocks; add the line below to pf.conf` }),
    },
  ];
}
