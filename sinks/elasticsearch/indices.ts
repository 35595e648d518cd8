import type { Client } from '@elastic/elasticsearch';
import type { Logger } from '../../core/log.js';
import { firstKeptDay } from '../file/retention.js';
import { describeError } from './client.js';
import { indexTemplate } from './document.js';
import type { IndexNamer } from './index-name.js';
import type { ElasticsearchSinkOptions } from './options.js';
import { type ExistingTemplate, MANAGED_BY, planTemplate, templateNameFor } from './template-install.js';

const DAY_MS = 86_400_000;

/** A template Elasticsearch would refuse next to ours: its message is the whole story. */
export class TemplateConflict extends Error {}

/** What the indices' keeper needs of the sink. */
export interface IndicesContext {
  client: Client;
  options: ElasticsearchSinkOptions;
  namer: IndexNamer;
  logger: Logger;
  component: string;
  redact: (text: string) => string;
  /** Aborted when the sink closes. */
  signal: AbortSignal;
}

/**
 * What the sink keeps in Elasticsearch besides the documents: the index template its indices
 * are made from, and their retention.
 */
export class ManagedIndices {
  readonly templateName: string;
  private shadowLogged = false;
  private foreignLogged = false;

  constructor(private readonly es: IndicesContext) {
    this.templateName = es.options.template.name ?? templateNameFor(es.namer.pattern());
  }

  /**
   * Deletes daily indices older than retention_days (by the day in their name), and only
   * indices made from Sluice's template for this pattern: the template puts
   * `_meta.index_pattern` in every index's mapping (new daily indices get it too), so an
   * index of another writer whose name happens to match (`logs-audit-2020.01.01`) is left
   * alone. Indices made before templates carried the mark are not deleted either.
   */
  async applyRetention(now: number): Promise<string[]> {
    const days = this.es.options.retention_days;
    if (days === undefined) return [];
    const today = this.es.namer.dayNumber(now);
    const deleted: string[] = [];
    const foreign: string[] = [];
    try {
      const pattern = this.es.namer.pattern();
      const rows = (await this.es.client.cat.indices({
        index: pattern,
        h: 'index',
        format: 'json',
        expand_wildcards: ['open', 'closed'],
      })) as { index?: string }[];
      const marks = (await this.es.client.indices.getMapping({
        index: pattern,
        expand_wildcards: ['open', 'closed'],
        allow_no_indices: true,
        filter_path: '*.mappings._meta',
      })) as Record<string, { mappings?: { _meta?: { managed_by?: string; index_pattern?: string } } }> | undefined;
      // Never past the newest days with an index up to the clock's (the file sinks'
      // firstKeptDay): a clock set ahead would otherwise delete indices still inside
      // retention, today's included. The cut keeps today and `days` before it.
      const dataDays = rows
        .map(({ index }) => (index ? this.es.namer.dayOf(index) : undefined))
        .filter((d): d is number => d !== undefined)
        .map((d) => d / DAY_MS)
        .sort((a, b) => a - b);
      const cutoff = firstKeptDay(today / DAY_MS, dataDays, days + 1) * DAY_MS;
      if (cutoff < today - days * DAY_MS && dataDays.some((d) => d * DAY_MS >= cutoff && d * DAY_MS < today - days * DAY_MS)) {
        this.es.logger.warn(
          {
            oldest_kept: new Date(cutoff).toISOString().slice(0, 10),
            today: new Date(today).toISOString().slice(0, 10),
            retention_days: days,
          },
          "retention: fewer days with an index than retention_days since the clock's cut (a clock ahead, or no data for a while); keeping the newest days of data",
        );
      }
      for (const { index } of rows) {
        if (!index) continue;
        const day = this.es.namer.dayOf(index);
        if (day === undefined || day >= cutoff) continue;
        const meta = marks?.[index]?.mappings?._meta;
        if (meta?.managed_by !== MANAGED_BY || meta.index_pattern !== pattern) {
          foreign.push(index);
          continue;
        }
        await this.es.client.indices.delete({ index, ignore_unavailable: true });
        deleted.push(index);
      }
      if (deleted.length) this.es.logger.info({ deleted, retention_days: days }, 'deleted indices past retention');
      if (foreign.length && !this.foreignLogged) {
        this.foreignLogged = true;
        this.es.logger.info(
          { kept: foreign.slice(0, 20), count: foreign.length, pattern },
          "indices past retention kept: not made from this sink's index template (another writer, or made before templates marked their indices)",
        );
      }
    } catch (err) {
      this.es.logger.warn({ err: describeError(err, this.es.redact) }, 'retention check failed; will try again in an hour');
    }
    return deleted;
  }

  /**
   * The names matching the template's pattern that exist now: indices (open or closed),
   * data streams and aliases, whatever wrote them. Hidden ones are left out: that is a
   * data stream's backing indices (`.ds-...`), which a pattern starting with a value would
   * otherwise match. Elasticsearch lists only what the sink's user may see
   * (`view_index_metadata`, `read` or `manage` on the pattern).
   */
  async existingNames(): Promise<string[]> {
    const res = (await this.es.client.indices.resolveIndex(
      { name: this.es.namer.pattern(), expand_wildcards: ['open', 'closed'] },
      { signal: this.es.signal },
    )) as { indices?: { name: string }[]; data_streams?: { name: string }[]; aliases?: { name: string }[] };
    return [...(res.indices ?? []), ...(res.data_streams ?? []), ...(res.aliases ?? [])].map((r) => r.name);
  }

  /**
   * Puts the template named after the index pattern (template-install.ts): Sluice's own
   * older templates for the same pattern are deleted first, a foreign one Elasticsearch
   * would refuse next to ours is a one-line error saying what to change.
   */
  async install(): Promise<void> {
    if (!this.es.options.template.install) return;
    const pattern = this.es.namer.pattern();
    const body = indexTemplate(this.es.options, pattern);
    const plan = planTemplate(await this.existingTemplates(), {
      name: this.templateName,
      pattern,
      priority: this.es.options.template.priority,
    });
    if (plan.conflict) throw new TemplateConflict(`elasticsearch sink "${this.es.component}": ${plan.conflict}`);
    if (plan.shadowedBy.length > 0 && !this.shadowLogged) {
      this.shadowLogged = true;
      this.es.logger.warn(
        { template: this.templateName, pattern, shadowed_by: plan.shadowedBy },
        "index templates of higher priority match some of this sink's indices; Sluice's mappings do not apply to those",
      );
    }
    for (const old of plan.replace) {
      await this.es.client.transport.request(
        { method: 'DELETE', path: `/_index_template/${encodeURIComponent(old)}` },
        { signal: this.es.signal, ignore: [404] },
      );
      this.es.logger.info(
        { replaced: old, template: this.templateName, pattern },
        'replaced an older sluice index template for the same pattern',
      );
    }
    await this.es.client.transport.request(
      { method: 'PUT', path: `/_index_template/${encodeURIComponent(this.templateName)}`, body },
      { signal: this.es.signal },
    );
  }

  private async existingTemplates(): Promise<ExistingTemplate[]> {
    const res = (await this.es.client.transport.request(
      {
        method: 'GET',
        path: '/_index_template',
        querystring: {
          filter_path:
            'index_templates.name,index_templates.index_template.index_patterns,index_templates.index_template.priority,index_templates.index_template._meta.managed_by',
        },
      },
      { signal: this.es.signal },
    )) as {
      index_templates?: {
        name: string;
        index_template: { index_patterns?: string[] | string; priority?: number; _meta?: { managed_by?: unknown } };
      }[];
    };
    return (res.index_templates ?? []).map(({ name, index_template: t }) => ({
      name,
      index_patterns: Array.isArray(t.index_patterns) ? t.index_patterns : t.index_patterns ? [t.index_patterns] : [],
      priority: t.priority ?? 0,
      managedBySluice: t._meta?.managed_by === MANAGED_BY,
    }));
  }
}
