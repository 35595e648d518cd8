/**
 * Which index template a sink installs, and what it does about the templates already
 * there. A template is named after the index pattern it covers (`logs-*` ->
 * `sluice-logs`), not after the sink: renaming a sink, or a second collector writing the
 * same indices, installs the same template instead of a second one that Elasticsearch
 * refuses (two templates of one priority may not match the same index).
 *
 * Like Filebeat and Logstash (which name a template after what it is for and leave
 * foreign ones alone), Sluice never touches a template it did not install. It recognises
 * its own by `_meta.managed_by: sluice`: an older one for the same pattern (the
 * `sluice-<sink name>` of earlier versions) is replaced; a foreign one that Elasticsearch
 * would refuse next to ours is explained in one line, with the way out.
 */

export const MANAGED_BY = 'sluice';

/** What an existing template looks like, as GET /_index_template gives it. */
export interface ExistingTemplate {
  name: string;
  index_patterns: string[];
  priority: number;
  managedBySluice: boolean;
}

export interface TemplatePlan {
  /** Sluice's own older templates for the same pattern: deleted before ours is put. */
  replace: string[];
  /** A conflict Elasticsearch would refuse: one line saying what to do. */
  conflict?: string;
  /** Foreign templates of higher priority matching some of our indices: ours does not apply to those. */
  shadowedBy: string[];
}

/** `logs-*-*.*.*` (of `logs-{service}-%Y.%m.%d`) -> `sluice-logs`; `app-*-logs-*` -> `sluice-app-logs`. */
export function templateNameFor(pattern: string): string {
  const stem = pattern
    .toLowerCase()
    .replace(/[^a-z0-9_.]+/g, '-')
    .replace(/[-_.]*-[-_.]*/g, '-')
    .replace(/^[-_.]+|[-_.]+$/g, '');
  return stem === '' || stem === 'sluice' || stem.startsWith('sluice-') ? stem || 'sluice' : `sluice-${stem}`;
}

/**
 * True when some index name matches both wildcard patterns (`*` only, as in index
 * patterns): the same test Elasticsearch applies to templates of equal priority.
 * Memoized over positions, so its cost is the product of the two lengths.
 */
export function patternsOverlap(a: string, b: string): boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r: boolean;
    if (i === a.length && j === b.length) r = true;
    else if (a[i] === '*') r = go(i + 1, j) || (j < b.length && go(i, j + 1));
    else if (b[j] === '*') r = go(i, j + 1) || (i < a.length && go(i + 1, j));
    else r = i < a.length && j < b.length && a[i] === b[j] && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

const describe = (t: ExistingTemplate) => `"${t.name}" (${t.index_patterns.join(', ')}, priority ${t.priority})`;

/** Decides what to do before putting template `name` for `pattern` at `priority`. */
export function planTemplate(
  existing: readonly ExistingTemplate[],
  ours: { name: string; pattern: string; priority: number },
): TemplatePlan {
  const plan: TemplatePlan = { replace: [], shadowedBy: [] };
  const self = `index template "${ours.name}" (${ours.pattern}, priority ${ours.priority})`;
  for (const t of existing) {
    const overlaps = t.index_patterns.some((p) => patternsOverlap(p, ours.pattern));
    if (t.name === ours.name) {
      if (!t.managedBySluice) {
        plan.conflict = `an index template named "${ours.name}" exists and was not installed by Sluice (no _meta.managed_by: sluice): set template.name to another name, or template.install: false to use it as it is`;
        return plan;
      }
      continue;
    }
    if (!overlaps) continue;
    if (t.managedBySluice && t.index_patterns.length === 1 && t.index_patterns[0] === ours.pattern) {
      plan.replace.push(t.name);
      continue;
    }
    if (t.priority === ours.priority) {
      plan.conflict = t.managedBySluice
        ? `${self} overlaps Sluice's template ${describe(t)} of another sink: give one of them a different template.priority (the higher one applies where both match, e.g. 201 for the narrower pattern)`
        : `${self} overlaps template ${describe(t)} that Sluice did not install: set template.priority to another value (the higher one applies where both match), or template.install: false to index with the existing template`;
      return plan;
    }
    if (t.priority > ours.priority && !t.managedBySluice) plan.shadowedBy.push(describe(t));
  }
  return plan;
}
