/**
 * Reading a Device row's options (JSON) for one adapter: unknown keys are refused (a typo must
 * not silently fall back to a default), names must pass checkName, numbers their ranges.
 */
import { InputError } from '../../lib/errors.ts';
import { checkName } from './canonical.ts';
import type { DeviceOptions } from './types.ts';

export class OptionReader {
  private readonly o: DeviceOptions;
  constructor(
    private readonly adapter: string,
    raw: DeviceOptions | undefined,
    allowed: readonly string[],
  ) {
    this.o = raw ?? {};
    if (typeof this.o !== 'object' || this.o === null || Array.isArray(this.o)) {
      throw new InputError(`${adapter} options must be a JSON object`, 'E_DEVICE_OPTION');
    }
    for (const k of Object.keys(this.o)) {
      if (!allowed.includes(k)) throw new InputError(`${adapter} options: unknown key '${k.slice(0, 40)}' (known: ${allowed.join(', ')})`, 'E_DEVICE_OPTION');
    }
  }

  name(key: string, def: string, maxLen = 31): string {
    return checkName(this.o[key] ?? def, `${this.adapter} option ${key}`, maxLen);
  }

  names(key: string, def: readonly string[]): string[] {
    const raw = this.o[key] ?? def;
    // (a list, or from the CLI's --option key=a,b the names with commas between)
    const v = typeof raw === 'string' ? raw.split(',') : raw;
    if (!Array.isArray(v) || v.length === 0) throw new InputError(`${this.adapter} option ${key}: a non-empty list of names`, 'E_DEVICE_OPTION');
    return [...new Set(v.map((x) => checkName(x, `${this.adapter} option ${key}`)))];
  }

  int(key: string, def: number, min: number, max: number): number {
    const v = this.o[key] ?? def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new InputError(`${this.adapter} option ${key}: an integer ${min}-${max}`, 'E_DEVICE_OPTION');
    }
    return v;
  }

  bool(key: string, def: boolean): boolean {
    const v = this.o[key] ?? def;
    if (typeof v !== 'boolean') throw new InputError(`${this.adapter} option ${key}: true or false`, 'E_DEVICE_OPTION');
    return v;
  }

  choice<T extends string>(key: string, def: T, choices: readonly T[]): T {
    const v = this.o[key] ?? def;
    const hit = choices.find((c) => c === v);
    if (hit === undefined) throw new InputError(`${this.adapter} option ${key}: one of ${choices.join(', ')}`, 'E_DEVICE_OPTION');
    return hit;
  }
}

/** `1d2h3m4s` (zero parts left out): nft's parser refuses 9-digit second counts, days are fine. */
export function compactDuration(s: number): string {
  const parts: [number, string][] = [
    [Math.floor(s / 86400), 'd'],
    [Math.floor((s % 86400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ];
  const text = parts.filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`).join('');
  return text || '0s';
}

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
