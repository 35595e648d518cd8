import type { Logger } from '../core/log.js';
import type { Bus } from '../core/pipeline.js';
import { metrics } from '../core/metrics.js';
import type { PipelineConfig } from '../config/load.js';
import { Readiness } from '../api/readiness.js';
import { startApiServer, type ApiServer } from '../api/server.js';
import { Taps } from '../api/tap.js';
import { type IpcPort, serveApiOverIpc } from '../api/worker-ipc.js';
import type { LivePipeline, Reloader } from './reload.js';
import { earlyReload } from './launch.js';

/**
 * What makes a running pipeline operable: the readiness model and the tap points the
 * runtime reports into while it builds the pipeline, then the HTTP API, the Kafka probe
 * behind "bus connected", and SIGHUP for reloads.
 */
export interface Operations {
  readiness: Readiness;
  taps: Taps;
}

export function createOperations(config: PipelineConfig): Operations {
  return { readiness: new Readiness(config.api.ready_failing_after), taps: new Taps() };
}

export interface Operating {
  /** Where the API listens, when it does. */
  readonly url: string | undefined;
  /** The pipeline starts to stop: /ready says so, reloads are refused; the api still answers while it drains. */
  stopping(): Promise<void>;
  /** The pipeline stopped: the api and the probe go. */
  close(): Promise<void>;
}

export interface OperateOptions {
  live: LivePipeline;
  reloader: Reloader;
  about: Record<string, unknown>;
  /** The bus, probed for readiness when it can be (agent: producer side; collector: consumer side, with lag). */
  bus?: { bus: Bus; side: 'producer' | 'consumer' };
  /**
   * Probe a consumer even without an api: the group's lag gauges and its backlog progress
   * in the log (consumer.progress_after) are for the logs and metrics too, not only /ready.
   */
  groupProgress?: boolean;
  /**
   * A collector's worker: its supervisor serves the one api of the group and asks this
   * process over the IPC channel it forked it with (api/group.ts).
   */
  supervised?: boolean;
}

export async function startOperations(ops: Operations, o: OperateOptions, logger: Logger): Promise<Operating> {
  const config = o.live.config;
  const log = logger.child({ component: 'api' });
  let server: ApiServer | undefined;
  let stopServing: (() => void) | undefined;
  const reload = () => o.reloader.reload('api');
  if (o.supervised) {
    if (config.api.enabled)
      stopServing = serveApiOverIpc(
        { probes: ops.readiness, taps: ops.taps, metrics: () => metrics.getMetricsAsJSON(), reload },
        process as unknown as IpcPort,
      );
  } else {
    try {
      server = await startApiServer(
        config.api,
        {
          probes: ops.readiness,
          taps: ops.taps,
          metrics: async () => ({ contentType: metrics.contentType, body: await metrics.metrics() }),
          reload,
          about: o.about,
        },
        log,
      );
    } catch (err) {
      // A warning, not an error: the pipeline is what must run, and without its api it still
      // ships every event (two Sluices on one machine with the default address: the second
      // has none). The probes that use the api then fail, which is how an orchestrator notices.
      log.warn({ err, address: config.api.address }, 'api not started; the pipeline runs without it');
    }
  }
  const probe =
    (server || stopServing || (o.groupProgress && o.bus?.side === 'consumer')) && o.bus?.bus.probe
      ? o.bus.bus.probe(
          // Of a collector's workers, the first measures the group's lag (one progress log,
          // one set of lag series); the others probe only the connection.
          o.bus.side === 'consumer' && o.supervised && !o.groupProgress ? 'producer' : o.bus.side,
          ops.readiness.get('bus')!,
          logger.child({ component: 'bus', side: 'probe' }),
        )
      : undefined;
  const onHup = () => {
    void o.reloader.reload('signal');
  };
  process.on('SIGHUP', onHup);
  if (earlyReload()) {
    logger.info('a reload was asked for while the pipeline started: reloading the config now');
    onHup();
  }
  ops.readiness.pipelineRunning();
  return {
    url: server?.url,
    async stopping() {
      process.off('SIGHUP', onHup);
      ops.readiness.pipelineStopping();
      await o.reloader.close();
    },
    async close() {
      await probe?.stop();
      stopServing?.();
      await server?.close();
    },
  };
}
