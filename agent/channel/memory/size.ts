import type { FieldValue, LogEvent } from '../../../core/event.js';

/**
 * Approximate memory an event holds: its string lengths plus a fixed overhead per event
 * and per field. Cheap enough for every put (no encoding), close enough to bound memory.
 */
export function eventBytes(e: LogEvent): number {
  const s = e.source;
  let n = 128 + e.id.length + e.message.length + e.service.length + e.module.length + e.host.length;
  n += s.kind.length + (s.path?.length ?? 0) + (s.fileId?.length ?? 0) + (s.container?.length ?? 0) + (s.stream?.length ?? 0);
  for (const key in e.fields) n += 16 + key.length + valueBytes(e.fields[key]!);
  return n;
}

function valueBytes(v: FieldValue): number {
  if (typeof v === 'string') return v.length;
  if (v === null || typeof v !== 'object') return 8;
  let n = 16;
  if (Array.isArray(v)) for (const item of v) n += valueBytes(item);
  else for (const key in v) n += 16 + key.length + valueBytes(v[key]!);
  return n;
}
