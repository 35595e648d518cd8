import { PRESETS } from '../agent/sources/file/multiline.js';
import { Router } from '../collector/router/router.js';
import type { LogEvent } from '../core/event.js';

/**
 * Patterns against hostile lines (issue 12): every multiline preset's regular expressions,
 * and routes with a multi-`*` glob and with regular expressions, over lines of one
 * repeated unit (`(((…`, `error error …`, tabs, …) of 4 KiB to 1 MiB. A linear pattern
 * costs the same per MiB at every size; a quadratic one costs twice as much per MiB each
 * time the line doubles. A size that takes longer than BUDGET_MS ends that case's growth
 * (a quadratic preset needs minutes for 1 MiB): its cost at 1 MiB is then extrapolated
 * from the growth it showed, and marked so. Prints one line per case, then the result.
 */
const SIZES = [4, 8, 16, 32, 64, 128, 256, 512, 1024].map((k) => k * 1024);
const MIB = 1024 * 1024;
const BUDGET_MS = 2000;
const UNITS = ['(', ' ', '\t', 'a', '1', '.', 'error ', '\tat ', 'x(', '(a', 'a.b/', 'Error: ', '\n'];

interface Case {
  name: string;
  run(line: string): void;
}

const cases: Case[] = [];
// Whatever the presets are made of, everything in them with a test(line) is measured; a
// preset with nothing measurable stops the run rather than passing unmeasured.
for (const [preset, rules] of Object.entries(PRESETS)) {
  const before = cases.length;
  for (const [kind, rule] of Object.entries(rules as Record<string, unknown>)) {
    const test = (rule as { test?: unknown } | undefined)?.test;
    if (typeof test === 'function') cases.push({ name: `multiline ${preset} ${kind}`, run: (line) => void test.call(rule, line) });
  }
  if (cases.length === before) throw new Error(`multiline preset ${preset} has no pattern with test(line): update bench/patterns.ts`);
}

const event = (message: string): LogEvent => ({
  id: 'bench',
  timestamp: 0,
  message,
  service: 'svc',
  module: 'mod',
  host: 'host',
  source: { kind: 'bench' },
  fields: {},
});
// Regular expressions as configured (they see max_match_bytes, 64 KiB, of a line), and
// seeing the whole MiB: what the engine itself costs per byte.
const routes: [string, string, number | undefined][] = [
  ['route glob *error*timeout*', '*error*timeout*', undefined],
  ['route glob *a*b*c*d*', '*a*b*c*d*', undefined],
  ['route regex /error.*timeout/', '/error.*timeout/', undefined],
  ['route regex /(e|er)+x/', '/(e|er)+x/', undefined],
  ['route regex /error.*timeout/ on 1 MiB', '/error.*timeout/', MIB],
  ['route regex /(e|er)+x/ on 1 MiB', '/(e|er)+x/', MIB],
  ['route regex /^(\\S+\\s?)+x$/ on 1 MiB', '/^(\\S+\\s?)+x$/', MIB],
];
for (const [name, pattern, maxMatchBytes] of routes) {
  const router = new Router({ rules: [{ match: { message: pattern }, sinks: ['s'], continue: false }], max_match_bytes: maxMatchBytes }, [
    's',
  ]);
  cases.push({ name, run: (line) => void router.route([event(line)]) });
}

function timeMs(run: () => void): number {
  const start = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

interface Result {
  case: string;
  unit: string;
  largest_kib: number;
  ms_per_mib: number;
  /** Cost per MiB at the largest size over that at half of it: ~1 linear, ~2 quadratic. */
  growth_per_doubling: number;
  estimated: boolean;
}

const results: Result[] = [];
for (const c of cases) {
  let worst: Result | undefined;
  for (const unit of UNITS) {
    let last: { size: number; ms: number } | undefined;
    let prev: { size: number; ms: number } | undefined;
    for (const size of SIZES) {
      const line = unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
      // Best of three where that is cheap, to keep the noise of a shared machine out.
      let ms = timeMs(() => c.run(line));
      if (ms < 100)
        for (let i = 0; i < 2; i++)
          ms = Math.min(
            ms,
            timeMs(() => c.run(line)),
          );
      prev = last;
      last = { size, ms };
      if (ms > BUDGET_MS) break;
    }
    const perMib = (p: { size: number; ms: number }) => p.ms / (p.size / MIB);
    const growth = prev && last && perMib(prev) > 0.05 ? perMib(last) / perMib(prev) : 1;
    const estimated = last!.size < MIB;
    // Going on doubling at the growth seen: cost per MiB at 1 MiB.
    const doublings = Math.log2(MIB / last!.size);
    const msPerMib = perMib(last!) * Math.max(1, growth) ** doublings;
    const r: Result = {
      case: c.name,
      unit: JSON.stringify(unit),
      largest_kib: last!.size / 1024,
      ms_per_mib: Math.round(msPerMib * 100) / 100,
      growth_per_doubling: Math.round(growth * 100) / 100,
      estimated,
    };
    if (!worst || r.ms_per_mib > worst.ms_per_mib) worst = r;
  }
  results.push(worst!);
  console.log(
    `${worst!.case.padEnd(40)} worst ${String(worst!.ms_per_mib).padStart(10)} ms/MiB  unit ${worst!.unit.padEnd(10)} growth x${worst!.growth_per_doubling}${worst!.estimated ? ` (extrapolated from ${worst!.largest_kib} KiB)` : ''}`,
  );
}

const worst = results.reduce((a, b) => (b.ms_per_mib > a.ms_per_mib ? b : a));
console.log(
  JSON.stringify({
    bench: 'patterns',
    worst_ms_per_mib: worst.ms_per_mib,
    worst_case: worst.case,
    worst_unit: worst.unit,
    cases: results,
  }),
);
