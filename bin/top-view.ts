import type { ComponentReport, ProbeAnswer } from '../api/readiness.js';
import { type Family, samples, sum } from '../api/prometheus.js';
import { formatCount } from '../core/unit-text.js';
import { formatBytes } from './status.js';

/**
 * What `sluice top` shows, computed from two scrapes of /metrics and one /ready answer:
 * one row per component in pipeline order with its rates over the interval, and a footer
 * with what an operator looks for first (the slowest sink, the Kafka lag and how long the
 * collectors need to catch up). Pure functions, so the screen is tested without a terminal.
 */
export interface Scrape {
  at: number;
  families: Map<string, Family>;
}

export interface Row {
  component: string;
  kind: string;
  type: string;
  state: string;
  inPerSec: number;
  outPerSec: number;
  bytesInPerSec: number;
  bytesOutPerSec: number;
  errors: number;
  detail: string;
  /** p99 delivery latency over the interval (sinks; the agent's bus), seconds. */
  p99?: number;
}

export interface Snapshot {
  rows: Row[];
  ready: boolean;
  reasons: string[];
  uptimeSeconds: number;
  slowest?: { component: string; p50: number; p99: number };
  lag?: { records: number; perSec: number };
  /** File sources reading a large backlog (progress_after): done / total bytes, the rate over the interval. */
  backlogs: Backlog[];
}

export interface Backlog {
  component: string;
  done: number;
  total: number;
  bytesPerSec: number;
}

const KIND_ORDER = ['source', 'transform', 'channel', 'bus', 'router', 'sink', 'dead_letter'];

export function snapshot(before: Scrape, after: Scrape, ready: ProbeAnswer): Snapshot {
  const secs = Math.max(0.001, (after.at - before.at) / 1000);
  const rate = (name: string, labels: Record<string, string>) =>
    Math.max(0, (sum(after.families, name, labels) - sum(before.families, name, labels)) / secs);
  const states = new Map<string, ComponentReport>(ready.components.map((c) => [c.component, c]));
  const ids = new Map<string, { kind: string; type: string }>();
  for (const s of samples(after.families, 'sluice_component_received_events_total'))
    ids.set(s.labels.component!, { kind: s.labels.kind!, type: s.labels.type! });
  for (const c of ready.components) if (!ids.has(c.component)) ids.set(c.component, { kind: c.kind, type: c.type });

  const rows: Row[] = [];
  const backlogs: Backlog[] = [];
  for (const [component, { kind, type }] of ids) {
    const labels = { component, kind, type };
    const row: Row = {
      component,
      kind,
      type,
      state: states.get(component)?.state ?? '-',
      inPerSec: rate('sluice_component_received_events_total', labels),
      outPerSec: rate('sluice_component_sent_events_total', labels),
      bytesInPerSec: rate('sluice_component_received_bytes_total', labels),
      bytesOutPerSec: rate('sluice_component_sent_bytes_total', labels),
      errors: sum(after.families, 'sluice_component_errors_total', labels),
      detail: '',
    };
    const latency = quantiles(before, after, labels);
    if (latency) row.p99 = latency.p99;
    const backlog = kind === 'source' ? backlogOf(component, before, after, secs) : undefined;
    if (backlog) backlogs.push(backlog);
    row.detail = detail(row, after, latency, backlog);
    rows.push(row);
  }
  rows.sort(
    (a, b) =>
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || (a.component < b.component ? -1 : a.component > b.component ? 1 : 0),
  );

  const out: Snapshot = { rows, ready: ready.status === 'ok', reasons: ready.reasons, uptimeSeconds: ready.uptime_seconds, backlogs };
  let slowest: Snapshot['slowest'];
  for (const r of rows) {
    if (r.kind !== 'sink') continue;
    const q = quantiles(before, after, { component: r.component, kind: r.kind, type: r.type });
    if (q && (!slowest || q.p99 > slowest.p99)) slowest = { component: r.component, ...q };
  }
  if (slowest) out.slowest = slowest;
  const lagSamples = samples(after.families, 'sluice_bus_consumer_lag_records');
  if (lagSamples.length > 0) {
    const bus = rows.find((r) => r.component === 'bus');
    out.lag = { records: lagSamples.reduce((n, s) => n + s.value, 0), perSec: bus?.outPerSec ?? 0 };
  }
  return out;
}

/** The metrics' name of a component: its config name without the "sources." prefix. */
function shortName(component: string): string {
  return component.includes('.') ? component.slice(component.indexOf('.') + 1) : component;
}

/**
 * A file source's backlog (agent/sources/file/progress.ts): done and total from the gauges,
 * the rate from the done bytes between the scrapes — or, when the backlog began in between,
 * from the bytes it handed to the channel.
 */
function backlogOf(component: string, before: Scrape, after: Scrape, secs: number): Backlog | undefined {
  const labels = { component: shortName(component) };
  const total = sum(after.families, 'sluice_file_source_backlog_total_bytes', labels);
  if (total <= 0) return undefined;
  const done = sum(after.families, 'sluice_file_source_backlog_done_bytes', labels);
  const doneBefore = sum(before.families, 'sluice_file_source_backlog_done_bytes', labels);
  const moved =
    sum(before.families, 'sluice_file_source_backlog_total_bytes', labels) > 0 && done >= doneBefore
      ? done - doneBefore
      : sum(after.families, 'sluice_file_source_bytes_total', labels) - sum(before.families, 'sluice_file_source_bytes_total', labels);
  return { component, done, total, bytesPerSec: Math.max(0, moved / secs) };
}

/** "12.0 MiB / 48.0 MiB (25%)" */
function doneOfTotal(b: Backlog): string {
  return `${formatBytes(b.done)} / ${formatBytes(b.total)} (${Math.floor((100 * b.done) / b.total)}%)`;
}

/** "12.0 MiB / 48.0 MiB (25%), 4.0 MiB/s, ~0:00:09 left" */
function progress(b: Backlog): string {
  const left = b.bytesPerSec > 0 ? `~${duration((b.total - b.done) / b.bytesPerSec)} left` : 'not moving';
  return `${doneOfTotal(b)}, ${formatBytes(Math.round(b.bytesPerSec))}/s, ${left}`;
}

/** Type-specific figures next to the common ones, the most telling first (the column is cut at the screen's edge). */
function detail(row: Row, after: Scrape, latency: { p50: number; p99: number } | undefined, backlog: Backlog | undefined): string {
  const f = after.families;
  const parts: string[] = [];
  const name = shortName(row.component);
  if (row.kind === 'source') {
    const lag = samples(f, 'sluice_file_source_lag_bytes', { component: name })[0]?.value ?? 0;
    // The rate and time left are on the backlog line below the table.
    if (backlog) parts.push(`backlog ${doneOfTotal(backlog)}`);
    else if (lag > 0) parts.push(`lag ${formatBytes(lag)}`);
    const open = samples(f, 'sluice_file_source_open_files', { component: name });
    if (open.length > 0) parts.push(`${open[0]!.value} open files`);
  }
  if (row.kind === 'channel') {
    if (samples(f, 'sluice_channel_full', { component: name })[0]?.value === 1) parts.push('FULL: sources paused');
    if (samples(f, 'sluice_channel_blocked', { component: name })[0]?.value === 1) parts.push('BLOCKED: disk errors');
    const fill = samples(f, 'sluice_channel_fill_ratio', { component: name })[0];
    if (fill) parts.push(`fill ${(fill.value * 100).toFixed(1)}%`);
    const age = samples(f, 'sluice_channel_oldest_event_age_seconds', { component: name })[0];
    if (age && age.value > 0) parts.push(`oldest ${seconds(age.value)}`);
    const events = samples(f, 'sluice_channel_buffered_events', { component: name });
    const bytes = samples(f, 'sluice_channel_buffered_bytes', { component: name });
    if (events.length > 0) parts.push(`buffered ${formatBytes(bytes[0]?.value ?? 0)} (${formatCount(events[0]!.value)} ev)`);
  }
  if (row.kind === 'bus') {
    const lag = samples(f, 'sluice_bus_consumer_lag_records', { component: row.component });
    if (lag.length > 0) parts.push(`consumer lag ${formatCount(lag.reduce((n, s) => n + s.value, 0))} records`);
  }
  if (row.kind === 'sink' && row.type === 'file') {
    const open = samples(f, 'sluice_file_sink_open_files', { component: name });
    if (open.length > 0) parts.push(`${open[0]!.value} open files`);
  }
  if (latency) parts.push(`latency p50 ${seconds(latency.p50)} p99 ${seconds(latency.p99)}`);
  const discarded = samples(f, 'sluice_component_discarded_events_total', { component: row.component }).filter((s) => s.value > 0);
  for (const d of discarded) parts.push(`${d.labels.reason} ${formatCount(d.value)}`);
  return parts.join(', ');
}

/** p50 and p99 of the delivery latency observed between the two scrapes (or since start when none was). */
function quantiles(before: Scrape, after: Scrape, labels: Record<string, string>): { p50: number; p99: number } | undefined {
  const buckets = (s: Scrape) => {
    const m = new Map<number, number>();
    for (const b of samples(s.families, 'sluice_delivery_latency_seconds_bucket', labels)) {
      const le = b.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(b.labels.le);
      m.set(le, (m.get(le) ?? 0) + b.value);
    }
    return m;
  };
  const a = buckets(after);
  if (a.size === 0) return undefined;
  const b = buckets(before);
  let delta = [...a].map(([le, n]) => [le, n - (b.get(le) ?? 0)] as const).sort((x, y) => x[0] - y[0]);
  let total = delta.at(-1)?.[1] ?? 0;
  if (total <= 0) {
    delta = [...a].sort((x, y) => x[0] - y[0]);
    total = delta.at(-1)?.[1] ?? 0;
    if (total <= 0) return undefined;
  }
  const q = (p: number) => {
    const rank = p * total;
    let prevLe = 0;
    let prevCount = 0;
    for (const [le, count] of delta) {
      if (count >= rank) {
        if (!Number.isFinite(le)) return prevLe;
        // Linear within the bucket, as Prometheus's histogram_quantile does.
        return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, count - prevCount);
      }
      prevLe = le;
      prevCount = count;
    }
    return prevLe;
  };
  return { p50: q(0.5), p99: q(0.99) };
}

function seconds(s: number): string {
  if (s < 1) return `${Math.round(s * 1000)}ms`;
  if (s < 60) return `${s.toFixed(1)}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  return duration(s);
}

function duration(totalSeconds: number): string {
  const s = Math.floor(totalSeconds);
  return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

const COLUMNS: { title: string; width: number; right: boolean; value: (r: Row) => string }[] = [
  { title: 'COMPONENT', width: 22, right: false, value: (r) => r.component },
  { title: 'KIND', width: 8, right: false, value: (r) => r.kind },
  { title: 'TYPE', width: 13, right: false, value: (r) => r.type },
  { title: 'STATE', width: 8, right: false, value: (r) => r.state },
  { title: 'IN/s', width: 9, right: true, value: (r) => formatCount(r.inPerSec) },
  { title: 'OUT/s', width: 9, right: true, value: (r) => formatCount(r.outPerSec) },
  { title: 'BYTES IN/s', width: 11, right: true, value: (r) => formatBytes(Math.round(r.bytesInPerSec)) },
  { title: 'BYTES OUT/s', width: 11, right: true, value: (r) => formatBytes(Math.round(r.bytesOutPerSec)) },
  { title: 'ERRORS', width: 7, right: true, value: (r) => formatCount(r.errors) },
  { title: 'DETAIL', width: 0, right: false, value: (r) => r.detail },
];

function cell(text: string, width: number, right: boolean): string {
  if (width === 0) return text;
  const t = text.length > width ? `${text.slice(0, width - 1)}…` : text;
  return right ? t.padStart(width) : t.padEnd(width);
}

/** The screen as lines (no colours, no escape sequences), each at most `width` characters. */
export function renderTop(s: Snapshot, header: { url: string; role?: string; now: Date }, width = 160): string[] {
  const clip = (line: string) => (line.length > width ? line.slice(0, width) : line);
  const lines: string[] = [];
  const status = s.ready ? 'ready' : `NOT READY: ${s.reasons.join('; ')}`;
  lines.push(
    `sluice top — ${header.url}${header.role ? ` (${header.role})` : ''} — up ${duration(s.uptimeSeconds)} — ${status} — ${header.now.toISOString().slice(11, 19)}`,
  );
  lines.push('');
  lines.push(COLUMNS.map((c) => cell(c.title, c.width, c.right)).join(' '));
  for (const r of s.rows) lines.push(COLUMNS.map((c) => cell(c.value(r), c.width, c.right)).join(' '));
  lines.push('');
  const footer: string[] = [];
  if (s.slowest) footer.push(`slowest sink: ${s.slowest.component} (p50 ${seconds(s.slowest.p50)}, p99 ${seconds(s.slowest.p99)})`);
  if (s.lag) {
    const left = s.lag.perSec > 0 ? `, ~${duration(s.lag.records / s.lag.perSec)} to catch up at ${formatCount(s.lag.perSec)} ev/s` : '';
    footer.push(`kafka lag: ${formatCount(s.lag.records)} records${left}`);
  }
  if (footer.length > 0) lines.push(footer.join('   '));
  for (const b of s.backlogs) lines.push(`backlog ${b.component}: ${progress(b)}`);
  return lines.map(clip);
}
