/**
 * A put's record is hundreds of KiB, and a fresh allocation that size (mmap, a page fault
 * per 4 KiB when first written, munmap) cost more than encoding the events in it. The
 * channel hands a record back with releaseRecord() once it is on disk, and a later put
 * reuses the memory. Sizes are rounded up to a power of two so records of similar puts
 * share buffers.
 */
const POOL_MIN_BYTES = 64 * 1024;
const POOL_MAX_FREE_BYTES = 64 << 20;
const framesInUse = new WeakSet<ArrayBuffer>();
const freeFrames = new Map<number, ArrayBuffer[]>();
let freeFrameBytes = 0;

export function allocFrame(size: number): Buffer {
  if (size < POOL_MIN_BYTES) return Buffer.allocUnsafe(size);
  const bytes = 2 ** Math.ceil(Math.log2(size));
  let memory = freeFrames.get(bytes)?.pop();
  if (memory) freeFrameBytes -= bytes;
  else memory = Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
  framesInUse.add(memory);
  return Buffer.from(memory, 0, size);
}

/** Gives the memory of a record encodeRecord returned back for reuse; the record must not be used after. */
export function releaseRecord(frame: Buffer): void {
  const memory = frame.buffer as ArrayBuffer;
  // Anything else, or a second release of the same record, is ignored: reuse while in use would corrupt records.
  if (!framesInUse.delete(memory) || freeFrameBytes + memory.byteLength > POOL_MAX_FREE_BYTES) return;
  let list = freeFrames.get(memory.byteLength);
  if (!list) freeFrames.set(memory.byteLength, (list = []));
  list.push(memory);
  freeFrameBytes += memory.byteLength;
}
