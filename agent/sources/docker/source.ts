import { Counter } from 'prom-client';
import { metrics } from '../../../core/metrics.js';
import type { ComponentContext } from '../../../core/pipeline.js';
import type { DecodedEvent, FileDescription, FileFormat, LineDecoder } from '../file/format.js';
import { compileRules, MultilineJoiner } from '../file/multiline.js';
import { fileSourceOptions, type FileSourceOptions } from '../file/options.js';
import { FileSource } from '../file/source.js';
import { ContainerLogDecoder, type First } from './decoder.js';
import { ContainerInfoCache, ContainerRules } from './metadata.js';
import type { DockerSourceOptions } from './options.js';

function counter(name: string, help: string): Counter<'component'> {
  return (
    (metrics.getSingleMetric(name) as Counter<'component'> | undefined) ??
    new Counter({ name, help, labelNames: ['component'], registers: [metrics] })
  );
}

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

/** Reports of malformed lines per file: the first ones, then one in a thousand (all are counted). */
const REPORT_FIRST = 10;

/** Container logs as a file format: the tailer stays the file source's. */
class ContainerLogFormat implements FileFormat {
  readonly kind = 'docker';
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
    this.multiline = o.multiline ? compileRules(o.multiline, where) : undefined;
    this.infos = new ContainerInfoCache((file, reason) => {
      dockerMetrics.metadataErrors.inc(this.label);
      ctx.logger.warn({ file, reason }, `container config ${reason}; its logs are read without name, image and labels`);
    });
  }

  async describe(path: string): Promise<FileDescription | undefined> {
    const info = await this.infos.get(path);
    return this.rules.wanted(info) ? this.rules.describe(info) : undefined;
  }

  decoder(emit: (e: DecodedEvent) => void, where: { path: string }): LineDecoder {
    const o = this.o;
    const rules = this.multiline;
    let bad = 0;
    return new ContainerLogDecoder(
      {
        maxMessageBytes: o.max_message_bytes,
        partialTimeout: o.partial_line_timeout,
        flushTimeout: o.multiline?.flush_timeout ?? 0,
        joiner: rules ? (out) => new MultilineJoiner<First>(rules, o.multiline!, out) : undefined,
        malformed: (offset, reason) => {
          dockerMetrics.malformed.inc(this.label);
          bad++;
          if (bad <= REPORT_FIRST || bad % 1000 === 0) {
            this.ctx.logger.warn(
              { path: where.path, offset, reason, malformedInFile: bad },
              'malformed container log line; emitted raw with fields["log.malformed"]',
            );
          }
        },
      },
      emit,
    );
  }
}

/**
 * The `docker` source: Docker json-file and CRI container logs, read by the file source's
 * tailer (rotation, identity, checkpoints carried with the data) with a record decoder.
 */
export class DockerSource extends FileSource {
  constructor(options: DockerSourceOptions, ctx: ComponentContext) {
    // The tailing options were validated as the docker source's own; only what the file
    // source has and the docker source does not say comes from the file source's defaults.
    const fileOptions: FileSourceOptions = {
      ...fileSourceOptions.parse({ include: options.include, long_lines: 'truncate' }),
      include: options.include,
      exclude: options.exclude,
      start_at: options.start_at,
      max_line_bytes: options.max_line_bytes,
      partial_line_timeout: options.partial_line_timeout,
      fingerprint_bytes: options.fingerprint_bytes,
      read_buffer_bytes: options.read_buffer_bytes,
      batch_max_events: options.batch_max_events,
      batch_max_bytes: options.batch_max_bytes,
      max_open_files: options.max_open_files,
      idle_close: options.idle_close,
      poll_interval: options.poll_interval,
      rescan_interval: options.rescan_interval,
      rotate_wait: options.rotate_wait,
      forget_after: options.forget_after,
      checkpoint_interval: options.checkpoint_interval,
      watch: options.watch,
    };
    super(fileOptions, ctx, new ContainerLogFormat(options, ctx));
  }
}
