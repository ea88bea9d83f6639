/**
 * The device adapters by name (Device.adapter). Everything the worker needs from
 * worker/devices is exported here.
 */
import { NotFoundError } from '../../lib/errors.ts';
import { ciscoIos } from './cisco-ios.ts';
import { ipset } from './ipset.ts';
import { iptables } from './iptables.ts';
import { nftables } from './nftables.ts';
import { pf } from './pf.ts';
import { routeros } from './routeros.ts';
import type { Adapter } from './types.ts';

export const ADAPTERS: Readonly<Record<string, Adapter>> = Object.freeze({
  nftables,
  iptables,
  ipset,
  'cisco-ios': ciscoIos,
  pf,
  routeros,
});

export function adapterFor(name: string): Adapter {
  const a = Object.hasOwn(ADAPTERS, name) ? ADAPTERS[name] : undefined;
  if (!a) throw new NotFoundError(`no device adapter '${name.slice(0, 40)}' (known: ${Object.keys(ADAPTERS).join(', ')})`, 'E_ADAPTER');
  return a;
}

export { toDeviceRule, keyOf, keyText, MAX_EXPIRES_S, NAME_RE, type ProtectedRange, type RuleInput, type ToDeviceRuleOptions } from './canonical.ts';
export { formatPlan } from './format.ts';
export type * from './types.ts';
