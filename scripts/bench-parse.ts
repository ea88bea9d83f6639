/**
 * Parser throughput: parseConnLog over real -l fixture lines repeated to ~1M lines, in one
 * process on one core. Run: npx tsx scripts/bench-parse.ts [lines] [zone]
 * Prints `parser: N lines/s`. No database, no file I/O inside the timed loop.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConnLog } from '../honeyd2db/parse/connlog.ts';

const fixtures = fileURLToPath(new URL('../../shared/fixtures/honeyd/', import.meta.url));
const target = Number(process.argv[2] ?? 1_000_000);
const tz = process.argv[3] ?? 'Europe/Paris';

const sample = ['public/honeyevse-honeyd.log', 'generated/flags-honeyd.log', 'public/haskell-parser-comments-2008.log']
  .flatMap((f) => readFileSync(fixtures + f, 'utf8').split('\n'))
  .filter((l) => l !== '');
const lines: string[] = [];
while (lines.length < target) lines.push(...sample);
lines.length = target;

function run(): { events: number; other: number; ms: number } {
  const ctx = { tz };
  let events = 0;
  let other = 0;
  const t0 = performance.now();
  for (const line of lines) {
    if (parseConnLog(line, ctx).type === 'conn') events++;
    else other++;
  }
  return { events, other, ms: performance.now() - t0 };
}

run(); // warm-up: JIT and the per-hour zone cache
const best = [run(), run(), run()].sort((a, b) => a.ms - b.ms)[0]!;
const rate = Math.round((lines.length / best.ms) * 1000);
console.log(`lines: ${lines.length} (${best.events} events, ${best.other} markers/other), zone ${tz}, best of 3: ${best.ms.toFixed(0)} ms`);
console.log(`parser: ${rate} lines/s`);
