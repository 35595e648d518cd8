import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, test } from 'vitest';
import { waitFor } from '../../../test/support/index.js';
import type { FileSource } from './source.js';
import { RecordingChannel, sourcesUnderTest } from './testing.js';

/**
 * `encoding:` round trips from bytes written by a real encoder (Python's codecs, at test
 * time): text exactly as written, lines split on the encoded newline, offsets (ids,
 * checkpoints) in bytes of the file as it is.
 */
const sources = sourcesUnderTest('file-encoding');
let dir: string;
beforeEach(() => {
  dir = sources.dir;
});

interface Written {
  file: string;
  encoding: string;
  lines: string[];
  offsets: number[];
  size: number;
}

/** name: [sluice encoding, python codec, BOM, lines]; lines alternate LF and CRLF endings. */
const PY = String.raw`
import codecs, json, sys
d, append = sys.argv[1], sys.argv[2] == 'append'
cases = {
  'utf16le-bom': ('utf-16le', 'utf-16-le', codecs.BOM_UTF16_LE, ['a\u0a0ab \U0001F600 emoji', '\u010a\u0a0a mid', 'ünïcödé', '']),
  'utf16be-bom': ('utf-16le', 'utf-16-be', codecs.BOM_UTF16_BE, ['big \u0a0a endian', '\U0001F4A9 \u010a', 'last']),
  'utf16be': ('utf-16be', 'utf-16-be', b'', ['no bom \u0a0a', 'second \u010a']),
  'sjis': ('shift_jis', 'shift_jis', b'', ['日本語のログ 表示 能力 ソ', 'ｶﾀｶﾅ 半角', 'ascii line']),
  'gbk': ('gbk', 'gbk', b'', ['中文日志 第一行', '错误：连接超时', 'mixed ascii 中']),
  'gb18030': ('gb18030', 'gb18030', b'', ['\U0001F600 四字节', '𠀀 ext-b']),
  'euckr': ('euc-kr', 'euc-kr', b'', ['한국어 로그', '두번째 줄']),
  'cp1252': ('windows-1252', 'cp1252', b'', ['café €5 — “quoted”', 'naïve ‘single’ …', 'Œuvre ž Ÿ']),
  'latin1': ('iso-8859-1', 'latin-1', b'', ['café ü ß', 'C1: \x85\x9f end', 'ÿ þ']),
}
out = {}
for name, (label, codec, bom, lines) in cases.items():
  if append:
    lines = [l + ' (after restart)' for l in lines]
  path = d + '/' + name + '.log'
  mode = 'ab' if append else 'wb'
  pos = 0
  if append:
    import os
    pos = os.path.getsize(path)
  offsets = []
  with open(path, mode) as f:
    if not append:
      f.write(bom)
      pos = len(bom)
    for i, line in enumerate(lines):
      data = (line + ('\r\n' if i % 2 else '\n')).encode(codec)
      offsets.append(pos)
      f.write(data)
      pos += len(data)
  out[name] = {'file': path, 'encoding': label, 'lines': lines, 'offsets': offsets, 'size': pos}
print(json.dumps(out))
`;

function write(append = false): Record<string, Written> {
  const r = spawnSync('python3', ['-c', PY, dir, append ? 'append' : 'new'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('files in other encodings arrive as the text that was written', () => {
  test('UTF-16 (BOM decides the byte order), Shift_JIS, GBK, GB18030, EUC-KR, Windows-1252, ISO-8859-1; restarts resume at byte offsets', async () => {
    const cases = write();
    const channels = new Map<string, RecordingChannel>();
    const started: FileSource[] = [];
    for (const [name, c] of Object.entries(cases)) {
      const ch = new RecordingChannel();
      channels.set(name, ch);
      started.push(await sources.start({ include: [c.file], encoding: c.encoding }, ch, name));
    }
    for (const [name, c] of Object.entries(cases)) {
      const ch = channels.get(name)!;
      await waitFor(`${name}: ${c.lines.length} events`, () => ch.events.length === c.lines.length);
      expect([name, ch.messages()]).toEqual([name, c.lines]);
      expect([name, ch.events.map((e) => e.source.offset)]).toEqual([name, c.offsets]);
    }

    for (const s of started) await sources.stop(s);
    const more = write(true);
    for (const [name, c] of Object.entries(more)) {
      const before = channels.get(name)!;
      const state = before.lastCheckpoint()!.state as { files: Record<string, { pos: number }> };
      expect([name, Object.values(state.files)[0]!.pos]).toEqual([name, cases[name]!.size]);
      const ch = new RecordingChannel(before.lastCheckpoint());
      await sources.start({ include: [c.file], encoding: c.encoding }, ch, name);
      await waitFor(`${name}: the lines written after the restart`, () => ch.events.length === c.lines.length);
      expect([name, ch.messages()]).toEqual([name, c.lines]);
      expect([name, ch.events.map((e) => e.source.offset)]).toEqual([name, c.offsets]);
    }
  });

  test('a UTF-16 line over max_event_bytes is cut on a character boundary and stays within the bound as UTF-8', async () => {
    const file = join(dir, 'long16.log');
    const long = `${'日本'.repeat(2000)}😀`;
    writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${long}\nnext\n`, 'utf16le')]));
    const ch = new RecordingChannel();
    await sources.start({ include: [file], encoding: 'utf-16', max_event_bytes: '4KiB' }, ch, 'long16');
    await waitFor('2 events', () => ch.events.length === 2);
    const [cut, next] = ch.events;
    expect(long.startsWith(cut!.message)).toBe(true);
    expect(Buffer.byteLength(cut!.message)).toBeLessThanOrEqual(4096);
    expect(cut!.fields['log.truncated']).toBe(true);
    expect(next).toMatchObject({ message: 'next', source: { offset: 2 + (long.length + 1) * 2 } });
    expect(readFileSync(file).length).toBe(2 + (long.length + 6) * 2);
  });
});
