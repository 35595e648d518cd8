import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Backoff, sleep } from '../../../core/backoff.js';
import { OutageLog } from '../../../core/log.js';
import { type ChannelWriter, type ComponentContext, PutAbortedError, type Source } from '../../../core/pipeline.js';
import { CheckpointError, CheckpointFile, CheckpointPatches, type FileSourceState, newerCheckpoint, parseState } from './checkpoint.js';
import { Discovery } from './discovery.js';
import { codecFor } from './encoding.js';
import { Batch } from './events.js';
import { PathTemplate } from './path-template.js';
import { TimeParser } from './time.js';
import type { FileFormat } from './format.js';
import { PathMatcher } from './glob.js';
import { fileMetrics } from './metrics.js';
import { compileRules } from './multiline.js';
import type { FileSourceOptions } from './options.js';
import { PollSchedule } from './poll-schedule.js';
import { type FollowedPath, LinkWatch } from './link-watch.js';
import { FileBacklog } from './progress.js';
import { LineReader } from './reader.js';
import { Tracker } from './tracker.js';

const EMPTY_STATE: FileSourceState = { v: 2, files: {}, lost: [] };

/**
 * The `file` source: tails the files matching the globs and hands their lines to the
 * channel in batches, each put carrying the positions it brings the source to (README.md).
 *
 * One loop does everything in turn — discovery, checks, reading, putting — so positions
 * change only between puts and a put's checkpoint covers exactly the events before it.
 * While a put waits (channel full) nothing is read: the files are the buffer. What a file
 * found at a path is, and what happens to a file that rotates, is the tracker's (and each
 * file's own state machine's); this class schedules, batches, puts and checkpoints, and
 * restarts the loop from the last durable position if it fails.
 */
export class FileSource implements Source {
  private readonly tracker: Tracker;
  private readonly batch: Batch;
  private readonly found = new Set<string>();
  private readonly touched = new Set<string>();
  private readonly polls: PollSchedule;
  /** With the watcher on: the directories followed symbolic links lead into. */
  private readonly links: LinkWatch | undefined;
  private seq = 0;
  private out: ChannelWriter | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private readonly abort = new AbortController();
  private putFailing = false;
  private wakeUp: (() => void) | undefined;
  private readonly readBuf: Buffer;
  private now = 0;
  private lastPoll = 0;
  private lastRescan = 0;
  private lastSave = 0;
  private savedState = '';
  /** The positions the channel holds (or the checkpoint file, when no batch was pending): where a restart resumes. */
  private durable: FileSourceState = EMPTY_STATE;
  private hadCheckpoint = false;
  private rr = 0;
  private restarts = 0;
  private readonly matcher: PathMatcher;
  private readonly discovery: Discovery;
  private readonly checkpointFile: CheckpointFile;
  private readonly patches: CheckpointPatches;
  private readonly checkpointOutage: OutageLog;
  private readonly label: { component: string };
  private readonly progress: FileBacklog;

  constructor(
    private readonly options: FileSourceOptions,
    private readonly ctx: ComponentContext,
    /** Another format of lines (container logs); default: a line (or a multiline group) is an event. */
    format?: FileFormat,
  ) {
    const o = options;
    const where = `source ${ctx.name}`;
    let template: PathTemplate | undefined;
    try {
      this.matcher = new PathMatcher(o.include, o.exclude);
      template = o.path_pattern === undefined ? undefined : new PathTemplate(o.path_pattern, o.max_match_bytes);
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
    this.label = { component: ctx.name };
    this.progress = new FileBacklog(ctx.logger, this.label, o.progress_after);
    this.batch = new Batch({
      host: ctx.host,
      kind: format?.kind ?? 'file',
      maxEventBytes: o.max_event_bytes,
      time: o.timestamp ? new TimeParser(o.timestamp, o.max_match_bytes, where) : undefined,
      batchMaxEvents: o.batch.max_events,
      batchMaxBytes: o.batch.max_bytes,
    });
    const readerConfig = {
      codec: codecFor(o.encoding),
      maxEventBytes: o.max_event_bytes,
      longLines: o.long_lines,
      maxMatchBytes: o.max_match_bytes,
      partialTimeout: o.partial_line_timeout,
      rules: o.multiline ? compileRules(o.multiline) : undefined,
      multiline: o.multiline,
      format,
      pause: () => this.batch.full,
    };
    this.tracker = new Tracker(
      {
        sourceName: ctx.name,
        fingerprintBytes: o.fingerprint_bytes,
        rotateWait: o.rotate_wait,
        idleClose: o.idle_close,
        startAtEnd: o.start_at === 'end',
        maxOpenFiles: o.max_open_files,
        forgetAfter: o.forget_after,
        service: o.service,
        module: o.module,
        fields: o.fields,
        template,
        format,
        newReader: (f, head) => new LineReader(f.readPos, head, readerConfig, this.batch.outputFor(f), f),
        lookAgain: (p) => this.found.add(p),
      },
      this.matcher,
      ctx.logger,
    );
    this.readBuf = Buffer.allocUnsafe(o.read_buffer_bytes);
    this.polls = new PollSchedule(o.poll_interval);
    this.links = o.watch ? new LinkWatch((p) => this.touchedPath(p), ctx.logger) : undefined;
    this.checkpointFile = new CheckpointFile(join(ctx.dataDir, 'checkpoint.json'));
    this.patches = new CheckpointPatches(ctx.name, o.checkpoint_interval);
    this.checkpointOutage = new OutageLog(ctx.logger, { what: 'checkpoint file', fields: { path: this.checkpointFile.path } });
    this.discovery = new Discovery(
      this.matcher,
      o.watch,
      {
        touched: (p) => this.touchedPath(p),
      },
      ctx.logger,
    );
  }

  async start(out: ChannelWriter): Promise<void> {
    if (this.out) throw new Error(`source ${this.ctx.name} started twice`);
    this.out = out;
    const own = await this.checkpointFile.load();
    const fromChannel = out.lastCheckpoint(this.ctx.name);
    const cp = newerCheckpoint(own, fromChannel);
    if (cp) {
      const where = cp === own ? this.checkpointFile.path : `the channel's checkpoint of ${this.ctx.name}`;
      if (cp.source !== this.ctx.name) {
        throw new CheckpointError(`${where} belongs to source "${cp.source}", not "${this.ctx.name}": dataDir shared between components?`);
      }
      this.durable = parseState(cp.state, where);
      this.hadCheckpoint = true;
      this.seq = Math.max(own?.seq ?? 0, fromChannel?.seq ?? 0);
      this.savedState = cp === own ? JSON.stringify(this.durable) : '';
      this.ctx.logger.info({ seq: cp.seq, files: Object.keys(this.durable.files).length, from: where }, 'resuming from checkpoint');
    }
    const paths = await this.takeUp(!this.hadCheckpoint);
    await this.warnUnmatched(paths);
    this.report(0, false);
    this.loop = this.supervise();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    this.wake();
    await this.loop;
    await this.discovery.close();
    this.links?.close();
    if (!this.putFailing) await this.saveOwnCheckpoint(true);
    await this.tracker.closeAll();
    this.progress.remove();
  }

  /**
   * Takes up the files from the durable positions: a scan of the globs, then the
   * checkpointed files not found by it (renamed while the source was down). Returns the
   * paths the scan found.
   */
  private async takeUp(firstRun: boolean): Promise<string[]> {
    this.tracker.ids.restore(Object.values(this.durable.files), this.durable.lost);
    this.tracker.firstRun = firstRun;
    this.setTime();
    const paths = await this.discovery.scan();
    for (const p of await this.tracker.checkpointedFirst(paths)) await this.tracker.adopt(p);
    await this.tracker.recoverMoved();
    this.tracker.firstRun = false;
    await this.links?.sync(this.linkable(), true);
    this.lastRescan = this.lastPoll = this.now;
    return paths;
  }

  /** After the first scan: an include that matched nothing is most often a mistake (a wrong directory, a typo). */
  private async warnUnmatched(paths: string[]): Promise<void> {
    for (const g of this.matcher.includes) {
      if (paths.some((p) => g.regex.test(p))) continue;
      const base = await stat(g.base).catch(() => undefined);
      this.ctx.logger.warn(
        { include: g.pattern, directory: g.base, directory_exists: base?.isDirectory() === true },
        'include matched no file (yet); files appearing later are still picked up',
      );
    }
  }

  /** Runs the loop; an unexpected error restarts it from the last durable position, with backoff. */
  private async supervise(): Promise<void> {
    const backoff = new Backoff(1000, 60_000);
    let restart = false;
    while (!this.stopping) {
      const began = Date.now();
      try {
        if (restart) await this.restart();
        await this.run();
        return;
      } catch (err) {
        if (this.stopping) return;
        if (Date.now() - began > 60_000) backoff.reset();
        const delay = backoff.nextDelay();
        this.restarts++;
        fileMetrics.restarts.inc(this.label);
        this.ctx.logger.error(
          { err, restarts: this.restarts, retry_in_ms: delay },
          'file source failed; restarting from the last durable position',
        );
        await sleep(delay, this.abort.signal);
        restart = true;
      }
    }
  }

  /** Forgets everything not put yet and takes the files up again where the channel has them. */
  private async restart(): Promise<void> {
    this.batch.clear();
    this.found.clear();
    this.touched.clear();
    await this.tracker.closeAll();
    this.patches.reset();
    // start_at still applies if nothing was ever made durable since the very first start.
    await this.takeUp(!this.hadCheckpoint && this.durable === EMPTY_STATE);
    this.report(0, false);
  }

  private touchedPath(p: string): void {
    this.touched.add(p);
    if (!this.lingering()) this.wake();
  }

  /**
   * The paths the followed files are known by: a file renamed away keeps its name while no
   * new file took it, so that the watch that will see the new one is kept.
   */
  private linkable(): FollowedPath[] {
    const paths: FollowedPath[] = [];
    for (const f of this.tracker.followed())
      if (f.state === 'following' || f.state === 'closed' || this.tracker.at(f.path) === f) paths.push({ path: f.path, key: f.key });
    return paths;
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private setTime(): void {
    this.now = Date.now();
    this.tracker.setTime(this.now);
    this.batch.now = this.now;
  }

  private async run(): Promise<void> {
    const o = this.options;
    while (!this.stopping) {
      this.setTime();
      if (this.now - this.lastRescan >= o.rescan_interval) {
        this.lastRescan = this.now;
        // A name a file renamed away still holds may have a new file: looked at too.
        for (const p of await this.discovery.scan())
          if (!this.tracker.has(p) || this.tracker.at(p)?.state === 'detached') this.found.add(p);
        await this.links?.sync(this.linkable(), true);
      }
      if (this.now - this.lastPoll >= o.poll_interval) {
        this.lastPoll = this.now;
        for (const f of this.tracker.followed()) {
          // A file its path still leads to is looked at just below when an event named it (and
          // counts as announced). One its path no longer leads to (renamed away, its name taken)
          // has no event to come but the poll's.
          const underItsName = this.tracker.at(f.path) === f;
          if (underItsName && (this.touched.has(f.path) || !this.polls.due(f, this.now))) continue;
          // Renamed away with nothing under its name when last looked: a new file may be there
          // now, whose event was lost (or the watch is off).
          if (underItsName && f.state === 'detached') this.found.add(f.path);
          this.polls.lookedAt(f, this.now, await this.tracker.check(f), false);
        }
        await this.tracker.housekeeping();
        this.report(0, false);
      }
      for (const p of [...this.touched]) {
        this.touched.delete(p);
        const f = this.tracker.at(p);
        if (f) {
          this.polls.lookedAt(f, this.now, await this.tracker.check(f), true);
          // Renamed away with nothing under its name yet (kubelet renames, the runtime makes the
          // new file a few ms later): an event for the name now may be that new file.
          if (f.state === 'detached') this.found.add(p);
        } else this.found.add(p);
      }
      if (this.found.size > 0 || this.links?.stale) {
        for (const p of [...this.found]) {
          this.found.delete(p);
          await this.tracker.adopt(p);
        }
        await this.links?.sync(this.linkable(), false);
      }
      for (const f of this.tracker.followed()) f.reader.tick(this.now, f.atEof ? this.now - f.lastGrowthAt : 0);
      const read = await this.readRound();
      if (this.batch.events.length > 0 && (this.batch.full || this.batchDue())) {
        await this.putBatch();
        // A steady load may never leave the loop idle: between two batches nothing is pending either.
        await this.saveOwnCheckpoint(false);
      } else if (read === 0) {
        // Nothing left to read and every event in the channel: caught up.
        if (this.batch.events.length === 0 && !this.putFailing) this.report(this.tracker.settle(), true);
        await this.saveOwnCheckpoint(false);
        await this.sleep(this.nextDeadline());
      }
    }
  }

  /** A batch that is not full goes once the files have nothing more to read and it waited batch.timeout. */
  private batchDue(): boolean {
    const timeout = this.options.batch.timeout;
    return timeout === 0 || this.stopping || Date.now() - this.batch.startedAt >= timeout;
  }

  /** Reads one chunk per file in turn until the batch is full or no file has more. */
  private async readRound(): Promise<number> {
    const order = this.tracker.followed();
    const paused = () => this.batch.full;
    let total = 0;
    let idle = 0;
    while (idle < order.length && !this.batch.full && !this.stopping) {
      const f = order[this.rr++ % order.length]!;
      this.batch.now = Date.now();
      this.tracker.setTime(this.batch.now);
      const n = f.atEof || f.state === 'released' ? 0 : await this.tracker.read(f, this.readBuf, paused);
      total += n;
      idle = n === 0 ? idle + 1 : 0;
    }
    return total;
  }

  private async putBatch(): Promise<void> {
    const { events, bytes, counts } = this.batch.take();
    const state = this.tracker.state();
    const positions = this.tracker.positions();
    // A retry sends the same checkpoint: a patch stays one of the last put accepted.
    const outgoing = this.patches.next(++this.seq, state, performance.now());
    for (let delay = 100; ; delay = Math.min(delay * 2, 30_000)) {
      try {
        // Taken back if the source stops while it waits for room (a reload removes it).
        await this.out!.put(events, outgoing.checkpoint, this.abort.signal);
        this.patches.accepted(outgoing, performance.now());
        this.putFailing = false;
        break;
      } catch (err) {
        // Not accepted: the positions stay where the channel has them; retry the same batch.
        this.putFailing = true;
        // The agent is stopping and the channel had no room: the batch is read again on the next start.
        if (err instanceof PutAbortedError) return;
        this.ctx.logger.error({ err, events: events.length, retry_in_ms: delay }, 'channel refused a batch; retrying');
        if (this.stopping) return;
        await sleep(delay, this.abort.signal);
        if (this.stopping) return;
      }
    }
    this.durable = state;
    this.report(this.tracker.settle(positions), false);
    const l = this.label;
    fileMetrics.events.inc(l, events.length);
    fileMetrics.bytes.inc(l, bytes);
    if (counts.truncated) fileMetrics.truncated.inc(l, counts.truncated);
    if (counts.split) fileMetrics.split.inc(l, counts.split);
    if (counts.skipped) fileMetrics.skipped.inc(l, counts.skipped);
    if (counts.invalidTimes) fileMetrics.invalidTimes.inc(l, counts.invalidTimes);
  }

  /** The lag and the backlog's progress (gauges, and the log lines of a large backlog). */
  private report(done: number, idle: boolean): void {
    this.progress.update(Date.now(), this.tracker.lag(), this.tracker.count, done, idle);
  }

  /**
   * Writes the positions to the checkpoint file while no batch is pending (so it only holds
   * positions of events the channel has): when idle, and right after a put, at most every
   * checkpoint_interval. A failed write (a full disk) is not fatal: the
   * channel holds the same positions with its data; it is logged as an outage and retried.
   */
  private async saveOwnCheckpoint(force: boolean): Promise<void> {
    if (this.batch.events.length > 0 || this.putFailing) return;
    if (!force && this.now - this.lastSave < this.options.checkpoint_interval) return;
    this.lastSave = this.now;
    const state = this.tracker.state();
    this.durable = state;
    if (this.batch.counts.skipped) {
      // Skipped lines moved positions without events: counted now that nothing else will carry them.
      fileMetrics.skipped.inc(this.label, this.batch.take().counts.skipped);
    }
    const text = JSON.stringify(state);
    if (text === this.savedState) return;
    try {
      await this.checkpointFile.save({ source: this.ctx.name, seq: ++this.seq, state });
      this.savedState = text;
      this.checkpointOutage.ok();
    } catch (err) {
      this.checkpointOutage.failed(err);
    }
  }

  /**
   * A batch that is not full waits out batch.timeout: the lines appended meanwhile are read
   * when it is due, not on each notification. A trickle over many files then costs one loop
   * round per timeout instead of one (a stat, a read, a put, an fsync) per line.
   */
  private lingering(): boolean {
    const timeout = this.options.batch.timeout;
    return timeout > 0 && this.batch.events.length > 0 && !this.batch.full && Date.now() - this.batch.startedAt < timeout;
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping || this.found.size > 0 || (this.touched.size > 0 && !this.lingering())) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake(), Math.max(1, ms));
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Milliseconds until the next timed duty: poll, rescan, checkpoint save, a flush timeout, a batch's timeout. */
  private nextDeadline(): number {
    const o = this.options;
    let at = Math.min(this.lastPoll + o.poll_interval, this.lastRescan + o.rescan_interval, this.lastSave + o.checkpoint_interval);
    if (this.batch.events.length > 0) at = Math.min(at, this.batch.startedAt + o.batch.timeout);
    for (const f of this.tracker.followed()) at = Math.min(at, f.reader.deadline(f.lastGrowthAt));
    return at - Date.now();
  }
}
