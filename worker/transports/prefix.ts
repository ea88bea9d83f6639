/**
 * A transport whose every command, and every `unless` check, runs behind a fixed prefix
 * (`sudo -n --`, `timeout -k 2 N`). Device CLI sessions cannot take one: refused. The session
 * keeps everything else the inner one has (its peer addresses).
 */
import type { Step } from '../devices/types.ts';
import { TransportError, type Session, type Transport } from './types.ts';

export function withPrefix(inner: Transport, prefix: readonly string[], what: string): Transport {
  const wrap = (step: Step): Step => {
    if (!('argv' in step)) throw new TransportError('E_STEP', `${what} applies to commands, not to device CLI sessions`);
    return { ...step, argv: [...prefix, ...step.argv], ...(step.unless ? { unless: [...prefix, ...step.unless] } : {}) };
  };
  return {
    name: inner.name,
    async open(): Promise<Session> {
      const s = await inner.open();
      return { ...s, run: async (steps) => s.run(steps.map(wrap)), close: () => s.close() };
    },
  };
}
