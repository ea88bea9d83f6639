/**
 * Worker benchmark, against a real sshd and real nftables in a network namespace (needs root):
 *  - pending -> applied latency in daemon mode (p50, p99),
 *  - 10k and 100k rules onto one nftables device over SSH in one batch,
 *  - the same rules with one command per rule (measured on a sample), for the ratio.
 */
import { randomBytes } from 'node:crypto';
import { parseDatabaseUrl } from '../../lib/config.ts';
import { openDb, type Db } from '../../lib/db.ts';
import { migrate } from '../../lib/migrate.ts';
import type { DeviceRow } from '../../lib/types.ts';
import { createLab, type Lab } from '../../test/helpers/lab.ts';
import { adapterFor } from '../../worker/adapters.ts';
import { transportFor } from '../../worker/target.ts';
import { Worker } from '../../worker/worker.ts';

function ip(i: number): string {
  // 16.0.0.0/4 .. : public-looking test addresses that no packet is ever sent to
  return `${16 + (i >> 24)}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

async function insertRules(db: Db, from: number, n: number): Promise<void> {
  for (let i = 0; i < n; i += 2000) {
    const k = Math.min(2000, n - i);
    const vals = Array.from({ length: k }, (_, j) => ip(from + i + j));
    await db.exec(`INSERT INTO Rule (src_ip, origin) VALUES ${vals.map(() => "(INET6_ATON(?), 'manual')").join(',')}`, vals);
  }
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * 40 rules, one every 150 ms, into a running worker (after one to warm the connection up);
 * their pending -> applied times in ms, sorted. Rule addresses from `from` on.
 */
async function daemonLatency(db: Db, deps: ConstructorParameters<typeof Worker>[1], from: number): Promise<number[]> {
  const w = new Worker(db, deps);
  const loop = w.run(50);
  const idle = async (until: number, done: () => Promise<boolean>) => {
    while (Date.now() < until && !(await done())) await new Promise((r) => setTimeout(r, 50));
  };
  const pending = async () => (await db.rows<{ n: number }>("SELECT COUNT(*) AS n FROM RuleDevice WHERE state <> 'applied'"))[0]!.n;
  await insertRules(db, from, 1);
  await idle(Date.now() + 10_000, async () => (await pending()) === 0);
  const [{ first } = { first: 0 }] = await db.rows<{ first: number }>('SELECT MAX(id) + 1 AS first FROM Rule');
  for (let i = 0; i < 40; i++) {
    await insertRules(db, from + 1 + i, 1);
    await new Promise((r) => setTimeout(r, 150));
  }
  await idle(Date.now() + 20_000, async () => (await pending()) === 0);
  await w.stop();
  await loop;
  return (await db.rows<{ ms: number }>(
    `SELECT TIMESTAMPDIFF(MICROSECOND, r.created_at, rd.applied_at) / 1000 AS ms
     FROM RuleDevice rd JOIN Rule r ON r.id = rd.rule_id WHERE r.id >= ? AND rd.applied_at IS NOT NULL`, [first],
  )).map((r) => Number(r.ms)).sort((a, b) => a - b);
}

export async function run(url: string): Promise<void> {
  let lab: Lab | undefined;
  const root = openDb(parseDatabaseUrl(url), { poolSize: 1 });
  const name = `ipms_bench_w_${randomBytes(2).toString('hex')}`;
  await root.exec(`CREATE DATABASE ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  const cfg = parseDatabaseUrl(u.toString());
  const db = openDb(cfg, { poolSize: 4 });
  try {
    lab = await createLab();
    await migrate(cfg);
    await db.exec(
      `INSERT INTO Device (name, host, port, adapter, transport, username, key_ref, host_key, applies_to)
       VALUES ('fw', ?, 22, 'nftables', 'ssh', 'root', ?, ?, 'any')`,
      [lab.mgmt, lab.clientKey, lab.hostKeyFingerprint],
    );
    const deps = { adapterFor, transportFor: (d: DeviceRow) => transportFor(d, { print: () => undefined, timeoutMs: 120_000 }) };

    // latency: one rule at a time into a running worker, on an empty device
    const lat = await daemonLatency(db, deps, 1000);
    console.log(`worker: pending->applied over ssh, daemon polling 50 ms: p50 ${pct(lat, 50).toFixed(0)} ms, p99 ${pct(lat, 99).toFixed(0)} ms (${lat.length} rules; target p99 < 1000 ms)`);

    // bulk: 10k then 100k more in one batch each
    for (const n of (process.env.IPMS_BENCH_WORKER_SIZES ?? "10000,100000").split(",").map(Number)) {
      await insertRules(db, 100_000 + n, n);
      const t0 = Date.now();
      const r = await new Worker(db, deps).tick();
      const phases = Object.entries(r.outcomes[0]?.ms ?? {}).map(([k, v]) => `${k} ${v} ms`).join(', ');
      const total = Date.now() - t0;
      const o = r.outcomes[0];
      console.log(`worker: ${n} rules onto one nftables device over ssh in one batch: ${total} ms in all (claim, render, ssh, nft, record) — ${o?.applied ?? 0} applied, ${o?.failed ?? 0} failed${o?.errors.length ? `: ${o.errors[0]}` : ''}; ${phases}${n === 100_000 ? ' (targets: 100k onto the device < 1000 ms; all in < 1000 ms)' : ''}`);
    }

    // latency again, with the bulk rules on the device (permanent rules pile up in a year)
    const [{ n: held } = { n: 0 }] = await db.rows<{ n: number }>("SELECT COUNT(*) AS n FROM RuleDevice WHERE state = 'applied'");
    const lat2 = await daemonLatency(db, deps, 3_000_000);
    console.log(`worker: the same with ${held} rules already on the device: p50 ${pct(lat2, 50).toFixed(0)} ms, p99 ${pct(lat2, 99).toFixed(0)} ms (${lat2.length} rules)`);

    // one command per rule, on a sample over one SSH connection, for the ratio
    const [d] = await db.rows<DeviceRow>("SELECT * FROM Device WHERE name = 'fw'");
    const session = await deps.transportFor(d!).open();
    const sample = 300;
    const t1 = Date.now();
    for (let i = 0; i < sample; i++) {
      await session.run([{ argv: ['nft', 'add', 'element', 'inet', 'ipms', 'bench1', `{ ${ip(5_000_000 + i)} }`] }]).catch(async () => {
        await session.run([{ argv: ['nft', 'add', 'set', 'inet', 'ipms', 'bench1', '{ type ipv4_addr; flags interval; }'] }]);
        await session.run([{ argv: ['nft', 'add', 'element', 'inet', 'ipms', 'bench1', `{ ${ip(5_000_000 + i)} }`] }]);
      });
    }
    const perRule = (Date.now() - t1) / sample;
    await session.close();
    console.log(`worker: one nft command per rule over ssh: ${perRule.toFixed(1)} ms per rule, ${(perRule * 100_000 / 1000).toFixed(0)} s for 100k (extrapolated from ${sample})`);
  } finally {
    await db.end();
    await root.exec(`DROP DATABASE IF EXISTS ${name}`).catch(() => undefined);
    await root.end();
    lab?.close();
  }
}
