import { z } from 'zod';
import { checkTreeOptions, treeSinkOptions } from './tree-options.js';

/**
 * A file mode written as octal text ("0640"). An unquoted 0640 is the decimal number 640 in
 * YAML 1.2, so numbers are refused with the quoted spelling as the fix.
 */
const fileMode = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const m = typeof v === 'string' ? /^0?o?([0-7]{3})$/.exec(v.trim()) : null;
    if (m) {
      const mode = Number.parseInt(m[1]!, 8);
      if ((mode & 0o600) === 0o600) return mode;
      ctx.addIssue({
        code: 'custom',
        message: `file mode "${v}" must let the owner read and write (6 as its first digit): the sink reopens files after a crash`,
      });
      return z.NEVER;
    }
    const hint =
      typeof v === 'number' && /^[0-7]{3}$/.test(String(v)) ? ` (YAML reads an unquoted ${v} as a decimal number: write "0${v}")` : '';
    ctx.addIssue({ code: 'custom', message: `expected a file mode as quoted octal text such as "0640", got ${JSON.stringify(v)}${hint}` });
    return z.NEVER;
  });

/** Options of the `file` sink (everything besides `type`); strict, so a misspelt key is an error. */
export const fileSinkOptions = z
  .strictObject({
    root: z
      .string()
      .min(1)
      .default('./var/out')
      .describe(
        'Directory the tree is written under (relative paths are relative to the working directory); nothing is ever written outside it',
      ),
    ...treeSinkOptions({
      max: 100_000,
      default: 256,
      describe: 'Files open at once; opening one more finishes the least recently written',
    }),
    file_mode: fileMode()
      .default(0o640)
      .describe(
        'Permissions of the files written, as quoted octal ("0640": owner writes, group reads, others nothing); applied as given, whatever the umask',
      ),
  })
  .superRefine((o, ctx) => checkTreeOptions(o, ctx))
  .describe(
    "Writes events into a file tree partitioned by service, module and day, with in-progress files renamed when finished (like Flume's HDFS sink)",
  );

export type FileSinkOptions = z.output<typeof fileSinkOptions>;
export type FileSinkInput = z.input<typeof fileSinkOptions>;
