/** Validation of command-line values: each bad value is a one-line InputError naming the argument. */
import { InputError } from '../lib/errors.ts';
import { canonicalIp, ipToBytes, parseCidr, type Cidr } from '../lib/ip.ts';
import { RULE_PROTOCOLS, type Action, type RuleProto } from '../lib/types.ts';

export function oneOf<T extends string>(value: string, allowed: readonly T[], what: string): T {
  const v = value.trim();
  const hit = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
  if (!hit) throw new InputError(`${what}: '${value}' is not one of ${allowed.join(', ')}`);
  return hit;
}

/** Comma-separated or repeated values, each one of `allowed`. */
export function listOf<T extends string>(values: string | string[] | undefined, allowed: readonly T[], what: string): T[] | undefined {
  if (values === undefined) return undefined;
  const parts = (Array.isArray(values) ? values : [values]).flatMap((v) => v.split(',')).filter(Boolean);
  return parts.map((p) => oneOf(p, allowed, what));
}

export function cidrArg(text: string, what = 'CIDR'): Cidr {
  return parseCidr(text, what);
}

export function ipArg(text: string, what = 'address'): { text: string; bytes: Buffer } {
  return { text: canonicalIp(text, what), bytes: ipToBytes(text, what) };
}

export function portArg(text: string, what = '--dst-port'): number {
  if (!/^\d{1,5}$/.test(text.trim()) || Number(text) < 1 || Number(text) > 65535) {
    throw new InputError(`${what}: '${text}' is not a port (1-65535)`);
  }
  return Number(text);
}

export function protoArg(text: string, what = '--proto'): RuleProto {
  return oneOf(text.toLowerCase(), RULE_PROTOCOLS, what);
}

export function actionArg(text: string, what = '--action'): Action {
  return oneOf(text.toUpperCase(), ['DROP', 'REJECT'] as const, what);
}

export function intArg(text: string, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d{1,15}$/.test(text.trim()) || Number(text) < min || Number(text) > max) {
    throw new InputError(`${what}: '${text}' is not a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

/** Names of sensors, devices, thresholds: what may appear in a table cell or a device option. */
export function nameArg(text: string, what = 'NAME'): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(text)) {
    throw new InputError(`${what}: '${text}' must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return text;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
