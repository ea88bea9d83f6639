/**
 * For a device whose login is an unprivileged user: every command (and every `unless` check)
 * runs as `sudo -n -- COMMAND ...`. -n: fail at once instead of waiting for a password prompt
 * no one will answer. The device's sudoers names the firewall tools the user may run as root.
 */
import { withPrefix } from './prefix.ts';
import type { Transport } from './types.ts';

export function withSudo(inner: Transport): Transport {
  const t = withPrefix(inner, ['sudo', '-n', '--'], 'sudo');
  return { ...t, name: `${inner.name}+sudo` };
}
