import { describe, expect, it } from 'vitest';
import { fileSinkOptions } from './options.js';

describe('file sink options', () => {
  it('writes files 0640 unless file_mode says otherwise, as quoted octal', () => {
    expect(fileSinkOptions.parse({}).file_mode).toBe(0o640);
    expect(fileSinkOptions.parse({ file_mode: '0644' }).file_mode).toBe(0o644);
    expect(fileSinkOptions.parse({ file_mode: '600' }).file_mode).toBe(0o600);
  });

  it('refuses an unquoted mode (a decimal number to YAML) with the quoted spelling, and modes the sink cannot reopen', () => {
    expect(fileSinkOptions.safeParse({ file_mode: 640 }).error?.issues[0]?.message).toBe(
      'expected a file mode as quoted octal text such as "0640", got 640 (YAML reads an unquoted 640 as a decimal number: write "0640")',
    );
    expect(fileSinkOptions.safeParse({ file_mode: '0440' }).error?.issues[0]?.message).toContain('must let the owner read and write');
    expect(fileSinkOptions.safeParse({ file_mode: 'rw-r-----' }).success).toBe(false);
  });

  it('wants units on sizes and durations', () => {
    const issues = fileSinkOptions.safeParse({ roll_age: 3600, roll_size: 128 }).error?.issues.map((i) => i.message);
    expect(issues).toEqual([
      expect.stringContaining('did you mean "128B" or "128MiB"?'),
      expect.stringContaining('did you mean "3600s" or "3600ms"?'),
    ]);
  });
});
