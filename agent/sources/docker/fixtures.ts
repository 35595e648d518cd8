/**
 * Test support: container log files written the way the runtimes write them.
 *
 * Docker (daemon/logger/copier.go, jsonfilelog): a stream is cut into messages at "\n" or,
 * with no newline, every 16 KiB of bytes (a partial message); each message is encoded on
 * its own — its bytes, plus "\n" unless it is a partial — as the JSON string "log", with
 * Go's escaping of <, >, &, U+2028/9 and one \ufffd for every byte that is not part of a
 * complete UTF-8 character (so a character cut at 16 KiB becomes U+FFFDs).
 * containerd / CRI-O: `<RFC3339Nano> <stream> <P|F> <bytes>`; P pieces of max 16 KiB raw bytes.
 */
export const SPLIT = 16 * 1024;

function seqLen(b: number): number {
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

/** Go's ffjsonWriteJSONBytesAsString. */
export function goJsonString(s: Buffer): string {
  const hex = '0123456789abcdef';
  let out = '"';
  for (let i = 0; i < s.length; ) {
    const b = s[i]!;
    if (b < 0x80) {
      if (b >= 0x20 && b !== 0x5c && b !== 0x22 && b !== 0x3c && b !== 0x3e && b !== 0x26) out += String.fromCharCode(b);
      else if (b === 0x5c || b === 0x22) out += `\\${String.fromCharCode(b)}`;
      else if (b === 10) out += '\\n';
      else if (b === 13) out += '\\r';
      else out += `\\u00${hex[b >> 4]}${hex[b & 15]}`;
      i++;
      continue;
    }
    const n = seqLen(b);
    let ok = n > 0 && i + n <= s.length;
    for (let k = 1; ok && k < n; k++) ok = (s[i + k]! & 0xc0) === 0x80;
    if (!ok) {
      out += '\\ufffd';
      i++;
      continue;
    }
    const ch = s.subarray(i, i + n).toString('utf8');
    out += ch === '\u2028' ? '\\u2028' : ch === '\u2029' ? '\\u2029' : ch;
    i += n;
  }
  return `${out}"`;
}

let clock = Date.UTC(2024, 4, 1, 12, 0, 0);
/** Distinct, increasing runtime timestamps with nanoseconds, as the runtimes print them. */
export function nextTime(): { text: string; ms: number } {
  clock += 7;
  const ms = clock;
  return { text: new Date(ms).toISOString().replace('Z', '123456Z'), ms };
}

/** The json-file lines for one write of `text` (ending in "\n" unless `eof`) to a stream. */
export function dockerLines(text: string | Buffer, stream: 'stdout' | 'stderr', times: number[] = []): string {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  let out = '';
  for (let p = 0; p < bytes.length || p === 0; p += SPLIT) {
    const last = p + SPLIT >= bytes.length;
    const piece = bytes.subarray(p, Math.min(bytes.length, p + SPLIT));
    const log = last ? Buffer.concat([piece, Buffer.from('\n')]) : piece;
    const t = nextTime();
    times.push(t.ms);
    out += `{"log":${goJsonString(log)},"stream":"${stream}","time":"${t.text}"}\n`;
    if (last) break;
  }
  return out;
}

/** One json-file record of `log` as given (without "\n" it is a partial), written at `ms` (default: the next fixture time). */
export function dockerRecord(log: string, stream: 'stdout' | 'stderr', ms?: number): string {
  const time = ms === undefined ? nextTime().text : new Date(ms).toISOString().replace('Z', '123456Z');
  return `{"log":${goJsonString(Buffer.from(log))},"stream":"${stream}","time":"${time}"}\n`;
}

/** The CRI lines for one line `text` of a stream. */
export function criLines(text: string | Buffer, stream: 'stdout' | 'stderr', times: number[] = []): Buffer {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  const out: Buffer[] = [];
  for (let p = 0; p < bytes.length || p === 0; p += SPLIT) {
    const last = p + SPLIT >= bytes.length;
    const t = nextTime();
    times.push(t.ms);
    out.push(
      Buffer.from(`${t.text} ${stream} ${last ? 'F' : 'P'} `),
      bytes.subarray(p, Math.min(bytes.length, p + SPLIT)),
      Buffer.from('\n'),
    );
    if (last) break;
  }
  return Buffer.concat(out);
}

/** Docker's config.v2.json, with only the keys the source reads and a few it must ignore. */
export function dockerConfig(id: string, name: string, image: string, labels: Record<string, string>): string {
  return JSON.stringify({
    ID: id,
    Name: `/${name}`,
    Created: '2024-05-01T11:59:00.000000000Z',
    Path: '/app/run',
    Config: { Hostname: id.slice(0, 12), Image: image, Labels: labels, Env: ['PATH=/usr/bin'] },
    State: { Running: true, Pid: 4242 },
    LogPath: `/var/lib/docker/containers/${id}/${id}-json.log`,
  });
}
