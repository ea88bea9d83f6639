/**
 * Password hashing with scrypt (node:crypto; no native add-on). Stored as a PHC string,
 * `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (base64 without padding), so the cost can be raised
 * later and old hashes still verify with their own parameters.
 *
 * ln=15, r=8 is the cost OWASP lists for scrypt (N=2^15: 32 MiB and ~50-100 ms a check on the
 * development machine): slow for a guesser, fine for a login.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { InputError } from '../lib/errors.ts';

export const MIN_PASSWORD = 12;
export const MAX_PASSWORD = 1024;

export interface ScryptCost {
  /** log2 of N */
  ln: number;
  r: number;
  p: number;
}

export const DEFAULT_COST: Readonly<ScryptCost> = Object.freeze({ ln: 15, r: 8, p: 1 });
const KEY_LEN = 32;
const SALT_LEN = 16;

function scrypt(password: string, salt: Buffer, c: ScryptCost): Promise<Buffer> {
  const opts: ScryptOptions = { N: 2 ** c.ln, r: c.r, p: c.p, maxmem: 2 * 128 * 2 ** c.ln * c.r + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize('NFC'), salt, KEY_LEN, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Refuse passwords that are too short to be worth hashing, or long enough to be a mistake. */
export function checkPasswordPolicy(password: string): void {
  if ([...password].length < MIN_PASSWORD) throw new InputError(`password: at least ${MIN_PASSWORD} characters`);
  if (Buffer.byteLength(password) > MAX_PASSWORD) throw new InputError(`password: at most ${MAX_PASSWORD} bytes`);
}

export async function hashPassword(password: string, cost: ScryptCost = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(SALT_LEN);
  const key = await scrypt(password, salt, cost);
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${b64(salt)}$${b64(key)}`;
}

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/;

/** True when `password` matches `stored`. A malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = PHC.exec(stored);
  if (!m) return false;
  const cost = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (cost.ln < 1 || cost.ln > 20 || cost.r < 1 || cost.p < 1) return false;
  const want = Buffer.from(m[5]!, 'base64');
  if (Buffer.byteLength(password) > MAX_PASSWORD || want.length !== KEY_LEN) return false;
  const got = await scrypt(password, Buffer.from(m[4]!, 'base64'), cost);
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * A hash of nothing anyone knows, checked when the user name does not exist: the answer then
 * takes as long as for a real user, so timing does not tell which names exist.
 */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(24).toString('base64'));
  return decoy;
}
