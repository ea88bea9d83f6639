/**
 * Finding a log file again after rotation. logrotate either renames the file (honeyd keeps
 * writing to the renamed file until SIGUSR1 makes it reopen its path) or, with copytruncate,
 * copies it and empties the original. Either way the rotated file sits next to the original
 * (honeyd.log.1, honeyd.log-20260101) and starts with the same bytes, so it is found by its
 * fingerprint. Compressed rotations (.gz, ...) are not read.
 */
import { readdir, open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { sha256, type FileIdentity } from './event-id.ts';

const COMPRESSED = /\.(gz|bz2|xz|zst|lz4|z|zip)$/i;

/** First `n` bytes of a file (fewer if it is shorter). */
export async function readHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * A file next to `path` (not `path` itself) with the identity's first bytes and more than
 * `beyond` bytes, i.e. with lines not read yet. Null when there is none.
 */
export async function findRotated(path: string, id: FileIdentity, beyond: number, exclude: ReadonlySet<string> = new Set()): Promise<string | null> {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return null;
  }
  const want = id.fp.toString('hex');
  for (const name of names.sort()) {
    if (name === base || !(name.startsWith(`${base}.`) || name.startsWith(`${base}-`)) || COMPRESSED.test(name)) continue;
    const p = join(dir, name);
    if (exclude.has(p)) continue;
    try {
      const fh = await open(p, 'r');
      try {
        const st = await fh.stat();
        if (!st.isFile() || st.size <= beyond || st.size < id.fpLen) continue;
        const buf = Buffer.alloc(id.fpLen);
        await fh.read(buf, 0, id.fpLen, 0);
        if (sha256(buf).toString('hex') === want) return p;
      } finally {
        await fh.close();
      }
    } catch {
      // unreadable or vanished: not ours
    }
  }
  return null;
}
