import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

/**
 * A file's identity is device + inode (survives renames) validated by a hash of its first
 * bytes: a reused inode (file deleted, another created) or a truncated and rewritten file
 * has other first bytes and is a new file. Files shorter than `fingerprint_bytes` are
 * fingerprinted over what they hold; the length is stored so the same prefix is compared
 * later, once the file has grown. An empty file has no fingerprint yet (len 0).
 */
export interface Fingerprint {
  len: number;
  hash: string;
}

export const EMPTY_FINGERPRINT: Fingerprint = { len: 0, hash: '' };

export function hashPrefix(bytes: Buffer): Fingerprint {
  if (bytes.length === 0) return EMPTY_FINGERPRINT;
  return { len: bytes.length, hash: createHash('sha256').update(bytes).digest('hex').slice(0, 16) };
}

/** Reads and hashes up to `max` first bytes of the file. */
export async function fingerprintOf(fh: FileHandle, max: number): Promise<Fingerprint> {
  return hashPrefix(await readPrefix(fh, max));
}

/** True when the file still starts with the bytes the fingerprint was taken from. */
export async function prefixMatches(fh: FileHandle, fp: Fingerprint): Promise<boolean> {
  if (fp.len === 0) return true;
  const prefix = await readPrefix(fh, fp.len);
  return prefix.length === fp.len && hashPrefix(prefix).hash === fp.hash;
}

export async function readPrefix(fh: FileHandle, max: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(max);
  let got = 0;
  while (got < max) {
    const { bytesRead } = await fh.read(buf, got, max - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/** The id events carry (source.fileId, and through fileEventId their event id). */
export function fileIdOf(dev: number, ino: number, fp: Fingerprint): string {
  return `${dev}:${ino}:${fp.hash}`;
}
