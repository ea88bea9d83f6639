/** `npm run bench`: every benchmark in one run, ratios side by side. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run as triggers } from './triggers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const url =
  process.env.IPMS_BENCH_ADMIN_URL ??
  execFileSync('bash', ['scripts/db-server.sh', 'start'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim()
    .split('\n')
    .pop()!;

await triggers(url);
