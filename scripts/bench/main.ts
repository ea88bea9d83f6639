/** `npm run bench`: every benchmark in one run, ratios side by side. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run as triggers } from './triggers.ts';
import { run as ingestBench } from './ingest.ts';
import { run as worker } from './worker.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const url =
  process.env.IPMS_BENCH_ADMIN_URL ??
  execFileSync('bash', ['scripts/db-server.sh', 'start'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim()
    .split('\n')
    .pop()!;

const rates = await triggers(url);
await ingestBench(url, rates.withTriggers);
if (process.getuid?.() === 0) await worker(url);
else console.log('worker: skipped (needs root for network namespaces)');
