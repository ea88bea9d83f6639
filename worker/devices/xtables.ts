/**
 * What the iptables and ipset adapters share: the command names of each iptables flavour and
 * the "hook once" step (check with -C, insert only when missing) done without a shell.
 */
import type { Family } from '../../lib/ip.ts';
import type { ExecStep } from './types.ts';

export type XtBackend = 'auto' | 'legacy' | 'nft';
export const XT_BACKENDS: readonly XtBackend[] = ['auto', 'legacy', 'nft'];

export interface XtCommands {
  tables: string;
  restore: string;
}

/** auto = whatever `iptables` is on the device (usually iptables-nft on current distributions). */
export function xtCommands(backend: XtBackend, family: Family): XtCommands {
  const base = family === 4 ? 'iptables' : 'ip6tables';
  const suffix = backend === 'auto' ? '' : `-${backend}`;
  return { tables: `${base}${suffix}`, restore: `${base}${suffix}-restore` };
}

/** -w: wait for the xtables lock (legacy backend) instead of failing at once; bounded. */
export const XT_WAIT = ['-w', '10'] as const;

/**
 * Insert `ruleArgs` at the top of `hook` unless an identical rule is there. `-C` exits 0 when the
 * rule exists, 1 when it does not, 2 on a usage error (e.g. the target chain is missing).
 */
export function hookStep(cmd: string, hook: string, ruleArgs: readonly string[]): ExecStep {
  return {
    argv: [cmd, ...XT_WAIT, '-I', hook, '1', ...ruleArgs],
    unless: [cmd, ...XT_WAIT, '-C', hook, ...ruleArgs],
  };
}

/**
 * The inverse of hookStep: delete the rule from `hook`. Nothing to delete is no failure:
 * iptables exits 1 for a missing rule or chain, 2 for a rule whose target chain or set is gone.
 */
export function unhookStep(cmd: string, hook: string, ruleArgs: readonly string[]): ExecStep {
  return { argv: [cmd, ...XT_WAIT, '-D', hook, ...ruleArgs], okExit: [0, 1, 2] };
}

export function rejectWith(family: Family): string[] {
  return ['--reject-with', family === 4 ? 'icmp-admin-prohibited' : 'icmp6-adm-prohibited'];
}
