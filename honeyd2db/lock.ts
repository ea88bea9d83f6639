/**
 * One ingest at a time per (database, sensor) and state directory: two would append to the
 * same spool and race on checkpoints. The lock is a file holding the owner's pid, created
 * with O_EXCL; a lock whose process is gone (kill -9, power cut) is taken over.
 */
import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import { RefusedError } from '../lib/errors.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireLock(path: string, what: string): () => void {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(path, 'utf8').trim());
    } catch {
      continue; // removed meanwhile: try again
    }
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new RefusedError(`another ipms ingest (pid ${owner}) is running for ${what} (lock ${path})`, 'E_INGEST_LOCKED');
    }
    try {
      unlinkSync(path); // stale: its process is gone
    } catch {
      // someone else took it over first; the next attempt will tell
    }
  }
  throw new RefusedError(`could not take the lock ${path} for ${what}`, 'E_INGEST_LOCKED');
}
