import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { replaceFile } from '../../../core/durable-file.js';
import type { SourceCheckpoint } from '../../../core/pipeline.js';

/**
 * The committed position: everything before (segment, offset) and the first `skip` events
 * of the record at offset have been committed by the taker. It also carries the newest
 * checkpoint of every source whose records were committed, so deleting a segment never
 * forgets a source's position.
 *
 * Written atomically (temp file, fsync, rename, fsync of the directory): a crash leaves
 * either the old or the new pointer, never an empty or half-written one. A CRC on the
 * first line catches a file damaged afterwards.
 */
export interface Pointer {
  segment: number;
  offset: number;
  skip: number;
  checkpoints: Record<string, SourceCheckpoint>;
}

export const POINTER_FILE = 'pointer.json';

export function encodePointer(p: Pointer): Buffer {
  const body = JSON.stringify({ v: 1, segment: p.segment, offset: p.offset, skip: p.skip, checkpoints: p.checkpoints });
  const crc = crc32(body).toString(16).padStart(8, '0');
  return Buffer.from(`${crc}\n${body}\n`);
}

export type PointerRead = { kind: 'missing' } | { kind: 'ok'; pointer: Pointer } | { kind: 'damaged'; reason: string };

export async function readPointer(dir: string): Promise<PointerRead> {
  let text: string;
  try {
    text = await readFile(join(dir, POINTER_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  const nl = text.indexOf('\n');
  const body = nl < 0 ? '' : text.slice(nl + 1).replace(/\n$/, '');
  if (nl !== 8 || crc32(body).toString(16).padStart(8, '0') !== text.slice(0, 8)) {
    return { kind: 'damaged', reason: 'checksum mismatch' };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (err) {
    return { kind: 'damaged', reason: `invalid JSON (${(err as Error).message})` };
  }
  const r = raw as Record<string, unknown>;
  const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (
    r.v !== 1 ||
    !isCount(r.segment) ||
    !isCount(r.offset) ||
    !isCount(r.skip) ||
    typeof r.checkpoints !== 'object' ||
    r.checkpoints === null
  ) {
    return { kind: 'damaged', reason: 'unexpected content' };
  }
  return {
    kind: 'ok',
    pointer: { segment: r.segment, offset: r.offset, skip: r.skip, checkpoints: r.checkpoints as Record<string, SourceCheckpoint> },
  };
}

export async function writePointer(dir: string, p: Pointer): Promise<void> {
  await replaceFile(join(dir, POINTER_FILE), encodePointer(p));
}
