/**
 * One ingest at a time per (database, sensor) and state directory: two would append to the
 * same spool and race on checkpoints. The lock is a file holding the owner's pid, created
 * with O_EXCL; a lock whose process is gone (kill -9, power cut) is taken over. On Linux the
 * file also holds the boot and the process's start time, so a pid that another process has
 * since been given (after a reboot, say) does not keep the lock.
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

/** `BOOT_ID:START_TICKS` of a process (Linux), or '' where /proc does not tell. */
function processStamp(pid: number): string {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may hold spaces: count after its ')'
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return start ? `${boot}:${start}` : '';
  } catch {
    return '';
  }
}

/** Is the lock's owner (`PID [STAMP]`) still the process that wrote it? */
function holds(owner: string): number | null {
  const [p, stamp] = owner.split(' ');
  const pid = Number(p);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !alive(pid)) return null;
  if (stamp) {
    const now = processStamp(pid);
    if (now && now !== stamp) return null; // the pid belongs to another process now
  }
  return pid;
}

export function acquireLock(path: string, what: string): () => void {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid} ${processStamp(process.pid)}`.trim() + '\n');
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim().split(' ')[0] === String(process.pid)) unlinkSync(path);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner: string;
    try {
      owner = readFileSync(path, 'utf8').trim();
    } catch {
      continue; // removed meanwhile: try again
    }
    const pid = holds(owner);
    if (pid !== null) {
      throw new RefusedError(`another ipms ingest (pid ${pid}) is running for ${what} (lock ${path})`, 'E_INGEST_LOCKED');
    }
    try {
      unlinkSync(path); // stale: its process is gone
    } catch {
      // someone else took it over first; the next attempt will tell
    }
  }
  throw new RefusedError(`could not take the lock ${path} for ${what}`, 'E_INGEST_LOCKED');
}
