/**
 * Templates and field paths: the one vocabulary for naming an event's values and making
 * names from them. Routes match field paths (`fields.kubernetes.namespace`), and Kafka
 * topics and keys, file-sink paths and Elasticsearch index names are templates over them
 * (`logs.{service}`, `{service}/%Y-%m-%d/{host}.log`). The parts live in core/template/:
 *
 * - field-path.ts: the paths, how nested and dotted keys are read, what "missing" means;
 * - parse.ts: the template language (`{path}`, `{path:-fallback}`, `%Y`…);
 * - clock.ts: event time in a zone, without formatting a date per event;
 * - render.ts: EventTemplate, rendering with per-name caches;
 * - distinct.ts: `max_distinct`, the cap on names made from untrusted values;
 * - match.ts: the patterns route values are matched with, all in linear time;
 * - time-window.ts: `max_event_age`/`max_future`, partitioning far-off event times by arrival.
 */
export { isValidTimeZone, ZonedClock } from './template/clock.js';
export { DistinctLimit, type DistinctLimitOptions, OVERFLOW } from './template/distinct.js';
export { FieldPathError, fieldPathProblem, fieldText, parseFieldPath } from './template/field-path.js';
export { compilePattern, DEFAULT_MAX_MATCH_BYTES, globMatcher, headBytes, PatternError, patternProblem } from './template/match.js';
export {
  literalSegments,
  literalText,
  type Placeholder,
  parseTemplate,
  type TemplatePart,
  templateMatcher,
  templatePattern,
  templateProblem,
} from './template/parse.js';
export { EventTemplate } from './template/render.js';
export { markedPartitionTime, partitionedByArrival, TimeWindow } from './template/time-window.js';
