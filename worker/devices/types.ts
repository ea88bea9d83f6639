/**
 * The contract between the worker and the device adapters. Adapters are pure: they turn
 * validated rules into Steps (what to run on a device) and parse what a device shows back.
 * Transports (ssh, local, dry-run) run the Steps; nothing in worker/devices executes anything.
 */
import type { Action, RuleProto } from '../../lib/types.ts';
import type { Family } from '../../lib/ip.ts';

/**
 * One rule in canonical form. Only `toDeviceRule` (canonical.ts) makes these: it validates every
 * field and refuses protected ranges, and renderers check that each rule they get came from it.
 */
export interface DeviceRule {
  /** Rule.id: positive integer; the only "free" value that may reach a device (as a comment) */
  readonly id: number;
  readonly family: Family;
  /** canonical network address (host bits clear) and prefix length */
  readonly src: { readonly address: string; readonly prefix: number };
  /** a single destination address of the same family */
  readonly dst?: { readonly address: string };
  /** 1-65535, only with a protocol that has ports */
  readonly dstPort?: number;
  readonly proto?: RuleProto;
  readonly action: Action;
  /** seconds the rule has left (>= 1); absent = until removed */
  readonly expiresInS?: number;
}

/** What a device can show back: the traffic and action of a rule, without id and lifetime. */
export type DeviceKey = Omit<DeviceRule, 'id' | 'expiresInS'>;

/** One entry parsed from a device; `id` when the device carries it (comment, ACL sequence). */
export interface StateEntry extends DeviceKey {
  readonly id?: number;
}

/**
 * A program to run on the device: an argv (never a shell string) and optional stdin.
 * - okExit: exit codes that count as success (default [0]).
 * - unless: an argv run first. Exit 0 means the step's effect is already there: skip the step.
 *   Exit 1 means it is not: run the step. Any other exit code is a failure. (`iptables -C`.)
 */
export interface ExecStep {
  readonly argv: readonly string[];
  readonly stdin?: string;
  readonly okExit?: readonly number[];
  readonly unless?: readonly string[];
}

/**
 * Lines for a device CLI (Cisco IOS, RouterOS), sent in order as one session (RouterOS: one
 * exec request; IOS: an interactive shell, one line at a time). The device reports errors in its
 * output, not in an exit code: IOS lines starting with `%`, RouterOS `failure:`/`syntax error`/
 * `bad command`; a transport must treat those as a failed step.
 */
export interface SessionStep {
  readonly session: readonly string[];
  /** device error lines holding one of these texts mean "already so", not a failure */
  readonly okErrors?: readonly string[];
  /**
   * What ends the session after its lines: `exit` (IOS) unless given. RouterOS has no `exit`
   * command (it would answer "bad command name", a failed step): `/quit`.
   */
  readonly logout?: string;
}

export type Step = ExecStep | SessionStep;

export interface Plan {
  readonly steps: readonly Step[];
  /** configuration an administrator adds by hand (pf.conf lines, ACL on an interface) */
  readonly manual?: string;
}

/** The steps of a and then b, with neighbours that run the same command joined (see Adapter.joinsSteps). */
export function joinPlans(a: Plan, b: Plan): Plan {
  const steps: Step[] = [];
  for (const s of [...a.steps, ...b.steps]) {
    const last = steps[steps.length - 1];
    if (last && joinable(last) && joinable(s) && sameArgv(last.argv, s.argv)) {
      steps[steps.length - 1] = { argv: last.argv, stdin: `${last.stdin}${s.stdin}` };
    } else {
      steps.push(s);
    }
  }
  return { steps, ...(a.manual || b.manual ? { manual: [a.manual, b.manual].filter(Boolean).join('\n') } : {}) };
}

function joinable(s: Step): s is ExecStep & { stdin: string } {
  return 'argv' in s && typeof s.stdin === 'string' && !s.okExit && !s.unless;
}

function sameArgv(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export interface Batch {
  readonly add: readonly DeviceRule[];
  readonly remove: readonly DeviceRule[];
}

/**
 * - delta: apply `add` and `remove` on top of what the device has.
 * - full: `add` is everything the device must enforce, `remove` must be empty; the adapter
 *   replaces its own objects whole (atomically where the device allows).
 */
export type RenderMode = 'delta' | 'full';

export interface RenderCall {
  /** default: the adapter's first mode */
  readonly mode?: RenderMode;
  /**
   * delta mode: rules that stay on the device. nftables needs (at least) every kept rule that
   * overlaps a rule of the batch, to keep its interval sets free of overlaps; ipset uses them to
   * check capacity. Passing all of the device's present rules is always fine.
   */
  readonly keep?: readonly DeviceRule[];
  /**
   * delta mode: ids of rules in `add` that the device cannot hold yet, but for an earlier
   * attempt of the same rule with the same expiry (never applied there, first wish, no rule of
   * the same source being taken off). nftables then adds them plainly instead of as the
   * add/delete/add that replaces whatever is there (a third of the work for a fresh batch).
   */
  readonly fresh?: ReadonlySet<number>;
  /**
   * delta mode: ids of rules in `add` sent again to a device that lost some or all of what it
   * held (RouterOS after a reboot keeps the entries that had no timeout): added where missing,
   * left as they are where there, rather than taken off and added again (which RouterOS does
   * by walking the whole list, once per entry).
   */
  readonly restored?: ReadonlySet<number>;
  /** ipset: known element counts per set name, for the capacity check */
  readonly counts?: Readonly<Record<string, number>>;
}

/** Device options: the Device row's `options` JSON; each adapter validates its own keys. */
export type DeviceOptions = Readonly<Record<string, unknown>>;

/** A step that reads a device's uptime, and its seconds from the output (Adapter.lostCheck). */
export interface UptimeCheck {
  readonly step: Step;
  readonly seconds: (stdout: string) => number | undefined;
}

export interface Adapter {
  readonly name: string;
  /** exec: ExecSteps only; session: SessionSteps only */
  readonly kind: 'exec' | 'session';
  readonly modes: readonly RenderMode[];
  /**
   * Longest lifetime the device itself enforces; 0 = no timeouts on this device. Rules that
   * live longer (or devices without timeouts) rely on the worker removing them when they expire.
   */
  readonly maxTimeoutS: number;
  /**
   * Two steps in a row that run the same command (no okExit, no unless) may be sent as one,
   * their stdin joined: one transaction (nft -f -). The worker sends a new connection's setup
   * and the batch that way, one process and one round trip fewer.
   */
  readonly joinsSteps?: boolean;
  /** why this adapter cannot carry the rule, or undefined when it can */
  unsupported(rule: DeviceRule, opts?: DeviceOptions): string | undefined;
  /**
   * The objects it owns on a device (table, chain, sets, ACLs, lists), each as "kind name":
   * two devices in one place must not share one, or each would undo the other's rules.
   */
  objects(opts?: DeviceOptions): string[];
  /** idempotent: creates the adapter's own table/chains/sets/lists and hooks them in */
  setup(opts?: DeviceOptions): Plan;
  /**
   * Idempotent, the inverse of setup: takes the adapter's own objects (and their hooks) off a
   * device that holds no rule of ipms's any more (`devices remove --take-off`). Adapters whose
   * commands cannot be tried here (pf, Cisco IOS, RouterOS) have none: the CLI names their
   * objects for the administrator instead.
   */
  teardown?(opts?: DeviceOptions): Plan;
  /**
   * A cheap look at whether the adapter's objects are on the device at all: a firewall rebooted
   * without saving them, or `nft flush ruleset`, lost every rule ipms had put there, and the
   * idempotent setup of a new connection would make them again, empty, with no one the wiser.
   * The step (a command, or CLI lines for IOS and RouterOS), and what its standard output means.
   */
  lostCheck?(opts?: DeviceOptions): {
    step: Step;
    lost: (stdout: string) => boolean;
    /**
     * A step that reads the device's uptime, and its seconds from the output: an uptime shorter
     * than the time since the last look (Device.looked_at) means a restart from a saved
     * configuration, which may predate ipms's latest changes even though its objects are there.
     */
    uptime?: UptimeCheck;
  };
  render(batch: Batch, opts?: DeviceOptions, call?: RenderCall): Plan;
  /** the steps whose outputs parseState reads */
  readState(opts?: DeviceOptions): Plan;
  /** outputs: stdout of each readState step, in order */
  parseState(outputs: readonly string[], opts?: DeviceOptions): StateEntry[];
  /** what parseState should return once exactly `rules` are applied (for reconcile) */
  expectedState(rules: readonly DeviceRule[], opts?: DeviceOptions): DeviceKey[];
}
