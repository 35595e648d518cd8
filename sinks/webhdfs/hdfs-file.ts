import { type BaseName, finalName, finalNameOf, fitSegment, inProgressName, splitBaseName } from '../file/paths.js';

/** One in-progress file on HDFS, written by this sink only. */
export interface HdfsFile {
  rel: string;
  dir: string;
  base: BaseName;
  seq: number;
  /** The lane (Kafka partition) whose events it holds, when the sink writes per lane (lanes.ts). */
  lane?: string;
  /** The in-progress path (also its name in the write journal). */
  path: string;
  finalPath: string;
  /** Bytes acknowledged: everything in the file before this offset is durable and journaled. */
  length: number;
  /** The file exists on HDFS (false until its first CREATE went through). */
  created: boolean;
  /** A write to it failed: its length and lease must be checked before the next one. */
  suspect: boolean;
  openedAt: number;
  lastWriteAt: number;
}

/** Where the file for a tree path goes: its directory under `root` and its name's parts. */
export function placeOf(root: string, rel: string): { dir: string; base: BaseName } {
  const segments = rel.split('/').map(fitSegment);
  const baseName = segments.pop()!;
  return { dir: [root === '/' ? '' : root, ...segments].join('/'), base: splitBaseName(baseName) };
}

/** A file to write, numbered `seq` in `dir`: it exists on HDFS once its first write (a CREATE) went through. */
export function freshFile(rel: string, lane: string | undefined, dir: string, base: BaseName, seq: number, gzip: boolean): HdfsFile {
  const now = Date.now();
  const file: HdfsFile = {
    rel,
    ...(lane === undefined ? {} : { lane }),
    dir,
    base,
    seq,
    path: '',
    finalPath: '',
    length: 0,
    created: false,
    suspect: false,
    openedAt: now,
    lastWriteAt: now,
  };
  return numbered(file, seq, gzip);
}

/** Gives the file number `seq`: its in-progress and final paths follow (another writer took the one before). */
export function numbered(file: HdfsFile, seq: number, gzip: boolean): HdfsFile {
  file.seq = seq;
  file.path = `${file.dir}/${inProgressName(finalName(file.base, seq, gzip))}`;
  file.finalPath = `${file.dir}/${finalName(file.base, seq, gzip)}`;
  return file;
}

/** An in-progress file a previous run left at `path`, `length` bytes of it acknowledged: settled before it is finished. */
export function leftFile(path: string, length: number): HdfsFile {
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash);
  return {
    rel: '',
    dir,
    base: { stem: '', ext: '' },
    seq: 0,
    path,
    finalPath: `${dir}/${finalNameOf(path.slice(slash + 1)) ?? path.slice(slash + 1)}`,
    length,
    created: true,
    suspect: true,
    openedAt: 0,
    lastWriteAt: 0,
  };
}
