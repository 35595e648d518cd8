import { isIPv6 } from 'node:net';
import { compileRegex } from '../regex.js';

/**
 * The built-in detectors of `type: redact`. Each finds spans of a text to hide; a cheap
 * test of the text (a character or a word the secret cannot be without) runs first, so a
 * line that holds none of them costs a few indexOf calls, not a regex scan per detector.
 *
 * Regex detectors run in linear time (a test checks each compiles for V8's linear engine);
 * the card detector is a hand-written scan.
 */
export interface Span {
  start: number;
  end: number;
  detector: string;
}

export interface Detector {
  name: string;
  /** The regex of a regex detector (tests check it runs in linear time). */
  source?: string;
  /**
   * A regex every text holding such a secret matches (the @ of an email, the keyword of an
   * assignment); the redactor joins the gates of its detectors into one test per value and
   * runs the detectors only on values that pass. A function instead when a scan beats the
   * regex (a run of 13 digits: as a branch of the joined regex it would be tried at every
   * digit of every value, and cost more than all the keywords together). Absent: always run.
   */
  gate?: string | ((text: string) => boolean);
  find(text: string, out: Span[]): void;
}

/** Detectors on by default; ipv4 and ipv6 are opt-in (addresses are often wanted in logs). */
export const DEFAULT_DETECTORS = ['email', 'credit_card', 'bearer_token', 'api_key', 'aws_key'] as const;
export const DETECTORS = [...DEFAULT_DETECTORS, 'ipv4', 'ipv6'] as const;
export type DetectorName = (typeof DETECTORS)[number];

/**
 * A detector from a regex (RE2 syntax, linear time: transforms/regex.ts). With a group
 * named `value`, only that group is hidden (the key of `password=…` stays readable);
 * `accept` may veto a candidate (a Luhn or range check).
 */
export function regexDetector(
  name: string,
  source: string,
  maxMatchBytes: number,
  options: { gate?: string; accept?: (value: string) => boolean } = {},
): Detector {
  const re = compileRegex(source, maxMatchBytes);
  const hasValueGroup = re.names.includes('value');
  const { gate, accept } = options;
  return {
    name,
    source,
    gate,
    find(text, out) {
      re.each(text, (m) => {
        let start = m.start;
        let end = m.end;
        const v = hasValueGroup ? m.group('value') : undefined;
        if (v !== undefined) {
          const at = m.groupStart('value');
          // -1: the group's place is not known (regex.ts), and hiding the whole match hides it too.
          if (at >= 0) {
            start = at;
            end = at + v.length;
          }
        }
        if (end === start || (accept && !accept(text.slice(start, end)))) return;
        out.push({ start, end, detector: name });
      });
    },
  };
}

/** Spellings of a key as programs write it: api_key, API_KEY, ApiKey, apiKey, api-key. */
function keyVariants(words: string[][]): string {
  const out = new Set<string>();
  for (const parts of words) {
    const cap = parts.map((p) => p[0]!.toUpperCase() + p.slice(1));
    for (const sep of ['_', '-', '']) {
      out.add(parts.join(sep));
      out.add(parts.join(sep).toUpperCase());
      out.add(cap.join(sep));
    }
    out.add(parts[0] + cap.slice(1).join(''));
  }
  return [...out].sort((a, b) => b.length - a.length).join('|');
}

const SECRET_KEYS = keyVariants([
  ['api', 'key'],
  ['apikey'],
  ['access', 'token'],
  ['auth', 'token'],
  ['refresh', 'token'],
  ['client', 'secret'],
  ['secret', 'key'],
  ['secret'],
  ['password'],
  ['passwd'],
  ['pwd'],
  ['token'],
]);

const email = (max: number) =>
  regexDetector('email', '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z][A-Za-z]+', max, {
    gate: '@',
  });

const bearer = (max: number) =>
  regexDetector(
    'bearer_token',
    // "Bearer <token>" / "Basic <base64>" credentials, and JWTs wherever they stand.
    '\\b(?:[Bb]earer|BEARER|[Bb]asic|BASIC) +(?<value>[A-Za-z0-9._~+/-]+=*)|\\beyJ[A-Za-z0-9_-]+\\.eyJ[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*',
    max,
    {
      gate: '[Bb]earer|BEARER|[Bb]asic|BASIC|eyJ',
      // "the bearer of", "basic authentication": a credential mixes letters with digits or cases.
      accept: (v) => v.startsWith('eyJ') || (v.length >= 8 && mixesCharacters(v)),
    },
  );

/**
 * Whether v holds a digit or `=`, or letters of both cases. A scan, not a regex: the value
 * may be max_match_bytes long, and `[a-z].*[A-Z]` backtracks quadratically on a run of one
 * case (seconds on 60000 characters).
 */
function mixesCharacters(v: string): boolean {
  let lower = false;
  let upper = false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (isDigit(c) || c === 0x3d) return true;
    if (c >= 0x61 && c <= 0x7a) lower = true;
    else if (c >= 0x41 && c <= 0x5a) upper = true;
    if (lower && upper) return true;
  }
  return false;
}

const apiKey = (max: number) =>
  regexDetector(
    'api_key',
    // Assignments (`password=…`, `"apiKey": "…"`, `token: …`), then formats that are secrets alone.
    `(?:\\b(?:${SECRET_KEYS})["']?\\s*[:=]\\s*["']?(?<value>[^\\s"'&,;}]+))` +
      '|\\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{10}[0-9A-Za-z]*' +
      '|\\bgh[pousr]_[A-Za-z0-9]{16}[A-Za-z0-9]+' +
      '|\\bgithub_pat_[A-Za-z0-9_]{16}[A-Za-z0-9_]+' +
      '|\\bxox[abposr]-[A-Za-z0-9-]{10}[A-Za-z0-9-]*' +
      '|\\bglpat-[A-Za-z0-9_-]{16}[A-Za-z0-9_-]*' +
      '|\\bAIza[0-9A-Za-z_-]{16}[0-9A-Za-z_-]+',
    max,
    {
      // Every key spelling contains one of these words; then the formats' prefixes.
      gate: '[Kk]ey|KEY|[Tt]oken|TOKEN|[Ss]ecret|SECRET|[Pp]ass|PASS|[Pp]wd|PWD|_live_|_test_|gh[pousr]_|github_pat_|xox|glpat-|AIza',
      accept: (v) => v.length >= 3 && v !== 'null' && v !== 'true' && v !== 'false',
    },
  );

const aws = (max: number) =>
  regexDetector(
    'aws_key',
    // Access key ids (AKIA… long-term, ASIA… temporary) and the secret in an assignment.
    '\\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\\b' +
      '|\\b(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|SecretAccessKey|secretAccessKey)["\']?\\s*[:=]\\s*["\']?(?<value>[A-Za-z0-9/+=]+)',
    max,
    {
      gate: 'A[KSGIRPN][IPDRN]A|[Ss]ecret_?[Aa]ccess|SECRET_ACCESS',
      accept: (v) => v.length === 20 || v.length === 40,
    },
  );

// Any dotted run of numbers, kept only with four parts: 1.2.3.4.5 is a version, not an address.
const ipv4 = (max: number) =>
  regexDetector('ipv4', '\\b\\d+(?:\\.\\d+)+\\b', max, {
    gate: '\\d\\.\\d',
    accept: (v) => {
      const parts = v.split('.');
      return parts.length === 4 && parts.every((o) => o.length <= 3 && Number(o) <= 255 && (o.length === 1 || o[0] !== '0'));
    },
  });

const ipv6 = (max: number) =>
  regexDetector('ipv6', '(?:^|[^0-9A-Za-z_:.])(?<value>[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*[0-9A-Fa-f])', max, {
    gate: ':',
    accept: (v) => isIPv6(v) && /[0-9A-Fa-f]/.test(v) && !/^\d\d?:\d\d:\d\d(\.\d+)?$/.test(v),
  });

/**
 * Payment card numbers: 13 to 19 digits, in groups separated by single spaces or dashes
 * (one kind per number), starting with a card network's digit (2-6), passing the Luhn
 * check. A run that continues into another number (`4111 1111 1111 1111 2024`) is tried at
 * its shorter group boundaries too.
 */
const CARD_CANDIDATE = '\\d[\\d -]{11}[\\d -]*\\d';

const creditCard = (max: number): Detector => {
  const candidate = compileRegex(CARD_CANDIDATE, max);
  return {
    name: 'credit_card',
    gate: (text) => hasCardRun(text, max),
    // The regex finds runs of 13+ digits, spaces and dashes; the scan checks them.
    find: (text, out) => candidate.each(text, (m) => scanCards(text, m.start, m.end, out)),
  };
};

/**
 * Whether the head of text (maxChars) holds what CARD_CANDIDATE matches: 13 or more
 * digits, spaces and dashes, from a digit to a digit. Such a run covers 13 positions in a
 * row, so looking at every 13th character finds a place in any of them: a character outside
 * the run alphabet there rules out every run through it, and most values (words, paths,
 * ids) are passed over at a 13th of a character-by-character scan. Around a character that
 * can be in a run, the run is measured whole. No allocation; each character is read at most
 * three times.
 */
export function hasCardRun(text: string, maxChars: number): boolean {
  const n = Math.min(text.length, maxChars);
  let i = 12;
  while (i < n) {
    if (!inCardRun(text.charCodeAt(i))) {
      i += 13;
      continue;
    }
    let start = i;
    while (start > 0 && inCardRun(text.charCodeAt(start - 1))) start--;
    let end = i + 1;
    while (end < n && inCardRun(text.charCodeAt(end))) end++;
    while (start < end && !isDigit(text.charCodeAt(start))) start++;
    let last = end - 1;
    while (last > start && !isDigit(text.charCodeAt(last))) last--;
    if (last - start >= 12) return true;
    // text[end] is outside the run alphabet (or the head ends there).
    i = end + 13;
  }
  return false;
}

function inCardRun(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x20 || c === 0x2d;
}

/** The card numbers in text[from, to) (a run of digits, spaces and dashes). */
function scanCards(text: string, from: number, n: number, out: Span[]): void {
  let i = from;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (!isDigit(c) || (i > 0 && isWordChar(text.charCodeAt(i - 1)))) {
      i++;
      continue;
    }
    const start = i;
    let digits = 0;
    let sep = -1;
    // Ends of digit groups (index after the group, digits so far), for the shorter tries.
    const ends: [number, number][] = [];
    let j = i;
    while (j < n && digits <= 19) {
      const d = text.charCodeAt(j);
      if (isDigit(d)) {
        digits++;
        j++;
        continue;
      }
      if ((d === 0x20 || d === 0x2d) && j + 1 < n && isDigit(text.charCodeAt(j + 1)) && (sep === -1 || sep === d)) {
        sep = d;
        ends.push([j, digits]);
        j++;
        continue;
      }
      break;
    }
    const wordAfter = j < text.length && isWordChar(text.charCodeAt(j));
    if (!wordAfter) ends.push([j, digits]);
    let matched = false;
    for (let k = ends.length - 1; k >= 0; k--) {
      const [end, count] = ends[k]!;
      if (count < 13 || count > 19) continue;
      if (isCardNumber(text, start, end, count)) {
        out.push({ start, end, detector: 'credit_card' });
        i = end;
        matched = true;
        break;
      }
    }
    if (!matched) {
      // Skip this run of digits (not its separators: a card may follow after one).
      while (i < n && isDigit(text.charCodeAt(i))) i++;
    }
  }
}

function isCardNumber(text: string, start: number, end: number, count: number): boolean {
  const first = text.charCodeAt(start) - 0x30;
  return first >= 2 && first <= 6 && luhnOver(text, start, end, count);
}

/** The Luhn checksum over the digits of text[start, end), which must number `count`. */
function luhnOver(text: string, start: number, end: number, count: number): boolean {
  let sum = 0;
  let double = false;
  let seen = 0;
  for (let k = end - 1; k >= start; k--) {
    const c = text.charCodeAt(k);
    if (!isDigit(c)) continue;
    let d = c - 0x30;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
    seen++;
  }
  return seen === count && sum % 10 === 0;
}

export function luhn(digits: string): boolean {
  return luhnOver(digits, 0, digits.length, digits.length);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isWordChar(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

/** The built-in detectors, made for a redact transform's max_match_bytes. */
export const BUILT_IN: Readonly<Record<DetectorName, (maxMatchBytes: number) => Detector>> = {
  email,
  credit_card: creditCard,
  bearer_token: bearer,
  api_key: apiKey,
  aws_key: aws,
  ipv4,
  ipv6,
};
