/**
 * Identities: of a log file (by its content) and of each event in it (by its position).
 *
 * An event id is derived from WHERE the line is, never from WHAT it says: real honeyd logs hold
 * byte-identical lines that are distinct events (two probes in the same 1/10000 s), so a hash
 * of the content would merge them. Position = (sensor, file, byte offset of the line start),
 * so reading a file again, after a crash or on purpose, gives every line the id it had, and
 * the UNIQUE index on event_id turns a second insert into a no-op.
 *
 * A file is known by a SHA-256 of its first FP_LEN bytes rather than by its name or inode:
 * rotation renames it (same content, same id), copytruncate copies it (the copy has the same
 * first bytes, so its lines keep their ids). A file shorter than FP_LEN when first seen is
 * fingerprinted on the bytes it had then, and because a short head may be shared by unrelated
 * files (every `honeyd -d` capture of one version starts with the same banner), its key then
 * also includes the device and inode: a "weak" identity, see identity.ts.
 */
import { createHash } from 'node:crypto';

/** Bytes of a file's head that make its fingerprint. 1 KiB of honeyd output holds ~15 timestamps. */
export const FP_LEN = 1024;

/** Event ids are 16 bytes: a 64-bit file prefix and a 64-bit offset (see EventIds). */
export const EVENT_ID_BYTES = 16;

export interface FileIdentity {
  /** what event ids and checkpoints are keyed by */
  key: Buffer;
  /** SHA-256 of the first fpLen bytes */
  fp: Buffer;
  fpLen: number;
  dev: string;
  ino: string;
}

export function sha256(b: Buffer | string): Buffer {
  return createHash('sha256').update(b).digest();
}

/** The key of a file identity: strong (content only) when fpLen reached FP_LEN, else weak. */
export function fileKey(fp: Buffer, fpLen: number, dev: string, ino: string): Buffer {
  const h = createHash('sha256').update('ipms-file\0').update(fp);
  if (fpLen < FP_LEN) h.update(`\0${dev}:${ino}`);
  return h.digest().subarray(0, EVENT_ID_BYTES);
}

export function makeIdentity(head: Buffer, dev: string, ino: string): FileIdentity {
  const fpLen = Math.min(head.length, FP_LEN);
  const fp = sha256(head.subarray(0, fpLen));
  return { key: fileKey(fp, fpLen, dev, ino), fp, fpLen, dev, ino };
}

/**
 * Event ids of one file of one sensor: 8 bytes of SHA-256 of (sensor, file key), then the byte
 * offset of the line as a 64-bit big-endian number. Unique for every line of every file, the
 * same on every reading, and increasing through a file: consecutive rows land next to each
 * other in the UNIQUE index on event_id (a random id would touch a random index page per row,
 * which costs real insert speed once the table outgrows the buffer pool).
 */
export class EventIds {
  private readonly prefix: Buffer;

  constructor(sensor: string, key: Buffer) {
    this.prefix = createHash('sha256').update(`ipms-event\0${sensor}\0`).update(key).digest().subarray(0, 8);
  }

  at(offset: number): Buffer {
    const b = Buffer.allocUnsafe(EVENT_ID_BYTES);
    this.prefix.copy(b, 0);
    b.writeBigUInt64BE(BigInt(offset), 8);
    return b;
  }
}
