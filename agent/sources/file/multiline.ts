import { headBytes } from '../../../core/template.js';
import type { Cut } from './lines.js';
import type { LongLines, MultilineOptions } from './options.js';

/**
 * Joins continuation lines into one event (stack traces). A line either starts an event or
 * continues the current one, decided by a `start` or a `continuation` pattern (optionally
 * negated), run on the line's first `max_match_bytes`. The joined event spans the file
 * bytes of all its lines: it starts at the first line's offset and reading resumes after
 * its last line, so a checkpoint never falls in the middle of an event and a restart
 * re-reads and re-joins a half-collected one.
 */
export type EventHandler<T = undefined> = (message: string, offset: number, next: number, cut: Cut, first: T) => void;

/** Bytes [offset, next) of the file make no event (skipped as too long): the position may pass them. */
export type SkipHandler = (offset: number, next: number) => void;

export interface Rules {
  start?: RegExp;
  continuation?: RegExp;
}

/**
 * Presets describe continuation lines, as traces are printed after an ordinary log line:
 * java: "\tat ...", "Caused by: ...", "\t... 5 more"; python: indented frames,
 * "Traceback ...", the chained-exception banners, blank lines and the final "XError: ...";
 * go: panics and goroutine dumps ("goroutine 1 [running]:", "main.f(...)", indented paths).
 *
 * Each runs in time linear in the line, whatever it holds (bench/patterns.ts measures them
 * on hostile lines): anchored at the start, and no two quantifiers that can both take the
 * same characters. The go frame `pkg.(*T).f(args)` is "symbol characters up to the first
 * `(`, then anything up to a final `)`": the symbol run excludes `(`, so there is one way
 * to match it (the former `[\w.()…]+\(.*\)$` tried every `(` and took minutes on a line of
 * them).
 */
export const PRESETS: Record<'java' | 'python' | 'go', Rules> = {
  java: { continuation: /^(?:[ \t]+\S|Caused by: |Suppressed: |[ \t]*\.\.\. \d+ (?:more|common frames omitted))/ },
  python: {
    continuation:
      /^(?:[ \t]|$|Traceback \(most recent call last\):|During handling of the above exception|The above exception was the direct cause|[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Group)(?::|$))/,
  },
  go: {
    continuation:
      /^(?:[ \t]|$|goroutine \d+ \[|created by |\[signal |exit status \d+$|[\w./*%()[\]-][\w./*%)[\]-]*\([^\n\r\u2028\u2029]*\)$)/,
  },
};

/** The rules of validated options (the schema already checked that the patterns compile and that one is given). */
export function compileRules(options: MultilineOptions): Rules {
  if (options.start !== undefined) return { start: new RegExp(options.start) };
  if (options.continuation !== undefined) return { continuation: new RegExp(options.continuation) };
  return PRESETS[options.preset!];
}

export interface JoinLimits {
  /** Largest joined event (UTF-8 bytes of the message, newlines included). */
  maxBytes: number;
  /** What an event that would grow past maxBytes becomes (see README, "Long lines"). */
  policy: LongLines;
  maxLines: number;
  maxMatchBytes: number;
  negate: boolean;
}

/** `T`: what the event keeps of its first line besides the text (the container source: its time and stream). */
export class MultilineJoiner<T = undefined> {
  private lines: string[] = [];
  private bytes = 0;
  private offset = 0;
  private first!: T;
  private next = 0;
  private cut: Cut;
  /** The event outgrew maxBytes: later continuation lines are dropped (truncate) or the whole event is (skip). */
  private dropping: 'truncate' | 'skip' | undefined;
  private open = false;
  /** When the last line arrived (ms), for the flush timeout. */
  lastLineAt = 0;

  constructor(
    private readonly rules: Rules,
    private readonly limits: JoinLimits,
    private readonly onEvent: EventHandler<T>,
    private readonly onSkip: SkipHandler,
  ) {}

  get pending(): boolean {
    return this.open;
  }

  /** File offset where the event being collected starts (meaningful while pending). */
  get heldFrom(): number {
    return this.offset;
  }

  /** `bytes`: the UTF-8 size of `line`. A 'skipped' line (over the limit) comes as its head, to be classified. */
  push(line: string, bytes: number, offset: number, next: number, cut: Cut, now: number, first?: T): void {
    if (this.open && this.startsEvent(line)) this.flush();
    this.lastLineAt = now;
    if (!this.open) {
      this.open = true;
      this.offset = offset;
      this.cut = undefined;
      this.dropping = undefined;
      this.first = first as T;
    }
    this.next = next;
    if (cut === 'skipped') {
      this.drop('skip');
      return;
    }
    if (this.dropping) return;
    const added = this.lines.length === 0 ? bytes : bytes + 1;
    // A first line is never over the limit: the line splitter already applied the policy to it.
    if (this.lines.length > 0 && this.bytes + added > this.limits.maxBytes) {
      if (this.limits.policy === 'split') {
        // Close what is collected (marked as a piece) and go on with this line as the next piece.
        this.next = offset;
        this.cut = 'split';
        this.flush();
        this.push(line, bytes, offset, next, cut, now, first);
        return;
      }
      this.drop(this.limits.policy);
      return;
    }
    this.lines.push(line);
    this.bytes += added;
    if (cut && this.cut === undefined) this.cut = cut;
    if (this.lines.length >= this.limits.maxLines) this.flush();
  }

  flush(): void {
    if (!this.open) return;
    this.open = false;
    if (this.dropping === 'skip' || this.lines.length === 0) {
      this.onSkip(this.offset, this.next);
    } else {
      const message = this.lines.length === 1 ? this.lines[0]! : this.lines.join('\n');
      this.onEvent(message, this.offset, this.next, this.cut, this.first);
    }
    this.lines = [];
    this.bytes = 0;
  }

  private drop(how: 'truncate' | 'skip'): void {
    if (this.dropping === 'skip') return;
    this.dropping = how;
    if (how === 'truncate') this.cut = 'truncated';
    else {
      this.lines = [];
      this.bytes = 0;
    }
  }

  private startsEvent(line: string): boolean {
    const { start, continuation } = this.rules;
    const text = headBytes(line, this.limits.maxMatchBytes);
    if (start) return start.test(text) !== this.limits.negate;
    return !(continuation!.test(text) !== this.limits.negate);
  }
}
