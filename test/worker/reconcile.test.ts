/**
 * `devices reconcile` compares in the device's own terms. A Cisco router cannot exist here, so
 * this test answers `show ip access-lists` with a fake session (text in IOS's documented form);
 * the real comparisons against nftables and iptables over SSH are in test/e2e.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceRow } from '../../lib/types.ts';
import { adapterFor } from '../../worker/adapters.ts';
import { reconcile } from '../../worker/reconcile.ts';
import type { Step } from '../../worker/devices/types.ts';
import type { Transport } from '../../worker/transports/types.ts';
import { freshDatabase, type TestDb } from '../helpers/db.ts';

let t: TestDb;
beforeAll(async () => {
  t = await freshDatabase('reconcile');
});
afterAll(async () => t?.close());

/** A router that answers the read-state session with `acl` and records every other session. */
function fakeIos(acl: string, sent: Step[]): Transport {
  return {
    name: 'fake-ios',
    async open() {
      return {
        async run(steps: readonly Step[]) {
          return steps.map((s) => {
            const read = 'session' in s && s.session.some((l: string) => l.startsWith('show '));
            const show = read && 'session' in s && s.session.some((l: string) => l.startsWith('show ip access-lists'));
            if (!read) sent.push(s);
            return { stdout: show ? acl : '', stderr: '', code: 0 };
          });
        },
        async close() {},
      };
    },
  };
}

describe('devices reconcile', () => {
  it('takes a REJECT rule on IOS (where it is a deny) as present, and finds a missing and a stray entry', async () => {
    await t.db.exec("INSERT INTO Device (name, host, adapter, transport) VALUES ('r1', '192.0.2.254', 'cisco-ios', 'ssh')");
    const [dev] = await t.db.rows<DeviceRow>("SELECT * FROM Device WHERE name = 'r1'");
    for (const [src, action] of [['198.51.100.7', 'REJECT'], ['198.51.100.8', 'DROP']]) {
      await t.db.exec("INSERT INTO Rule (src_ip, action, origin) VALUES (INET6_ATON(?), ?, 'manual')", [src, action]);
    }
    await t.db.exec("UPDATE RuleDevice SET state = 'applied'");
    const [r7] = await t.db.rows<{ id: number }>("SELECT id FROM Rule WHERE src_ip = INET6_ATON('198.51.100.7')");
    const acl = [
      'Extended IP access list IPMS-IN',
      `    ${r7!.id} deny ip host 198.51.100.7 any (12 matches)`,
      '    90 deny ip host 203.0.113.99 any',
      '    2147483647 permit ip any any',
    ].join('\n');
    const sent: Step[] = [];
    const deps = { adapterFor, transportFor: () => fakeIos(acl, sent) };
    const dry = await reconcile(t.db, dev!, deps, true);
    expect(dry).toMatchObject({ missing: ['DROP 198.51.100.8/32'], unexpected: ['DROP 203.0.113.99/32'], fixed: false });
    expect(sent).toEqual([]);
    const fix = await reconcile(t.db, dev!, deps, false);
    expect(fix.fixed).toBe(true);
    const lines = sent.flatMap((s) => ('session' in s ? s.session : []));
    expect(lines).toEqual(expect.arrayContaining([' no deny ip host 203.0.113.99 any', ' no deny ip host 198.51.100.8 any', ` ${r7!.id + 1} deny ip host 198.51.100.8 any`]));
    // the REJECT rule was there all along: not sent again
    expect(lines.filter((l) => l.includes('198.51.100.7'))).toEqual([]);
  });
});
