import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { fieldPathProblem } from '../core/template.js';
import { type ConfigProblem, formatPath } from './errors.js';
import type { ComponentConfig, PipelineConfig } from './load.js';
import { locate } from './locate.js';

/**
 * Checks about the `transforms:` section that need the whole pipeline: where each
 * transform runs against the command that runs the file, and conditions on fields that
 * nothing in the file sets.
 */

/** A transform whose `at:` names a half this command does not run would never run: an error. */
export function transformPlacementProblems(config: PipelineConfig, role: 'agent' | 'collector' | 'run'): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const where = positions(config.file);
  for (const t of config.transforms) {
    const at = (t.options as { at?: string }).at;
    if (at === undefined || role === 'run' || at === role) continue;
    problems.push({
      file: config.file,
      ...where(['transforms', t.name, 'at']),
      path: `transforms.${t.name}.at`,
      message: `runs at ${at}, but \`sluice ${role}\` has no ${at} half: it would never run (remove "at" to run it in the ${role})`,
    });
  }
  return problems;
}

/**
 * Warnings for route conditions (and transform `when:` conditions) on `fields.NAME` when no
 * source or transform in the file may set NAME: `match: {fields.team: search}` then matches
 * nothing, silently. A component that cannot tell what it sets (a JSON parse) silences the
 * check; so does one whose spec does not say. In a collector's file the fields usually come
 * from the agents' files, which this check cannot see: the warning says so.
 */
export function unsetFieldWarnings(config: PipelineConfig, role?: 'agent' | 'collector' | 'run'): ConfigProblem[] {
  const set = new Set<string>();
  for (const c of [...config.sources, ...config.transforms]) {
    const names = fieldsSetBy(c);
    if (names === '*') return [];
    for (const n of names) set.add(n);
  }
  // Set when named exactly, when under a key that is set (an object from a parse target),
  // or when a set flat key lies under it.
  const isSet = (name: string) => [...set].some((s) => s === name || name.startsWith(`${s}.`) || s.startsWith(`${name}.`));
  const where = positions(config.file);
  const warnings: ConfigProblem[] = [];
  const check = (match: Record<string, unknown> | undefined, path: (string | number)[]) => {
    for (const key of Object.keys(match ?? {})) {
      if (!key.startsWith('fields.') || fieldPathProblem(key) !== undefined) continue;
      const name = key.slice('fields.'.length);
      if (isSet(name)) continue;
      warnings.push({
        file: config.file,
        ...where([...path, key], 'key'),
        path: formatPath([...path, key]),
        severity: 'warning',
        message: `nothing in this file sets fields.${name} (no source or transform here names it), so this condition never holds${
          config.sources.length === 0 ? '; if the agents set it, ignore this' : ''
        }`,
      });
    }
  };
  // The agent does not route: its file's routes are already reported as unused.
  if (role !== 'agent') for (const [i, rule] of (config.routes?.rules ?? []).entries()) check(rule.match, ['routes', 'rules', i, 'match']);
  for (const t of config.transforms) check((t.options as { when?: Record<string, unknown> }).when, ['transforms', t.name, 'when']);
  return warnings;
}

function fieldsSetBy(c: ComponentConfig): readonly string[] | '*' {
  return c.spec.fieldsSet ? c.spec.fieldsSet(c.options) : '*';
}

/** Positions of key paths in the config file, read again (only when there is something to report). */
function positions(file: string): (path: (string | number)[], at?: 'key' | 'value') => { line: number; col: number } {
  let found: ((path: (string | number)[], at?: 'key' | 'value') => { line: number; col: number }) | undefined;
  return (path, at = 'value') => {
    if (!found) {
      try {
        const lines = new LineCounter();
        const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lines });
        found = (p, a) => locate(doc, lines, p, a);
      } catch {
        found = () => ({ line: 1, col: 1 });
      }
    }
    return found(path, at);
  };
}
