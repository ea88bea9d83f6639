/**
 * For a device whose login is an unprivileged user: every command (and every `unless` check)
 * runs as `sudo -n -- COMMAND ...`. -n: fail at once instead of waiting for a password prompt
 * no one will answer. The device's sudoers names the firewall tools the user may run as root.
 */
import type { Step } from '../devices/types.ts';
import { TransportError, type Session, type Transport } from './types.ts';

const SUDO = ['sudo', '-n', '--'] as const;

function elevate(step: Step): Step {
  if (!('argv' in step)) throw new TransportError('E_STEP', 'sudo applies to commands, not to device CLI sessions');
  return { ...step, argv: [...SUDO, ...step.argv], ...(step.unless ? { unless: [...SUDO, ...step.unless] } : {}) };
}

export function withSudo(inner: Transport): Transport {
  return {
    name: `${inner.name}+sudo`,
    async open(): Promise<Session> {
      const s = await inner.open();
      return {
        run: async (steps) => s.run(steps.map(elevate)),
        close: () => s.close(),
      };
    },
  };
}
