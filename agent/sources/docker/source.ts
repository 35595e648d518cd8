import { dirname } from 'node:path';
import { counter as metricCounter } from '../../../core/metrics.js';
import type { ComponentContext } from '../../../core/pipeline.js';
import type { DecoderOutput, FileDescription, FileFormat, LineDecoder } from '../file/format.js';
import { compileRules, MultilineJoiner } from '../file/multiline.js';
import { type FileSourceOptions, tailingShape } from '../file/options.js';
import { FileSource } from '../file/source.js';
import { ContainerLogDecoder, type First } from './decoder.js';
import { ContainerInfoCache, ContainerRules } from './metadata.js';
import type { DockerSourceOptions } from './options.js';

const counter = (name: string, help: string) => metricCounter(name, help, ['component'] as const);

export const dockerMetrics = {
  malformed: counter(
    'sluice_docker_source_malformed_lines_total',
    'Lines that are neither a json-file nor a CRI record: emitted raw with fields["log.malformed"]',
  ),
  metadataErrors: counter(
    'sluice_docker_source_metadata_errors_total',
    'Container config files (config.v2.json) that could not be read or parsed',
  ),
};

/** Where Docker and containerd cut a line without newline into pieces. */
const SPLIT_BYTES = 16 * 1024;

/** Reports of malformed lines per file: the first ones, then one in a thousand (all are counted). */
const REPORT_FIRST = 10;

/** Container logs as a file format: the tailer stays the file source's. */
class ContainerLogFormat implements FileFormat {
  readonly kind = 'docker';
  /**
   * A record line holds at most 16 KiB of a message (the runtimes' cut; a CRI runtime may be
   * set to cut later), JSON-escaped (up to 6 bytes for one), and the record's other keys
   * (json-file's `attrs` with log-opt labels or env): read whole up to this.
   */
  readonly maxLineBytes: number;
  /**
   * Every container has its own directory (a pod's container too), and the runtimes rotate by
   * rename within it: a log in another directory is another container's, however alike their
   * first bytes (replicas of one image print the same first line, and a json-file record's
   * time comes after it). Continued from a removed one's position, its head would be lost.
   */
  readonly mayContinue = (was: string, path: string): boolean => dirname(was) === dirname(path);
  private readonly rules: ContainerRules;
  private readonly infos: ContainerInfoCache;
  private readonly multiline: ReturnType<typeof compileRules> | undefined;
  private readonly label: { component: string };

  constructor(
    private readonly o: DockerSourceOptions,
    private readonly ctx: ComponentContext,
  ) {
    const where = `source ${ctx.name}`;
    this.label = { component: ctx.name };
    this.rules = new ContainerRules(o, ctx.name, where);
    this.multiline = o.multiline ? compileRules(o.multiline) : undefined;
    this.maxLineBytes = Math.min(Math.max(o.max_event_bytes, SPLIT_BYTES) * 6 + 64 * 1024, 256 * 1024 * 1024);
    this.infos = new ContainerInfoCache((file, reason) => {
      dockerMetrics.metadataErrors.inc(this.label);
      ctx.logger.warn({ file, reason }, 'container config unusable; its logs are read without name, image and labels');
    });
  }

  async describe(path: string): Promise<FileDescription | undefined> {
    const info = await this.infos.get(path);
    return this.rules.wanted(info) ? this.rules.describe(info) : undefined;
  }

  decoder(out: DecoderOutput, where: { path: string }): LineDecoder {
    const o = this.o;
    const rules = this.multiline;
    let bad = 0;
    return new ContainerLogDecoder(
      {
        maxEventBytes: o.max_event_bytes,
        policy: o.long_lines,
        maxLineBytes: this.maxLineBytes,
        partialTimeout: o.partial_line_timeout,
        flushTimeout: o.multiline?.flush_timeout ?? 0,
        joiner: rules
          ? (emit, skip) =>
              new MultilineJoiner<First>(
                rules,
                {
                  maxBytes: o.max_event_bytes,
                  policy: o.long_lines,
                  maxLines: o.multiline!.max_lines,
                  maxMatchBytes: o.max_match_bytes,
                  negate: o.multiline!.negate,
                },
                emit,
                skip,
              )
          : undefined,
        malformed: (offset, reason) => {
          dockerMetrics.malformed.inc(this.label);
          bad++;
          if (bad <= REPORT_FIRST || bad % 1000 === 0) {
            this.ctx.logger.warn(
              { path: where.path, offset, reason, malformed_in_file: bad },
              'malformed container log line; emitted raw with fields["log.malformed"]',
            );
          }
        },
      },
      out,
    );
  }
}

/**
 * The `docker` source: Docker json-file and CRI container logs, read by the file source's
 * tailer (rotation, identity, checkpoints carried with the data) with a record decoder.
 */
export class DockerSource extends FileSource {
  constructor(options: DockerSourceOptions, ctx: ComponentContext) {
    // The tailing options were validated as the docker source's own; the rest of the file
    // source's options do not apply to container logs (their fields come from the container).
    const tailing = Object.fromEntries(Object.keys(tailingShape).map((k) => [k, options[k as keyof DockerSourceOptions]]));
    const fileOptions = {
      ...tailing,
      include: options.include,
      exclude: options.exclude,
      fields: {},
      encoding: 'utf-8',
    } as FileSourceOptions;
    super(fileOptions, ctx, new ContainerLogFormat(options, ctx));
  }
}
