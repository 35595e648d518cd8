import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { lstat, mkdir, readdir } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { syncDir } from '../../core/durable-file.js';

/**
 * Names in the tree. The template gives a file's base path (`shop/web/2024-05-01/host-1.log`);
 * each file written there gets a sequence number (`host-1.000001.log`), so a file rolled
 * by size, age or idleness is never reopened or overwritten: the next one gets the next
 * number (Vector users lose data when a closed file is reopened and clobbered). While
 * written, a file has a hidden in-progress name (`.host-1.000001.log.inprogress`) that
 * readers globbing `*.log` skip; it is renamed when finished.
 */
export const IN_PROGRESS_SUFFIX = '.inprogress';
const SEQ_DIGITS = 6;
const MAX_SEGMENT_BYTES = 200;

const UNSAFE_IN_SEGMENT = /[\u0000-\u001f\u007f-\u009f/\\]/g;
const MAX_VALUE_BYTES = 100;

/**
 * The file sink's rule for an event value in a path: one harmless segment. No separators,
 * no control characters, no `..`, no leading dot (hidden names are the sink's in-progress
 * files), at most 100 bytes. Log content and container labels end up here, so this is what
 * keeps the sink inside its root whatever the data says. A value with nothing usable left
 * (blank) gives '', and the template renders the placeholder's fallback (`unknown`).
 */
/** A UTF-16 surrogate without its pair (code units, no `u` flag; linear). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function safePathSegment(value: string): string {
  // A lone surrogate (which the wire carries as a JSON escape) has no UTF-8 form: the file
  // system would store U+FFFD while the journal remembered the surrogate, and a restart
  // would find no length for the file and delete it; WebHDFS URLs cannot encode it at all.
  let s = value
    .replace(LONE_SURROGATE, '_')
    .replace(UNSAFE_IN_SEGMENT, '_')
    .replace(/\.{2,}/g, (dots) => '_'.repeat(dots.length));
  if (s.startsWith('.')) s = `_${s.slice(1)}`;
  if (Buffer.byteLength(s) > MAX_VALUE_BYTES) s = cutBytes(s, MAX_VALUE_BYTES);
  return s.trim() === '' ? '' : s;
}

/** At most `max` UTF-8 bytes of `s`, never cutting a character in half. */
function cutBytes(s: string, max: number): string {
  const cut = Buffer.from(s).subarray(0, max).toString('utf8');
  let end = cut.length;
  while (end > 0 && cut.length - end < 3 && cut.charCodeAt(end - 1) === 0xfffd) end--;
  return cut.slice(0, end);
}

/** Checks the literal structure of a path template: relative, no empty, `.` or `..` segments. */
export function checkPathTemplate(text: string): void {
  const fail = (why: string) => {
    throw new Error(`path template ${JSON.stringify(text)}: ${why}`);
  };
  if (isAbsolute(text) || text.startsWith('/')) fail('must be relative to root (no leading "/")');
  if (/[\\\u0000]/.test(text)) fail('must not contain "\\" or NUL');
  for (const segment of text.split('/')) {
    if (segment === '') fail('has an empty segment ("//" or a trailing "/")');
    if (segment === '.' || segment === '..') fail(`segment "${segment}" is not allowed`);
    if (segment.startsWith('.')) fail(`segment "${segment}" starts with "." (hidden names are in-progress files)`);
  }
}

/** The parts of a file's name: `host-1.log` -> stem `host-1`, ext `.log`. */
export interface BaseName {
  stem: string;
  ext: string;
}

export function splitBaseName(name: string): BaseName {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? { stem: name.slice(0, dot), ext: name.slice(dot) } : { stem: name, ext: '' };
}

export function finalName(base: BaseName, seq: number, gzip: boolean): string {
  return `${base.stem}.${String(seq).padStart(SEQ_DIGITS, '0')}${base.ext}${gzip ? '.gz' : ''}`;
}

export function inProgressName(final: string): string {
  return `.${final}${IN_PROGRESS_SUFFIX}`;
}

/** The finished name of an in-progress file, or undefined when `name` is not one. */
export function finalNameOf(name: string): string | undefined {
  return name.startsWith('.') && name.endsWith(IN_PROGRESS_SUFFIX) && name.length > 1 + IN_PROGRESS_SUFFIX.length
    ? name.slice(1, -IN_PROGRESS_SUFFIX.length)
    : undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The next free sequence number for `base` among `names` (finished and in-progress files of one directory). */
export function nextSeqAmong(names: Iterable<string>, base: BaseName, gzip: boolean): number {
  const pattern = new RegExp(
    `^\\.?${escapeRegExp(base.stem)}\\.(\\d+)${escapeRegExp(base.ext)}${gzip ? '\\.gz' : ''}(?:${escapeRegExp(IN_PROGRESS_SUFFIX)})?$`,
  );
  let max = 0;
  for (const name of names) {
    const m = pattern.exec(name);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

/** The entries of a directory of the tree; none when it is gone (a day deleted, a tree not written yet). */
export async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The next free sequence number for `base` in `dir`, counting finished and in-progress files. */
export async function nextSeq(dir: string, base: BaseName, gzip: boolean): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 1;
    throw err;
  }
  return nextSeqAmong(names, base, gzip);
}

/** A segment too long for a file name keeps its start and gets a hash of the whole, so distinct values stay distinct. */
export function fitSegment(segment: string): string {
  if (Buffer.byteLength(segment) <= MAX_SEGMENT_BYTES) return segment;
  const hash = createHash('sha256').update(segment).digest('hex').slice(0, 12);
  return `${cutBytes(segment, MAX_SEGMENT_BYTES - 13)}~${hash}`;
}

/**
 * Creates the directories `segments` under `root`, one level at a time, refusing any
 * existing entry on the way that is not a real directory: a symlink planted in the tree
 * (by a user, or by a log line naming a directory that someone linked) must not lead
 * writes, not even a mkdir, outside root. Each new directory entry is made durable: a file
 * whose data was fsync'd is lost all the same if the directory naming it was not.
 */
export async function ensureDirInside(root: string, segments: readonly string[]): Promise<string> {
  let dir = root;
  for (const segment of segments) {
    const next = join(dir, segment);
    try {
      await mkdir(next);
      await syncDir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await lstat(next);
      if (!st.isDirectory())
        throw new PathRefusedError(
          `refusing to write under ${next}: it is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}, and the sink only writes into real directories under its root ${root}`,
        );
    }
    dir = next;
  }
  return dir;
}

/** A path the sink will never write to as it stands (a symlink or a file where a directory must be). */
export class PathRefusedError extends Error {
  override readonly name = 'PathRefusedError';
}

/**
 * Errors that say this path is refused for good, whatever the retry: its events are
 * dead-lettered while the rest of the batch is written. Everything else (ENOSPC, EIO,
 * EMFILE...) is the tree being unwell, retried for the whole batch.
 */
const REFUSED_CODES = new Set(['EACCES', 'EPERM', 'ENAMETOOLONG', 'ENOTDIR', 'EISDIR', 'ELOOP']);

export function isRefusedPath(err: unknown): boolean {
  return err instanceof PathRefusedError || REFUSED_CODES.has((err as NodeJS.ErrnoException)?.code ?? '');
}

/** True when `path` is `root` itself or inside it. */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}
