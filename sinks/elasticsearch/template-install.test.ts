import { describe, expect, it } from 'vitest';
import { type ExistingTemplate, patternsOverlap, planTemplate, templateNameFor } from './template-install.js';

const t = (name: string, patterns: string[], priority: number, managedBySluice: boolean): ExistingTemplate => ({
  name,
  index_patterns: patterns,
  priority,
  managedBySluice,
});
const ours = { name: 'sluice-logs', pattern: 'logs-*', priority: 200 };

describe('templateNameFor', () => {
  it('names a template after its index pattern, as an index template name may be written', () => {
    expect(templateNameFor('logs-*')).toBe('sluice-logs');
    expect(templateNameFor('logs-*-*.*.*')).toBe('sluice-logs');
    expect(templateNameFor('a.*.b-*')).toBe('sluice-a-b');
    expect(templateNameFor('app-*-logs-*')).toBe('sluice-app-logs');
    expect(templateNameFor('sluice-int-1a2b-*')).toBe('sluice-int-1a2b');
    expect(templateNameFor('*')).toBe('sluice');
  });
});

describe('patternsOverlap', () => {
  it('is true when one index name can match both patterns', () => {
    expect(patternsOverlap('logs-*', 'logs-audit-*')).toBe(true);
    expect(patternsOverlap('logs-*-*', 'logs-*')).toBe(true);
    expect(patternsOverlap('*-audit', 'logs-*')).toBe(true);
    expect(patternsOverlap('logs-a', 'logs-a')).toBe(true);
  });
  it('is false when no name can', () => {
    expect(patternsOverlap('metrics-*', 'logs-*')).toBe(false);
    expect(patternsOverlap('logs-a*', 'logs-b*')).toBe(false);
    expect(patternsOverlap('logs-a', 'logs-ab')).toBe(false);
  });
  it('costs the product of the lengths, not an exponential', () => {
    const a = `${'*a'.repeat(200)}b`;
    const b = `${'a*'.repeat(200)}c`;
    expect(patternsOverlap(a, b)).toBe(false);
  });
});

describe('planTemplate', () => {
  it('replaces the older Sluice template for the same pattern (the sluice-<sink name> of earlier versions)', () => {
    const plan = planTemplate([t('sluice-es', ['logs-*'], 200, true), t('sluice-logs', ['logs-*'], 200, true)], ours);
    expect(plan).toEqual({ replace: ['sluice-es'], shadowedBy: [] });
  });

  it('leaves templates alone that cannot match our indices, or have another priority', () => {
    const plan = planTemplate([t('metrics', ['metrics-*'], 200, false), t('logs', ['logs-*-*'], 100, false)], ours);
    expect(plan).toEqual({ replace: [], shadowedBy: [] });
  });

  it('explains a foreign template of the same priority overlapping ours in one line', () => {
    const plan = planTemplate([t('audit', ['logs-audit-*'], 200, false)], ours);
    expect(plan.conflict).toBe(
      'index template "sluice-logs" (logs-*, priority 200) overlaps template "audit" (logs-audit-*, priority 200) that Sluice did not install: set template.priority to another value (the higher one applies where both match), or template.install: false to index with the existing template',
    );
    expect(plan.conflict).not.toContain('\n');
  });

  it("explains an overlap with another Sluice sink's template of another pattern", () => {
    const plan = planTemplate([t('sluice-logs-audit', ['logs-audit-*'], 200, true)], ours);
    expect(plan.conflict).toMatch(
      /^index template "sluice-logs" .* overlaps Sluice's template "sluice-logs-audit" .* different template\.priority/,
    );
  });

  it('refuses to overwrite a foreign template that has our name', () => {
    const plan = planTemplate([t('sluice-logs', ['logs-*'], 200, false)], ours);
    expect(plan.conflict).toMatch(/^an index template named "sluice-logs" exists and was not installed by Sluice .*template\.name/);
  });

  it('notes a foreign template of higher priority: its indices do not get our mappings', () => {
    const plan = planTemplate([t('audit', ['logs-audit-*'], 500, false)], ours);
    expect(plan).toEqual({ replace: [], shadowedBy: ['"audit" (logs-audit-*, priority 500)'] });
  });
});
