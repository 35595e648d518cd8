import { fileEventId } from '../../../core/event-id.js';

/**
 * core/event-id.ts's fileEventId(fileId, offset), computed per line without its cost.
 *
 * fileEventId hashes "file\0<fileId>\0<offset>" with SHA-256 through node:crypto: a Hash
 * object per call, ~2-3 µs and most of the source's garbage — at 200-byte lines that alone
 * caps the source far below 150 MiB/s (measured by bench/tail.ts). Here the message fits
 * one SHA-256 block and only the offset digits change, so the block is prepared once per
 * file and each id costs one compression in plain JS. The output is byte-for-byte
 * fileEventId's (event-ids.test.ts checks it against core); messages that do not fit one
 * block fall back to core.
 */
const K = new Int32Array(64);
const H0 = new Int32Array(8);
(function constants() {
  // FIPS 180-4: fractional parts of the square (H0) and cube (K) roots of the first primes.
  let found = 0;
  for (let n = 2; found < 64; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) if (n % d === 0) prime = false;
    if (!prime) continue;
    if (found < 8) H0[found] = frac32(Math.sqrt(n));
    K[found++] = frac32(Math.cbrt(n));
  }
})();

function frac32(x: number): number {
  return ((x - Math.floor(x)) * 4294967296) | 0;
}

const B64 = Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', (c) => c.charCodeAt(0));
const W = new Int32Array(64);
const H = new Int32Array(8);

export class FileEventIds {
  private readonly block = new Uint8Array(64);
  private readonly prefixLen: number;
  private readonly fits: boolean;

  constructor(readonly fileId: string) {
    const prefix = Buffer.from(`file\u0000${fileId}\u0000`, 'utf8');
    this.prefixLen = prefix.length;
    // Room for 16 offset digits, the 0x80 terminator and the 8-byte length.
    this.fits = prefix.length + 16 + 9 <= 64;
    if (this.fits) this.block.set(prefix);
  }

  id(offset: number): string {
    if (!this.fits || !Number.isSafeInteger(offset) || offset < 0 || offset >= 1e16) return fileEventId(this.fileId, offset);
    const b = this.block;
    const digits = String(offset);
    let p = this.prefixLen;
    for (let i = 0; i < digits.length; i++) b[p++] = digits.charCodeAt(i);
    const bits = p * 8;
    b[p++] = 0x80;
    while (p < 60) b[p++] = 0;
    b[60] = bits >>> 24;
    b[61] = (bits >>> 16) & 0xff;
    b[62] = (bits >>> 8) & 0xff;
    b[63] = bits & 0xff;
    compress(b);
    return base64url16();
  }
}

function compress(b: Uint8Array): void {
  for (let i = 0; i < 16; i++) W[i] = (b[i * 4]! << 24) | (b[i * 4 + 1]! << 16) | (b[i * 4 + 2]! << 8) | b[i * 4 + 3]!;
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = H0[0]!, bb = H0[1]!, c = H0[2]!, d = H0[3]!, e = H0[4]!, f = H0[5]!, g = H0[6]!, h = H0[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[i]! + W[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & bb) ^ (a & c) ^ (bb & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = bb;
    bb = a;
    a = (t1 + t2) | 0;
  }
  H[0] = (H0[0]! + a) | 0;
  H[1] = (H0[1]! + bb) | 0;
  H[2] = (H0[2]! + c) | 0;
  H[3] = (H0[3]! + d) | 0;
}

/** base64url (no padding) of the first 16 bytes of the digest: 22 characters. */
function base64url16(): string {
  const w0 = H[0]!, w1 = H[1]!, w2 = H[2]!, w3 = H[3]!;
  return String.fromCharCode(
    B64[(w0 >>> 26) & 63]!, B64[(w0 >>> 20) & 63]!, B64[(w0 >>> 14) & 63]!, B64[(w0 >>> 8) & 63]!, B64[(w0 >>> 2) & 63]!,
    B64[((w0 & 3) << 4) | ((w1 >>> 28) & 15)]!, B64[(w1 >>> 22) & 63]!, B64[(w1 >>> 16) & 63]!, B64[(w1 >>> 10) & 63]!,
    B64[(w1 >>> 4) & 63]!, B64[((w1 & 15) << 2) | ((w2 >>> 30) & 3)]!, B64[(w2 >>> 24) & 63]!, B64[(w2 >>> 18) & 63]!,
    B64[(w2 >>> 12) & 63]!, B64[(w2 >>> 6) & 63]!, B64[w2 & 63]!, B64[(w3 >>> 26) & 63]!, B64[(w3 >>> 20) & 63]!,
    B64[(w3 >>> 14) & 63]!, B64[(w3 >>> 8) & 63]!, B64[(w3 >>> 2) & 63]!, B64[(w3 & 3) << 4]!,
  );
}
