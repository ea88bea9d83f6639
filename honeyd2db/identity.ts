/**
 * Which known file a file on disk is, from its head bytes (see event-id.ts). A file at least
 * FP_LEN long is known by the hash of its first FP_LEN bytes wherever it is and whatever its
 * name (rotated, copied). A file first seen shorter keeps the "weak" identity it got then (the
 * hash of the bytes it had, plus device and inode): it is recognised by those same bytes at
 * the same inode, so its lines keep their event ids as it grows.
 */
import type { Mark } from './batch.ts';
import { FP_LEN, fileKey, makeIdentity, sha256, type FileIdentity } from './event-id.ts';

export function identityOfMark(m: Mark): FileIdentity {
  return { key: Buffer.from(m.key, 'hex'), fp: Buffer.from(m.fp, 'hex'), fpLen: m.fpLen, dev: m.dev, ino: m.ino };
}

/**
 * The identity of a file whose first bytes are `head` (at most FP_LEN of them), and the known
 * marks that belong to it. Null when the file is empty (nothing to know it by yet).
 */
export function resolveIdentity(head: Buffer, dev: string, ino: string, known: Iterable<Mark>): { identity: FileIdentity; marks: Mark[] } | null {
  if (head.length === 0) return null;
  const strong = head.length >= FP_LEN ? makeIdentity(head, dev, ino) : null;
  const strongKey = strong?.key.toString('hex');
  const weak: Mark[] = [];
  const same: Mark[] = [];
  const hashes = new Map<number, string>();
  for (const m of known) {
    if (m.fpLen >= FP_LEN) {
      if (m.key === strongKey) same.push(m);
    } else if (m.fpLen <= head.length && m.dev === dev && m.ino === ino) {
      let h = hashes.get(m.fpLen);
      if (h === undefined) {
        h = sha256(head.subarray(0, m.fpLen)).toString('hex');
        hashes.set(m.fpLen, h);
      }
      if (h === m.fp && fileKey(Buffer.from(m.fp, 'hex'), m.fpLen, dev, ino).toString('hex') === m.key) weak.push(m);
    }
  }
  // an identity given earlier wins: the event ids already in the database were made with it
  if (weak.length > 0) {
    const key = weak[0]!.key;
    return { identity: identityOfMark(weak[0]!), marks: weak.filter((m) => m.key === key) };
  }
  if (strong !== null) return { identity: strong, marks: same };
  return { identity: makeIdentity(head, dev, ino), marks: [] };
}
