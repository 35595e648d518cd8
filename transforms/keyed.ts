import { z } from 'zod';
import type { LogEvent } from '../core/event.js';
import { EventTemplate, parseTemplate } from '../core/template.js';

/** The `key` option of throttle and sample: a template naming the group an event belongs to. */
export const keyTemplate = () =>
  z.string().superRefine((v, ctx) => {
    try {
      parseTemplate(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

/** Renders a key template per event (memoized by EventTemplate), values as they are. */
export function keyOf(template: string): (e: LogEvent) => string {
  const t = new EventTemplate(template, { timeZone: 'UTC', sanitize: (s) => s });
  return (e) => t.renderCached(e);
}
