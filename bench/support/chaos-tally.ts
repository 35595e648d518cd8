/**
 * Counting the chaos run's outcomes (bench/chaos.ts): every event found in a sink or a
 * dead-letter is traced back to its record by its source file and byte offset, and counted
 * per sink: delivered, dead-lettered by the collector for that sink, or dead-lettered by the
 * agent (for both sinks: the event never reached Kafka).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { expected, KINDS, type Kind, type Outcome, requiredMark, type SinkName, type Stream } from './chaos-stream.js';

/** An event as the file sink's JSON lines, a dead-letter entry and an Elasticsearch document carry it. */
export interface Seen {
  /** The event id (the Elasticsearch `_id`). */
  id?: string;
  path?: string;
  offset?: number;
  fields?: Record<string, unknown>;
}

const SINKS: readonly SinkName[] = ['file', 'es'];

/** What became of the records in one sink; `unexpected`: not the outcome their kind must have. */
export interface SinkCounts {
  delivered: number;
  dead_letter: number;
  agent_dead_letter: number;
  lost: number;
  duplicated: number;
  unexpected: number;
}

export class Tally {
  /** Per sink and record: times delivered, times dead-lettered for that sink. */
  private readonly delivered: Record<SinkName, Uint8Array>;
  private readonly deadLetteredBy: Record<SinkName, Uint8Array>;
  private readonly agentDeadLettered: Uint8Array;
  /** Records the collector could not decode (dead-lettered with their Kafka coordinates): for both sinks. */
  private readonly undecodable: Uint8Array;
  /** The id a record was first delivered with: every sink must have it under the same one. */
  private readonly ids: (string | undefined)[];
  private readonly pathIndex: Map<string, number>;
  /** Events that could not be traced to a record, or lacked a mark their kind must carry. */
  readonly problems: string[] = [];
  private problemCount = 0;
  /** Dead-letter reasons by sink, a sample of each distinct start. */
  readonly reasons: Record<string, Record<string, number>> = { file: {}, es: {}, records: {}, agent: {}, other: {} };

  constructor(private readonly stream: Stream) {
    const n = stream.kind.length;
    this.delivered = { file: new Uint8Array(n), es: new Uint8Array(n) };
    this.deadLetteredBy = { file: new Uint8Array(n), es: new Uint8Array(n) };
    this.agentDeadLettered = new Uint8Array(n);
    this.undecodable = new Uint8Array(n);
    this.ids = new Array(n);
    this.pathIndex = new Map(stream.files.map((f, i) => [f.path, i]));
  }

  /** A delivered event: `where` names the sink's copy for problems. */
  deliver(sink: SinkName, e: Seen, where: string): void {
    const n = this.record(e, where);
    if (n === undefined) return;
    this.delivered[sink][n]!++;
    const first = this.ids[n];
    if (first === undefined) this.ids[n] = e.id;
    else if (first !== e.id) this.problem(`${where}: record ${n} delivered as ${e.id}, elsewhere as ${first}`);
    const mark = requiredMark(this.kindOf(n));
    if (mark && e.fields?.[mark] === undefined) this.problem(`${where}: record ${n} (${this.kindOf(n)}) delivered without ${mark}`);
  }

  /**
   * A line of the collector's dead-letter: `reason` says which sink refused the event; a
   * record that is no event is traced back by the `#N` in its value.
   */
  collectorEntry(line: string): void {
    const entry = JSON.parse(line) as {
      reason: string;
      value?: string;
      value_base64?: string;
      event?: { source?: { path?: string; offset?: number } };
    };
    if (!entry.event && (entry.value !== undefined || entry.value_base64 !== undefined)) {
      this.reason('records', entry.reason);
      const value = entry.value ?? Buffer.from(entry.value_base64!, 'base64').toString('latin1');
      const n = Number(/#(\d+) /.exec(value)?.[1] ?? Number.NaN);
      if (Number.isInteger(n) && n < this.undecodable.length) this.undecodable[n]!++;
      else this.problem(`collector dead-letter: a record of no record: ${value.slice(0, 200)}`);
      return;
    }
    const sink = SINKS.find((s) => entry.reason.startsWith(`sinks.${s}: `));
    this.reason(sink ?? 'other', entry.reason);
    if (!sink || !entry.event) {
      this.problem(`collector dead-letter: an entry for no sink of this run: ${entry.reason.slice(0, 200)}`);
      return;
    }
    const n = this.record(entry.event.source ?? {}, 'collector dead-letter');
    if (n !== undefined) this.deadLetteredBy[sink][n]!++;
  }

  agentEntry(line: string): void {
    const entry = JSON.parse(line) as { reason: string; event?: { source?: { path?: string; offset?: number } } };
    this.reason('agent', entry.reason);
    const n = this.record(entry.event?.source ?? {}, 'agent dead-letter');
    if (n !== undefined) this.agentDeadLettered[n]!++;
  }

  /** Records accounted for in a sink (delivered or dead-lettered, by either process), copies included. */
  accounted(sink: SinkName): number {
    let total = 0;
    const d = this.delivered[sink];
    const l = this.deadLetteredBy[sink];
    for (let n = 0; n < d.length; n++) total += d[n]! + l[n]! + this.undecodable[n]! + this.agentDeadLettered[n]!;
    return total;
  }

  /** Entries in the dead-letters for a sink: the collector's for it or for no sink (undecodable), and the agent's. */
  deadLettered(sink: SinkName): number {
    let total = 0;
    for (let n = 0; n < this.agentDeadLettered.length; n++)
      total += this.deadLetteredBy[sink][n]! + this.undecodable[n]! + this.agentDeadLettered[n]!;
    return total;
  }

  /**
   * The verdict per sink: records delivered, dead-lettered, lost (in neither), duplicated
   * (more than once in all), and those whose outcome is not the one their kind must have;
   * and per kind, how many records of it ended where.
   */
  summary() {
    const total = this.stream.kind.length;
    const perSink = {} as Record<SinkName, SinkCounts>;
    const perKind: Record<string, Record<string, number>> = {};
    const lostSample: Record<string, number[]> = {};
    let ok = this.problems.length === 0;
    for (const sink of SINKS) {
      const counts: SinkCounts = { delivered: 0, dead_letter: 0, agent_dead_letter: 0, lost: 0, duplicated: 0, unexpected: 0 };
      lostSample[sink] = [];
      for (let n = 0; n < total; n++) {
        const d = this.delivered[sink][n]!;
        const l = this.deadLetteredBy[sink][n]! + this.undecodable[n]!;
        const a = this.agentDeadLettered[n]!;
        const times = d + l + a;
        if (times === 0) {
          counts.lost++;
          if (lostSample[sink]!.length < 10) lostSample[sink]!.push(n);
          continue;
        }
        if (times > 1) counts.duplicated++;
        const outcome: Outcome = d > 0 ? 'delivered' : l > 0 ? 'dead_letter' : 'agent_dead_letter';
        counts[outcome]++;
        const kind = this.kindOf(n);
        if (!expected(kind, sink).includes(outcome)) {
          counts.unexpected++;
          this.problem(`${sink}: record ${n} (${kind}) ended as ${outcome}, expected ${expected(kind, sink).join(' or ')}`);
        }
        perKind[kind] ??= {};
        perKind[kind][`${sink}_${outcome}`] = (perKind[kind][`${sink}_${outcome}`] ?? 0) + 1;
      }
      if (counts.lost > 0 || counts.duplicated > 0 || counts.unexpected > 0) ok = false;
      perSink[sink] = counts;
    }
    for (let n = 0; n < total; n++) {
      const kind = this.kindOf(n);
      perKind[kind] ??= {};
      perKind[kind].records = (perKind[kind].records ?? 0) + 1;
    }
    return { ok, perSink, perKind, lostSample, problems: this.problemCount, problemSample: this.problems.slice(0, 10) };
  }

  private kindOf(n: number): Kind {
    return KINDS[this.stream.kind[n]!]!;
  }

  private record(e: Seen, where: string): number | undefined {
    const f = e.path === undefined ? undefined : this.pathIndex.get(e.path);
    const n = f === undefined || e.offset === undefined ? undefined : this.stream.byOffset[f]!.get(e.offset);
    if (n === undefined) this.problem(`${where}: an event of no record (path ${e.path}, offset ${e.offset})`);
    return n;
  }

  private reason(sink: string, reason: string): void {
    // Reasons name paths, indices and positions: grouped with their numbers left out.
    const key = reason.replace(/\d+/g, 'N').slice(0, 160);
    const bucket = this.reasons[sink]!;
    if (key in bucket || Object.keys(bucket).length < 10) bucket[key] = (bucket[key] ?? 0) + 1;
  }

  private problem(text: string): void {
    this.problemCount++;
    if (this.problems.length < 50) this.problems.push(text);
  }
}

/** Reads a JSON-lines file (a dead-letter) again only when it grew; hands each new line on. */
export class GrowingFile {
  private size = 0;

  constructor(private readonly path: string) {}

  read(line: (text: string) => void): void {
    if (!existsSync(this.path)) return;
    const now = statSync(this.path).size;
    if (now === this.size) return;
    const text = readFileSync(this.path).subarray(this.size).toString('utf8');
    const end = text.lastIndexOf('\n');
    if (end === -1) return;
    for (const l of text.slice(0, end).split('\n')) if (l.length > 0) line(l);
    this.size += Buffer.byteLength(text.slice(0, end + 1));
  }
}
