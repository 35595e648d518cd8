import type { ComponentReport, ProbeAnswer } from '../api/readiness.js';
import { type Family, samples, sum } from '../api/prometheus.js';
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
}

const KIND_ORDER = ['source', 'transform', 'channel', 'bus', 'router', 'sink'];

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
    row.detail = detail(row, after, latency);
    rows.push(row);
  }
  rows.sort(
    (a, b) =>
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || (a.component < b.component ? -1 : a.component > b.component ? 1 : 0),
  );

  const out: Snapshot = { rows, ready: ready.status === 'ok', reasons: ready.reasons, uptimeSeconds: ready.uptime_seconds };
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

/** Type-specific figures next to the common ones. */
function detail(row: Row, after: Scrape, latency: { p50: number; p99: number } | undefined): string {
  const f = after.families;
  const parts: string[] = [];
  const name = row.component.includes('.') ? row.component.slice(row.component.indexOf('.') + 1) : row.component;
  if (row.kind === 'source' && row.type === 'file') {
    const open = samples(f, 'sluice_file_source_open_files', { component: name });
    if (open.length > 0) parts.push(`${open[0]!.value} open files`);
  }
  if (row.kind === 'channel') {
    const events = samples(f, 'sluice_channel_buffered_events', { component: name });
    const bytes = samples(f, 'sluice_channel_buffered_bytes', { component: name });
    if (events.length > 0) parts.push(`buffered ${formatBytes(bytes[0]?.value ?? 0)} (${fmt(events[0]!.value)} ev)`);
    if (samples(f, 'sluice_channel_full', { component: name })[0]?.value === 1) parts.push('FULL: sources paused');
    if (samples(f, 'sluice_channel_blocked', { component: name })[0]?.value === 1) parts.push('BLOCKED: disk errors');
  }
  if (row.kind === 'sink' && row.type === 'file') {
    const open = samples(f, 'sluice_file_sink_open_files', { component: name });
    if (open.length > 0) parts.push(`${open[0]!.value} open files`);
  }
  if (latency) parts.push(`latency p50 ${seconds(latency.p50)} p99 ${seconds(latency.p99)}`);
  const discarded = samples(f, 'sluice_component_discarded_events_total', { component: row.component }).filter((s) => s.value > 0);
  for (const d of discarded) parts.push(`${d.labels.reason} ${fmt(d.value)}`);
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

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function seconds(s: number): string {
  if (s < 1) return `${Math.round(s * 1000)}ms`;
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.round(s / 60)}m`;
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
  { title: 'IN/s', width: 9, right: true, value: (r) => fmt(r.inPerSec) },
  { title: 'OUT/s', width: 9, right: true, value: (r) => fmt(r.outPerSec) },
  { title: 'BYTES IN/s', width: 11, right: true, value: (r) => formatBytes(Math.round(r.bytesInPerSec)) },
  { title: 'BYTES OUT/s', width: 11, right: true, value: (r) => formatBytes(Math.round(r.bytesOutPerSec)) },
  { title: 'ERRORS', width: 7, right: true, value: (r) => fmt(r.errors) },
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
    const left = s.lag.perSec > 0 ? `, ~${duration(s.lag.records / s.lag.perSec)} to catch up at ${fmt(s.lag.perSec)} ev/s` : '';
    footer.push(`kafka lag: ${fmt(s.lag.records)} records${left}`);
  }
  if (footer.length > 0) lines.push(footer.join('   '));
  return lines.map(clip);
}
