import { normalize } from 'node:path';

/**
 * Whether a `path_pattern` can match some path of an include glob: a template that fits
 * none of them is a mistake (every event gets the fallback service and module), reported
 * at config load. Both are read as sequences of path segments (`**` spans any number of
 * them) of simple tokens — literal characters, one character (`?`, a `[class]`), any run
 * (`*`, `{name}`) — and two such patterns can match a common path when the product of the
 * two (a small dynamic program, quadratic in their lengths) reaches both ends. Whatever
 * this reading does not cover is answered "can match": the check never refuses a valid
 * config.
 */
type Tok = { t: 'lit'; c: string } | { t: 'any' } | { t: 'star' } | { t: 'class'; re: RegExp; chars: string[] | undefined };
type Seg = Tok[] | 'globstar';

const ANY: Tok = { t: 'any' };
const MAX_ALTERNATIVES = 64;

class Unsure extends Error {}

export function canMatch(glob: string, template: string): boolean {
  try {
    const b = parse(template, templateSegment);
    return expandBraces(normalize(glob)).some((g) => sequences(parse(g, globSegment), b));
  } catch (err) {
    if (err instanceof Unsure) return true;
    throw err;
  }
}

function parse(path: string, segment: (s: string) => Tok[]): Seg[] {
  return path.split('/').map((s) => {
    if (s === '**') return 'globstar';
    if (s.includes('**')) throw new Unsure();
    return segment(s);
  });
}

function globSegment(s: string): Tok[] {
  const out: Tok[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '*') out.push({ t: 'star' });
    else if (c === '?') out.push(ANY);
    else if (c === '[') {
      const end = s.indexOf(']', i + 2);
      if (end === -1) throw new Unsure();
      out.push(charClass(s.slice(i + 1, end)));
      i = end;
    } else out.push({ t: 'lit', c });
  }
  return out;
}

function templateSegment(s: string): Tok[] {
  const out: Tok[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '{') {
      const end = s.indexOf('}', i);
      if (end === -1) throw new Unsure();
      out.push(ANY, { t: 'star' });
      i = end;
    } else if (c === '*') out.push({ t: 'star' });
    else out.push({ t: 'lit', c });
  }
  return out;
}

function charClass(body: string): Tok {
  const negated = body.startsWith('!');
  const inner = negated ? body.slice(1) : body;
  let re: RegExp;
  try {
    re = new RegExp(`^[${negated ? '^' : ''}${inner.replace(/\\/g, '\\\\')}]$`);
  } catch {
    throw new Unsure();
  }
  if (negated) return { t: 'class', re, chars: undefined };
  // The members of a positive class, when there are few enough to list.
  const chars: string[] = [];
  for (let i = 0; i < inner.length; i++) {
    if (inner[i + 1] === '-' && i + 2 < inner.length) {
      const from = inner.charCodeAt(i);
      const to = inner.charCodeAt(i + 2);
      if (to - from > 1024) return { t: 'class', re, chars: undefined };
      for (let c = from; c <= to; c++) chars.push(String.fromCharCode(c));
      i += 2;
    } else chars.push(inner[i]!);
  }
  return { t: 'class', re, chars: chars.filter((c) => re.test(c)) };
}

/** Can one character satisfy both tokens (neither a star)? Inside a segment: never "/". */
function compat(a: Tok, b: Tok): boolean {
  if (a.t === 'star' || b.t === 'star') throw new Error('compat of a star');
  if (a.t === 'lit' && b.t === 'lit') return a.c === b.c;
  if (a.t === 'lit') return b.t === 'any' || (b.t === 'class' && b.re.test(a.c));
  if (b.t === 'lit') return compat(b, a);
  if (a.t === 'any' && b.t === 'any') return true;
  if (a.t === 'any') return b.t === 'class' && (b.chars === undefined || b.chars.length > 0);
  if (b.t === 'any') return compat(b, a);
  const [x, y] = [a as Extract<Tok, { t: 'class' }>, b as Extract<Tok, { t: 'class' }>];
  if (x.chars) return x.chars.some((c) => y.re.test(c));
  if (y.chars) return y.chars.some((c) => x.re.test(c));
  return true; // two negated classes: some character is in neither exclusion
}

/**
 * Whether two sequences with "star" elements (zero or more of anything the star may take)
 * can produce a common sequence.
 */
function intersect<T>(a: T[], b: T[], isStar: (x: T) => boolean, starTakes: (x: T) => boolean, same: (x: T, y: T) => boolean): boolean {
  const memo = new Map<number, boolean>();
  const f = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r: boolean;
    if (i === a.length && j === b.length) r = true;
    else if (i < a.length && isStar(a[i]!)) r = f(i + 1, j) || (j < b.length && (isStar(b[j]!) || starTakes(b[j]!)) && f(i, j + 1));
    else if (j < b.length && isStar(b[j]!)) r = f(i, j + 1) || (i < a.length && starTakes(a[i]!) && f(i + 1, j));
    else if (i === a.length || j === b.length) r = false;
    else r = same(a[i]!, b[j]!) && f(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return f(0, 0);
}

function sequences(a: Seg[], b: Seg[]): boolean {
  return intersect(
    a,
    b,
    (s) => s === 'globstar',
    () => true,
    (x, y) =>
      intersect(
        x as Tok[],
        y as Tok[],
        (t) => t.t === 'star',
        (t) => compat(ANY, t),
        compat,
      ),
  );
}

/** `{a,b}` alternatives of a glob (nested ones too), as separate globs. */
export function expandBraces(glob: string): string[] {
  const open = glob.indexOf('{');
  if (open === -1) return [glob];
  let depth = 0;
  let close = -1;
  const commas: number[] = [];
  for (let i = open; i < glob.length; i++) {
    const c = glob[i];
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      close = i;
      break;
    } else if (c === ',' && depth === 1) commas.push(i);
  }
  if (close === -1) throw new Unsure();
  const cuts = [open, ...commas, close];
  const out: string[] = [];
  for (let k = 0; k + 1 < cuts.length; k++) {
    const alt = glob.slice(0, open) + glob.slice(cuts[k]! + 1, cuts[k + 1]) + glob.slice(close + 1);
    out.push(...expandBraces(alt));
    if (out.length > MAX_ALTERNATIVES) throw new Unsure();
  }
  return out;
}
