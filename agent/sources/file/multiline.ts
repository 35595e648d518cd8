import type { MultilineOptions } from './options.js';

/**
 * Joins continuation lines into one event (stack traces). A line either starts an event or
 * continues the current one, decided by a `start` or a `continuation` pattern (optionally
 * negated). The joined event spans the file bytes of all its lines: it starts at the first
 * line's offset and reading resumes after its last line, so a checkpoint never falls in the
 * middle of an event and a restart re-reads and re-joins a half-collected one.
 */
export type EventHandler<T = undefined> = (
  message: string,
  offset: number,
  next: number,
  cut: 'truncated' | 'split' | undefined,
  first: T,
) => void;

interface Rules {
  start?: RegExp;
  continuation?: RegExp;
}

/**
 * Presets describe continuation lines, as traces are printed after an ordinary log line:
 * java: "\tat ...", "Caused by: ...", "\t... 5 more"; python: indented frames,
 * "Traceback ...", the chained-exception banners, blank lines and the final "XError: ...";
 * go: panics and goroutine dumps ("goroutine 1 [running]:", "main.f(...)", indented paths).
 */
export const PRESETS: Record<'java' | 'python' | 'go', Rules> = {
  java: { continuation: /^(?:[ \t]+\S|Caused by: |Suppressed: |[ \t]*\.\.\. \d+ (?:more|common frames omitted))/ },
  python: {
    continuation:
      /^(?:[ \t]|$|Traceback \(most recent call last\):|During handling of the above exception|The above exception was the direct cause|[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Group)(?::|$))/,
  },
  go: {
    continuation: /^(?:[ \t]|$|goroutine \d+ \[|created by |\[signal |exit status \d+$|[\w./*%()[\]-]+\(.*\)$)/,
  },
};

export function compileRules(options: MultilineOptions, where: string): Rules {
  const compile = (p: string, key: string): RegExp => {
    try {
      return new RegExp(p);
    } catch (err) {
      throw new Error(`${where}: multiline.${key} is not a valid regular expression: ${(err as Error).message}`);
    }
  };
  if (options.start !== undefined && options.continuation !== undefined) {
    throw new Error(`${where}: multiline takes either start or continuation, not both`);
  }
  if (options.start !== undefined) return { start: compile(options.start, 'start') };
  if (options.continuation !== undefined) return { continuation: compile(options.continuation, 'continuation') };
  if (options.preset) return PRESETS[options.preset];
  throw new Error(`${where}: multiline needs a preset, a start or a continuation pattern`);
}

/** `T`: what the event keeps of its first line besides the text (the container source: its time and stream). */
export class MultilineJoiner<T = undefined> {
  private lines: string[] = [];
  private offset = 0;
  private first!: T;
  private next = 0;
  private cut: 'truncated' | 'split' | undefined;
  /** When the last line arrived (ms), for the flush timeout. */
  lastLineAt = 0;

  constructor(
    private readonly rules: Rules,
    private readonly options: MultilineOptions,
    private readonly onEvent: EventHandler<T>,
  ) {}

  get pending(): boolean {
    return this.lines.length > 0;
  }

  /** File offset where the event being collected starts (meaningful while pending). */
  get heldFrom(): number {
    return this.offset;
  }

  push(line: string, offset: number, next: number, cut: 'truncated' | 'split' | undefined, now: number, first?: T): void {
    // The event's size is measured in file bytes (its lines with their newlines).
    if (this.lines.length > 0 && (this.startsEvent(line) || next - this.offset > this.options.max_bytes)) this.flush();
    if (this.lines.length === 0) {
      this.offset = offset;
      this.cut = undefined;
      this.first = first as T;
    }
    this.lines.push(line);
    this.next = next;
    if (cut) this.cut = cut;
    this.lastLineAt = now;
    if (this.lines.length >= this.options.max_lines) this.flush();
  }

  flush(): void {
    if (this.lines.length === 0) return;
    const message = this.lines.length === 1 ? this.lines[0]! : this.lines.join('\n');
    this.lines = [];
    this.onEvent(message, this.offset, this.next, this.cut, this.first);
  }

  private startsEvent(line: string): boolean {
    const { start, continuation } = this.rules;
    if (start) return start.test(line) !== this.options.negate;
    return !(continuation!.test(line) !== this.options.negate);
  }
}
