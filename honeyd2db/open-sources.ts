/**
 * The sources of one run, ready to read: the files named (or standard input), plus the files
 * they were rotated into while no ingest ran (found next to their path by their first bytes,
 * read on from their checkpoint), in reading order (connection logs first, so that payload
 * lines find their connection), with the connection index rebuilt from the lines just before
 * each checkpoint.
 */
import type { Readable } from 'node:stream';
import type { Mark } from './batch.ts';
import { furthest } from './checkpoint.ts';
import { identityOfMark } from './identity.ts';
import { findRotated } from './rotation.ts';
import { FileSource, type Source, type SourceEnv } from './source.ts';
import { StdinSource } from './stdin-source.ts';

const PRIORITY: Record<string, number> = { 'honeyd-log': 0, 'markers-only': 0, pending: 0, 'service-log': 1, syslog: 1, 'script-log': 2, unknown: 3 };

/** Reading order: connection logs, then service logs and syslog, then script logs; rotated-away files before their successors. */
export function readingOrder(a: Source, b: Source): number {
  return (PRIORITY[a.format] ?? 3) - (PRIORITY[b.format] ?? 3) || Number(b.retired) - Number(a.retired);
}

export async function openSources(files: readonly string[], env: SourceEnv, stdin: Readable, wake: () => void): Promise<Source[]> {
  const sources: Source[] = [];
  for (const p of files) {
    // standard input cannot be read again, so it never waits for a later round
    if (p === '-') sources.push(new StdinSource(stdin, { ...env, follow: false }, wake));
    else sources.push(await FileSource.open(p, env));
  }
  for (const s of sources) await s.init();
  if (!env.fromStart) {
    const byKey = new Map<string, Mark>();
    for (const m of env.known()) byKey.set(m.key, furthest(byKey.get(m.key), m)!);
    const seen = new Set<string>(sources.map((s) => s.path));
    for (const s of [...sources]) {
      // (also when the file at the path is still empty: logrotate made it, honeyd has not
      // written yet, and the rotated one may hold unread lines)
      if (!(s instanceof FileSource)) continue;
      const current = s.identity?.key.toString('hex') ?? null;
      for (const m of byKey.values()) {
        if (m.path !== s.path || m.key === current || m.offset === 0) continue;
        const rotated = await findRotated(s.path, identityOfMark(m), m.offset, seen);
        if (rotated === null) continue;
        seen.add(rotated);
        sources.push(await FileSource.resume(rotated, m, identityOfMark(m), env));
      }
    }
  }
  sources.sort(readingOrder);
  for (const s of sources) await s.rebuild();
  return sources;
}
