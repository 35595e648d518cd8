import { compileRegex, type Match, type SafeRegex } from '../regex.js';
import { GROK_PATTERNS } from './grok-patterns.js';

/**
 * Grok expressions (`%{NAME}`, `%{NAME:field}`, `%{NAME:field:int}`) and plain regular
 * expressions with named groups (RE2 syntax, transforms/regex.ts), compiled into one regex plus the list of what each
 * capture becomes. Capture groups get generated names (`_g0`, `_g1`, …), so a field may be
 * dotted (`%{IP:client.ip}`) and two alternatives may fill the same field.
 */
export type Conversion = 'string' | 'int' | 'float' | 'bool';
export const CONVERSIONS: readonly Conversion[] = ['string', 'int', 'float', 'bool'];

export interface Capture {
  group: string;
  field: string;
  type: Conversion;
}

export interface CompiledPattern {
  source: string;
  pattern: SafeRegex;
  captures: Capture[];
}

const FIELD = /^[A-Za-z_@][A-Za-z0-9_.@-]*$/;
const MAX_DEPTH = 32;

/** Expands a grok expression; throws Error naming what is wrong (unknown pattern, cycle, bad field or type). */
export function compileGrok(
  expression: string,
  definitions: Readonly<Record<string, string>>,
  types: Readonly<Record<string, Conversion>>,
  maxMatchBytes: number,
): CompiledPattern {
  const captures: Capture[] = [];
  const library = { ...GROK_PATTERNS, ...definitions };
  const expand = (text: string, depth: number, trail: string[]): string => {
    if (depth > MAX_DEPTH) throw new Error(`patterns nest deeper than ${MAX_DEPTH}: ${trail.join(' -> ')}`);
    let out = '';
    let i = 0;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '\\') {
        out += text.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (c === '%' && text[i + 1] === '{') {
        const end = text.indexOf('}', i);
        if (end < 0) throw new Error(`"%{" at character ${i + 1} is not closed`);
        const [name = '', field, type, ...extra] = text.slice(i + 2, end).split(':');
        if (extra.length > 0) throw new Error(`%{${text.slice(i + 2, end)}}: expected %{NAME}, %{NAME:field} or %{NAME:field:type}`);
        const body = library[name];
        if (body === undefined) throw new Error(`unknown pattern %{${name}}${suggestPattern(name, library)}`);
        if (trail.includes(name)) throw new Error(`pattern %{${name}} refers to itself: ${[...trail, name].join(' -> ')}`);
        const inner = expand(body, depth + 1, [...trail, name]);
        if (field === undefined || field === '') out += `(?:${inner})`;
        else out += capture(field, inner, type);
        i = end + 1;
        continue;
      }
      if (c === '(' && text.startsWith('(?<', i) && text[i + 3] !== '=' && text[i + 3] !== '!') {
        // A raw named group inside a grok pattern: renamed like %{…:field} captures.
        const end = text.indexOf('>', i);
        const field = text.slice(i + 3, end);
        const group = nextGroup(field, undefined);
        out += `(?<${group}>`;
        i = end + 1;
        continue;
      }
      out += c;
      i++;
    }
    return out;
  };
  const nextGroup = (field: string, type: string | undefined): string => {
    if (!FIELD.test(field)) throw new Error(`invalid field name "${field}": use letters, digits, "_", "." and "-"`);
    const conversion = (type ?? types[field] ?? 'string') as Conversion;
    if (!CONVERSIONS.includes(conversion)) throw new Error(`unknown type "${type}" for field "${field}": use ${CONVERSIONS.join(', ')}`);
    const group = `_g${captures.length}`;
    captures.push({ group, field, type: conversion });
    return group;
  };
  const capture = (field: string, inner: string, type: string | undefined) => `(?<${nextGroup(field, type)}>${inner})`;
  const source = expand(expression, 0, []);
  return { source, pattern: compileRegex(source, maxMatchBytes), captures };
}

/** A plain regular expression: its named groups are the fields. */
export function compileNamedGroups(
  expression: string,
  types: Readonly<Record<string, Conversion>>,
  maxMatchBytes: number,
): CompiledPattern {
  const pattern = compileRegex(expression, maxMatchBytes);
  if (pattern.names.length === 0) throw new Error(`/${expression}/ has no named group (?<name>…): nothing would be extracted`);
  return { source: expression, pattern, captures: pattern.names.map((n) => ({ group: n, field: n, type: types[n] ?? 'string' })) };
}

/** Applies the captures of a match: converted values by field name; empty optional groups are left out. */
export function extract(m: Match, captures: readonly Capture[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const c of captures) {
    const raw = m.group(c.group);
    if (raw === undefined) continue;
    out[c.field] = convert(raw, c.type);
  }
  return out;
}

export function convert(raw: string, type: Conversion): string | number | boolean {
  switch (type) {
    case 'string':
      return raw;
    case 'int': {
      if (!isIntText(raw)) return raw;
      const n = Number(raw);
      return Number.isSafeInteger(n) ? n : raw;
    }
    case 'float': {
      const n = Number(raw);
      return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
    }
    case 'bool': {
      const v = raw.trim().toLowerCase();
      return v === 'true' || v === 'yes' || v === '1' ? true : v === 'false' || v === 'no' || v === '0' ? false : raw;
    }
  }
}

/** Optional sign, then decimal digits only (Number() would also take "0x1f", "1e3" and " 7 "). */
function isIntText(raw: string): boolean {
  let i = raw.charCodeAt(0) === 0x2b || raw.charCodeAt(0) === 0x2d ? 1 : 0;
  if (i >= raw.length) return false;
  for (; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function suggestPattern(name: string, library: Readonly<Record<string, string>>): string {
  const upper = name.toUpperCase();
  const near = Object.keys(library).filter((k) => k === upper || k.includes(upper) || (upper.length > 3 && upper.includes(k)));
  return near.length
    ? ` (did you mean ${near
        .slice(0, 3)
        .map((k) => `%{${k}}`)
        .join(', ')}?)`
    : '';
}
