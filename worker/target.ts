/** From a Device row to a transport and an adapter. */
import { InputError } from '../lib/errors.ts';
import { canonicalIp, looksLikeAddress } from '../lib/ip.ts';
import type { DeviceRow } from '../lib/types.ts';
import type { Adapter, DeviceOptions } from './devices/types.ts';
import { dryRunTransport } from './transports/dryrun.ts';
import { localTransport } from './transports/local.ts';
import { DEVICE_TIMEOUT_ADAPTERS, withDeviceTimeout } from './transports/device-timeout.ts';
import { sshTransport } from './transports/ssh.ts';
import { withSudo } from './transports/sudo.ts';
import type { Transport } from './transports/types.ts';

export const TRANSPORTS = ['ssh', 'local', 'dry-run'] as const;

export interface TransportDeps {
  /** where dry-run prints */
  print: (text: string) => void;
  timeoutMs?: number;
}

export function transportFor(d: DeviceRow, deps: TransportDeps): Transport {
  const t = baseTransport(d, deps);
  return d.sudo ? withSudo(t) : t;
}

function baseTransport(d: DeviceRow, deps: TransportDeps): Transport {
  switch (d.transport) {
    case 'ssh': {
      // (the database refuses such text since schema 0018; a row from before may hold it: an
      // address the protected-address checks read one way and the SSH resolver another)
      if (looksLikeAddress(d.host)) {
        try {
          canonicalIp(d.host);
        } catch {
          throw new InputError(`device ${d.name}: host '${d.host}' is not an IP address in standard form (a leading zero is octal to some tools): ` +
            `ipms devices set ${d.name} --host ADDRESS`);
        }
      }
      const timeoutMs = deps.timeoutMs ?? 30_000;
      const ssh = sshTransport({
        name: d.name, host: d.host, port: d.port, username: loginName(d), keyRef: d.key_ref, hostKey: d.host_key, timeoutMs,
      });
      // (inside sudo's wrapper: `timeout ... sudo -n -- nft ...`)
      return DEVICE_TIMEOUT_ADAPTERS.includes(d.adapter) ? withDeviceTimeout(ssh, timeoutMs) : ssh;
    }
    case 'local':
      return localTransport(deps.timeoutMs ?? 60_000);
    case 'dry-run':
      return dryRunTransport(d.name, deps.print);
    default:
      throw new InputError(`device ${d.name}: unknown transport '${d.transport}' (${TRANSPORTS.join(', ')})`);
  }
}

export function deviceOptions(d: Pick<DeviceRow, 'name' | 'options'>): DeviceOptions {
  if (!d.options) return {};
  try {
    const o = JSON.parse(d.options) as unknown;
    if (o && typeof o === 'object' && !Array.isArray(o)) return o as DeviceOptions;
  } catch {
    // fall through
  }
  throw new InputError(`device ${d.name}: options is not a JSON object`);
}

export type AdapterLookup = (name: string) => Adapter;

/**
 * RouterOS takes console options after a '+' in the login name (its manual, "Console login
 * options"): no colours (`c`), no terminal detection (`t`), and a terminal wide and tall enough
 * (`511w4098h`) that long lines are not wrapped: what the worker reads back, errors included,
 * comes as plain lines. A name that already carries options is left as the admin wrote it.
 */
export function loginName(d: Pick<DeviceRow, 'adapter' | 'username'>): string | null {
  if (d.adapter !== 'routeros' || !d.username || d.username.includes('+')) return d.username;
  return `${d.username}+ct511w4098h`;
}
