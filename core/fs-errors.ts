/** A failed file read in the words a config error or a startup line uses ("no such file"). */
export function fileErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such file';
  if (e.code === 'EACCES') return 'permission denied';
  if (e.code === 'EISDIR') return 'is a directory, not a file';
  return e.message;
}
