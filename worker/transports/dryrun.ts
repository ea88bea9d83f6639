/** Prints exactly what would be sent, and sends nothing. */
import type { Step } from '../devices/types.ts';
import { shellQuote } from './quote.ts';
import type { Session, StepResult, Transport } from './types.ts';

export function describeStep(step: Step): string {
  if ('session' in step) return step.session.join('\n');
  const lines = [`${step.unless ? `unless ${shellQuote(step.unless)}: ` : ''}${shellQuote(step.argv)}`];
  if (step.stdin !== undefined) lines.push(...step.stdin.replace(/\n$/, '').split('\n').map((l) => `  | ${l}`));
  return lines.join('\n');
}

export function dryRunTransport(device: string, print: (text: string) => void): Transport {
  return {
    name: 'dry-run',
    async open(): Promise<Session> {
      return {
        async run(steps): Promise<StepResult[]> {
          for (const s of steps) print(`[dry-run ${device}] ${describeStep(s)}`);
          return steps.map(() => ({ stdout: '', stderr: '', code: 0 }));
        },
        async close() {},
      };
    },
  };
}
