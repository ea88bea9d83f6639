/**
 * MikroTik RouterOS: firewall address lists `ipms` (dropped in the raw table, before connection
 * tracking) and `ipms-reject` (rejected in filter input and forward), under `/ip` and `/ipv6`.
 * Output is CLI lines (SessionStep), typed into an interactive SSH shell (the SSH transport's
 * one way for session steps): a failing line does not stop the lines after it, and the step
 * fails when the output holds an error line (see sessionError); a retry of the batch is
 * harmless, every line being idempotent as written. An add replaces the entry (`remove
 * [find ...]`, then `add`): adding an address that is on the list is an error ("already have
 * such entry"), removing nothing is not, and the pair refreshes the timeout; the pair runs only
 * when the add fails, and a rule the device never held is a plain add (see render).
 * `find address=` compares the text RouterOS stores, which drops the /32 of an IPv4 host, so
 * hosts are written without it. Source addresses only.
 * There is no RouterOS here: the tests are golden text only.
 */
import { InputError, IpmsError, RefusedError } from '../../lib/errors.ts';
import { parseCidr, type Family } from '../../lib/ip.ts';
import type { Action } from '../../lib/types.ts';
import { assertDeviceRules, keyText, notWanted, sortedUnique } from './canonical.ts';
import { compactDuration, OptionReader } from './options.ts';
import type { Adapter, Batch, DeviceKey, DeviceOptions, DeviceRule, Plan, RenderCall, SessionStep, StateEntry } from './types.ts';

/** Timeouts longer than this are left off (the worker removes the rule): a conservative bound. */
export const ROUTEROS_MAX_TIMEOUT_S = 2147483;

export interface RouterOsOptions {
  list: string;
  ipv6: boolean;
}

export function routerOsOptions(raw?: DeviceOptions): RouterOsOptions {
  const r = new OptionReader('routeros', raw, ['list', 'ipv6']);
  return { list: r.name('list', 'ipms', 24), ipv6: r.bool('ipv6', true) };
}

function menu(f: Family): string {
  return f === 4 ? '/ip firewall' : '/ipv6 firewall';
}

function listOf(o: RouterOsOptions, a: Action): string {
  return a === 'DROP' ? o.list : `${o.list}-reject`;
}

function families(o: RouterOsOptions): Family[] {
  return o.ipv6 ? [4, 6] : [4];
}

function address(k: DeviceKey): string {
  return k.family === 4 && k.src.prefix === 32 ? k.src.address : `${k.src.address}/${k.src.prefix}`;
}

function unsupported(r: DeviceRule, raw?: DeviceOptions): string | undefined {
  const o = routerOsOptions(raw);
  if (r.dst || r.proto || r.dstPort !== undefined) return 'RouterOS address lists hold source addresses only; a rule with destination, protocol or port needs a filter rule written by hand';
  if (r.family === 6 && !o.ipv6) return 'IPv6 is turned off for this device (option ipv6)';
  return undefined;
}

function setup(raw?: DeviceOptions): Plan {
  const o = routerOsOptions(raw);
  const lines: string[] = [];
  const ensure = (m: string, table: 'raw' | 'filter', comment: string, args: string) =>
    lines.push(`:if ([:len [${m} ${table} find comment=${comment}]] = 0) do={${m} ${table} add ${args} comment=${comment}}`);
  for (const f of families(o)) {
    const m = menu(f);
    const drop = listOf(o, 'DROP');
    const rej = listOf(o, 'REJECT');
    ensure(m, 'raw', `${drop}-drop`, `chain=prerouting src-address-list=${drop} action=drop`);
    for (const chain of ['input', 'forward']) {
      ensure(m, 'filter', `${rej}-${chain}`, `chain=${chain} src-address-list=${rej} action=reject reject-with=icmp-admin-prohibited`);
    }
  }
  // the marker of lostCheck, made again with a fresh timeout on every new connection
  lines.push(`/ip firewall address-list remove [find list=${aliveList(o)}]`,
      `/ip firewall address-list add list=${aliveList(o)} address=${ALIVE_ADDRESS} timeout=${compactDuration(ROUTEROS_MAX_TIMEOUT_S)} comment=${aliveList(o)}`);
  const manual = `# RouterOS appends the ${listOf(o, 'REJECT')} filter rules at the end of /ip(v6) firewall filter; move them above your accept rules.`;
  return { steps: [{ session: lines, logout: LOGOUT }], manual };
}

/**
 * A reboot loses every address-list entry with a timeout (RouterOS keeps them in RAM only; the
 * entries without one stay), and nothing on the router says which were there. The sign is a
 * marker entry with a timeout in a list of its own that no firewall rule uses (`ipms-alive`,
 * holding 192.0.2.1, an address of the documentation range): the setup of every new connection
 * makes it again, so it is gone after a reboot, and otherwise only when no connection was made
 * for its whole timeout (some 24 days), which then costs one needless re-send. An ipms of an
 * earlier version made no marker: the first connection after the upgrade re-sends once.
 */
function aliveList(o: RouterOsOptions): string {
  return `${o.list}-alive`;
}

const ALIVE_ADDRESS = '192.0.2.1';

function lostCheck(raw?: DeviceOptions) {
  const o = routerOsOptions(raw);
  const label = aliveList(o);
  return {
    step: { session: [`:put ("${label}=" . [:len [/ip firewall address-list find list=${label}]])`], logout: LOGOUT },
    // only a count of 0 printed says lost (the echoed command line holds `${label}="`, no digit)
    lost: (stdout: string) => new RegExp(`(?:^|\\s)${label}=0\\s*$`, 'm').test(stdout),
  };
}

function render(batch: Batch, raw?: DeviceOptions, call: RenderCall = {}): Plan {
  const o = routerOsOptions(raw);
  if ((call.mode ?? 'delta') !== 'delta') throw new InputError('routeros renders deltas only (mode delta)', 'E_RENDER');
  const keep = call.keep ?? [];
  for (const list of [batch.add, batch.remove, keep]) assertDeviceRules(list);
  for (const r of batch.add) {
    const why = unsupported(r, raw);
    if (why) throw new RefusedError(`routeros: rule ${r.id}: ${why}`, 'E_UNSUPPORTED');
  }
  const find = (r: DeviceKey) => `${menu(r.family)} address-list remove [find list=${listOf(o, r.action)} address=${address(r)}]`;
  const lines: string[] = [];
  const entryOf = (k: DeviceKey) => `${k.action} ${address(k)}`;
  for (const r of sortedUnique(notWanted(batch.remove, [...batch.add, ...keep], entryOf).filter((r) => !unsupported(r, raw)))) lines.push(find(r));
  // `remove [find ...]` walks the whole list: for a feed of 100k, 100k walks of up to 100k
  // entries. A fresh rule (RenderCall.fresh: never on the device) alone on its entry in the
  // batch cannot be there, so it is a plain add; were it there after all (an admin's own entry),
  // the add fails the step, and the retry, no longer fresh, replaces it. Any other add is tried
  // first and replaces the entry only when it fails (`:do {...} on-error={...}`): a retry, or
  // the rules a restore that failed half way left due, walk the list only for the entries the
  // router has.
  const uses = new Map<string, number>();
  for (const r of [...batch.add, ...batch.remove, ...keep]) uses.set(entryOf(r), (uses.get(entryOf(r)) ?? 0) + 1);
  // the longest-lived of rules sharing an address wins
  const life = (r: DeviceRule) => r.expiresInS ?? Infinity;
  // an entry only rules sent again after a loss (RenderCall.restored) share is added unless it
  // is there: after a reboot the entries without a timeout are, and theirs is what was sent
  const renewed = new Set([...batch.add, ...batch.remove, ...keep].filter((r) => !call.restored?.has(r.id)).map(entryOf));
  for (const r of sortedUnique([...batch.add].sort((a, b) => life(b) - life(a) || a.id - b.id))) {
    const t = r.expiresInS !== undefined && r.expiresInS <= ROUTEROS_MAX_TIMEOUT_S ? ` timeout=${compactDuration(r.expiresInS)}` : '';
    const add = `${menu(r.family)} address-list add list=${listOf(o, r.action)} address=${address(r)}${t} comment=ipms-rule-${r.id}`;
    if (call.restored?.has(r.id) && !renewed.has(entryOf(r))) {
      lines.push(`:do {${add}} on-error={}`);
      continue;
    }
    if (call.fresh?.has(r.id) && uses.get(entryOf(r)) === 1) lines.push(add);
    // else the entry may be there (with another timeout or comment): an add that fails on it
    // removes it and adds again, so the walk of the list is paid only where the entry is
    else lines.push(`:do {${add}} on-error={${find(r)}; ${add}}`);
  }
  // typed line by line and echoed back, under the transport's timeout per step: a feed's worth
  // goes as several sessions on the one connection, in order (a line that may replace its entry
  // counts twice: it may walk the list and add, as the remove and add lines of a pair do)
  const steps: SessionStep[] = [];
  let session: string[] = [];
  let weight = 0;
  for (const l of lines) {
    const w = l.endsWith('on-error={}') || !l.startsWith(':do {') ? 1 : 2;
    if (weight + w > SESSION_LINES) {
      steps.push({ session, logout: LOGOUT });
      session = [];
      weight = 0;
    }
    session.push(l);
    weight += w;
  }
  if (session.length) steps.push({ session, logout: LOGOUT });
  return { steps };
}

/** Lines per session, a line that may replace its entry counting twice (see render). */
export const SESSION_LINES = 1000;

/**
 * How RouterOS's console is left: its `/quit` command. `exit` is IOS's, not among RouterOS's
 * console commands (an unknown command is answered "bad command name", which fails the step).
 * Control-D, the console manual's other way out, is lost when typed ahead of the prompt (a
 * line editor drops it: tried on a Linux login shell). Not tried on a RouterOS device: none here.
 */
const LOGOUT = '/quit\n';

function readState(raw?: DeviceOptions): Plan {
  const o = routerOsOptions(raw);
  const steps: SessionStep[] = [];
  for (const a of ['DROP', 'REJECT'] as const) {
    for (const f of families(o)) {
      const m = `${menu(f)} address-list`;
      // (an entry that times out between the find and its get would end the script with "no such
      // item": skipped, as it is gone; an entry disabled by hand blocks nothing, and is not read)
      steps.push({ session: [`:foreach i in=[${m} find list=${listOf(o, a)} disabled=no] do={:do {:put [${m} get $i address]} on-error={}}`], logout: LOGOUT });
    }
  }
  return { steps };
}

function parseState(outputs: readonly string[], raw?: DeviceOptions): StateEntry[] {
  const o = routerOsOptions(raw);
  const order = (['DROP', 'REJECT'] as const).flatMap((a) => families(o).map((f) => ({ a, f })));
  const out: StateEntry[] = [];
  order.forEach(({ a, f }, i) => {
    for (const line of (outputs[i] ?? '').split('\n')) {
      const w = line.trim();
      if (!/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/.test(w)) continue; // prompts, echoed commands, blank lines
      const c = parseCidr(w);
      if (c.family !== f) throw new IpmsError('E_DEVICE_STATE', `routeros state: ${w} in the IPv${f} list ${listOf(o, a)}`);
      out.push({ family: f, src: { address: c.address, prefix: c.prefix }, action: a });
    }
  });
  return sortedUnique(out);
}

export const routeros: Adapter = Object.freeze<Adapter>({
  name: 'routeros',
  kind: 'session',
  objects: (raw?: DeviceOptions) => {
    const o = routerOsOptions(raw);
    return [`list ${listOf(o, 'DROP')}`, `list ${listOf(o, 'REJECT')}`, `list ${aliveList(o)}`];
  },
  modes: ['delta'],
  maxTimeoutS: ROUTEROS_MAX_TIMEOUT_S,
  unsupported,
  setup,
  lostCheck,
  render,
  readState,
  parseState,
  expectedState: (rules: readonly DeviceRule[], raw?: DeviceOptions) => {
    assertDeviceRules(rules);
    for (const r of rules) {
      const why = unsupported(r, raw);
      if (why) throw new RefusedError(`routeros: ${keyText(r)}: ${why}`, 'E_UNSUPPORTED');
    }
    return sortedUnique(rules.map((r) => ({ family: r.family, src: r.src, action: r.action })));
  },
});
