/**
 * The device enforces the deadline of each command itself: `timeout -k 2 N COMMAND`. When the
 * worker gives up on a command (its own timer), closing the SSH channel does not stop it, and
 * OpenSSH's sshd ignores the signal request: a stuck `nft -f` went on and ran its add after the
 * rule had been taken off again (seen in a fault review: the device blocked an address the
 * database called removed). N is below the worker's own timeout, so the command is dead
 * (SIGTERM, SIGKILL 2 s later) before the worker moves on. `timeout` goes before `sudo`, so
 * sudoers keeps naming only the firewall tools; sudo passes the SIGTERM on to the tool.
 * Linux only (coreutils or busybox `timeout`): the nftables, iptables and ipset adapters.
 */
import { withPrefix } from './prefix.ts';
import type { Transport } from './types.ts';

export const DEVICE_TIMEOUT_ADAPTERS: readonly string[] = ['nftables', 'iptables', 'ipset'];

/** `workerTimeoutMs`: the worker's own deadline for a command; the device's is 5 s shorter. */
export function withDeviceTimeout(inner: Transport, workerTimeoutMs: number): Transport {
  const secs = Math.max(1, Math.floor(workerTimeoutMs / 1000) - 5);
  return withPrefix(inner, ['timeout', '-k', '2', String(secs)], 'a device-side timeout');
}
