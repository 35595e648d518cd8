import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { createLogger, type Logger, type LogLevel } from '../core/log.js';
import { stopOnSignals } from '../core/lifecycle.js';
import { ConfigError, type ConfigProblem, formatProblem } from '../config/errors.js';
import { loadConfigFile, type PipelineConfig } from '../config/load.js';
import { checkRole, type Role } from '../config/roles.js';
import { unsetFieldWarnings } from '../config/transforms.js';
import { createRegistry, loadComponents } from './components.js';
import type { SearchOptions } from './search.js';
import type { TapOptions } from './tap.js';
import type { TopOptions } from './top.js';
import { CliFailure } from './cli-failure.js';
import { endEarlySignals } from './launch.js';
import { reportToSupervisor, superviseWorkers, workerCount } from './workers.js';

// Each command imports what it runs when it runs: a sidecar agent never loads the
// Elasticsearch client of `search`, nor the collector, nor the terminal UI of `top`.

/** Exit codes: 0 ok, 1 runtime failure, 2 the config (or the command line) is wrong. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('sluice')
  .description(
    'Unified log collection: agents tail logs into a disk-buffered channel and ship them over Kafka;\ncollectors route them by service, module and day into files and Elasticsearch.',
  )
  .version(pkg.version, '-V, --version')
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(str) })
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE));

const configOption = () => new Option('-c, --config <file>', 'pipeline YAML file').makeOptionMandatory();
const LOG_LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
// Every command takes it, before or after the command name: Sluice's own logs, JSON lines
// on stderr (readable lines on a terminal). Overrides the config's log.level.
program.addOption(
  new Option('--log-level <level>', "Sluice's own log level (default: the config's log.level, else info)").choices(LOG_LEVELS),
);
const logLevel = (): LogLevel | undefined => program.opts<{ logLevel?: LogLevel }>().logLevel;
const apiOptions = (cmd: Command): Command =>
  cmd
    .option(
      '--api <url>',
      'the API of the running Sluice (default: $SLUICE_API_URL, else http://127.0.0.1:8686); token from $SLUICE_API_TOKEN',
    )
    .option('--ca-file <file>', 'PEM CA of an https API')
    .option('--insecure', 'do not verify the https certificate of the API');
const strictOption = () =>
  new Option('--strict', 'treat warnings (sections this command does not use, conditions on fields nothing sets) as errors');

const workersOption = () =>
  new Option(
    '--workers <n>',
    'collector processes in one consumer group (default: one per core, or 1 when a sink keeps local state)',
  ).argParser((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 256) {
      process.stderr.write(`--workers: expected a whole number from 1 to 256, got ${JSON.stringify(v)}\n`);
      process.exit(EXIT_USAGE);
    }
    return n;
  });

for (const [role, description] of [
  ['agent', 'run the agent half: sources → channel → Kafka'],
  ['collector', 'run the collector half: Kafka → sinks'],
  ['run', 'run agent and collector in one process, joined by an in-process bus (no Kafka)'],
] as const) {
  const command = program.command(role).description(description).addOption(configOption()).addOption(strictOption());
  if (role === 'collector') command.addOption(workersOption()).addOption(new Option('--worker <index>').hideHelp());
  command.action(async (opts: { config: string; strict?: boolean; workers?: number; worker?: string }) => {
    const { config, warnings } = await load(opts.config, role, { strict: opts.strict });
    const worker = opts.worker === undefined ? undefined : Number(opts.worker);
    const base = createLogger(logLevel() ?? config.log.level);
    const logger = worker === undefined ? base : base.child({ worker });
    // Workers load the same file: its warnings were logged once, by the supervisor.
    if (worker === undefined) for (const w of warnings) logger.warn({ warning: formatProblem(w) }, 'config warning');
    exitOnUnexpectedErrors(logger);
    endEarlySignals();
    const signals = stopOnSignals(logger);
    if (role === 'collector' && worker === undefined) {
      let count: number;
      try {
        count = workerCount(config, opts.workers, logger);
      } catch (err) {
        process.stderr.write(`sluice collector: ${(err as Error).message}\n`);
        process.exit(EXIT_USAGE);
      }
      if (count > 1) {
        try {
          const level = logLevel();
          const args = [role, '-c', opts.config, ...(opts.strict ? ['--strict'] : []), ...(level ? ['--log-level', level] : [])];
          const workers = await superviseWorkers(count, args, logger, {
            config,
            about: { name: 'sluice', version: pkg.version, role, config: config.file, pid: process.pid },
          });
          logger.info({ role, config: config.file, workers: count, api: workers.apiUrl }, 'sluice started');
          signals.started(async () => {
            if ((await workers.stop()) !== 0) throw new Error('a collector worker did not stop cleanly');
          });
        } catch (err) {
          // The worker that failed logged why.
          process.exit((err as { code?: number }).code ?? EXIT_FAILURE);
        }
        return;
      }
    }
    try {
      const { startPipeline } = await import('./start.js');
      const running = await startPipeline(config, role, logger, {
        version: pkg.version,
        worker,
        reload: async () => {
          const next = await loadConfigFile(opts.config, createRegistry());
          // As at start: --strict refuses what it refused then, and the warnings are said
          // (by one worker of a collector's, as the supervisor says them at start).
          const warnings = checkLoaded(next, role, opts.strict);
          if ((worker ?? 0) === 0) for (const w of warnings) logger.warn({ warning: formatProblem(w) }, 'config warning');
          await loadComponents(next, role);
          return next;
        },
      });
      logger.info({ role, config: config.file, api: running.apiUrl }, 'sluice started');
      signals.started(() => running.stop());
      if (worker !== undefined) reportToSupervisor(() => process.kill(process.pid, 'SIGTERM'));
    } catch (err) {
      logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'sluice could not start');
      process.exit(EXIT_FAILURE);
    }
  });
}

/**
 * A component failing outside the calls that start it (a background loop, a timer) ends the
 * process with one log line and exit 1, never a stack trace on stderr: the stack goes to
 * the debug level.
 */
function exitOnUnexpectedErrors(logger: Logger): void {
  const fail = (err: unknown) => {
    logger.debug({ err }, 'unexpected error (stack)');
    logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'sluice stopped on an unexpected error');
    process.exit(EXIT_FAILURE);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
}

program
  .command('validate')
  .description('check a pipeline file and list every problem with its line and column (exit 0 when valid, 2 otherwise)')
  .addOption(configOption())
  .addOption(new Option('--as <role>', 'also check it has what this command needs').choices(['agent', 'collector', 'run']))
  .addOption(strictOption())
  .option('--no-env', 'check without the environment: ${VAR:-default} takes its default, a ${VAR} without one is left unchecked (for CI)')
  .action(async (opts: { config: string; as?: Role; strict?: boolean; env: boolean }) => {
    const { config, warnings } = await load(opts.config, opts.as, { strict: opts.strict, noEnv: !opts.env });
    for (const w of warnings) process.stderr.write(`${formatProblem(w)}\n`);
    const parts = [
      config.sources.length && `${config.sources.length} source(s)`,
      config.transforms.length && `${config.transforms.length} transform(s)`,
      config.channel && `channel ${config.channel.type}`,
      config.bus && `bus ${config.bus.type}`,
      config.sinks.length && `${config.sinks.length} sink(s)`,
      // Every pipeline has one: named when the file chose it.
      'dead_letter' in config.sections && config.deadLetter && `dead_letter ${config.deadLetter.type}`,
    ].filter(Boolean);
    const notes = [
      warnings.length > 0 && `${warnings.length} warning${warnings.length === 1 ? '' : 's'}`,
      config.deferred.length > 0 && `not checked, set at run time: ${config.deferred.join(', ')}`,
    ].filter(Boolean);
    process.stdout.write(`${config.file}: valid (${parts.join(', ') || 'empty pipeline'})${notes.length ? `; ${notes.join('; ')}` : ''}\n`);
  });

program
  .command('test')
  .description('run pipeline unit tests: YAML cases of input lines or events and the events (and routes) expected out')
  .addOption(configOption())
  .argument('<files...>', 'test files (tests: [{name, input, transforms?, expect}])')
  .action(async (files: string[], opts: { config: string }) => {
    const { config } = await load(opts.config, undefined);
    const { runTests, TestFileError } = await import('./test-cmd.js');
    try {
      process.exitCode = await runTests(config, files, (line) => process.stdout.write(`${line}\n`));
    } catch (err) {
      if (!(err instanceof TestFileError)) throw err;
      process.stderr.write(`${err.message}\n`);
      process.exit(EXIT_USAGE);
    }
  });

const collect = (value: string, previous: string[] = []) => [...previous, value];

program
  .command('search')
  .description('search the lines stored in Elasticsearch, oldest first (the newest --limit matches), or follow new ones')
  .argument('[text...]', 'free text the message must contain (all words)')
  .option(
    '--url <url>',
    "Elasticsearch URL (default: the -c config's elasticsearch sink, else $ELASTICSEARCH_URL, else http://127.0.0.1:9200)",
  )
  .option('-c, --config <file>', "take URL, credentials and index pattern from this pipeline's elasticsearch sink")
  .option('--sink <name>', 'which elasticsearch sink of the config, when it has several')
  .option('--index <pattern>', "indices to search (default: the sink's index template as a pattern, else logs-*)")
  .option('--user <name>', 'basic auth user; the password comes from $ELASTICSEARCH_PASSWORD ($ELASTICSEARCH_API_KEY for an API key)')
  .option('--ca-file <file>', 'PEM CA for https')
  .option('--insecure', 'do not verify the node certificate')
  .option('-s, --service <name>', 'only this service (repeat or comma-separate for several)', collect)
  .option('-m, --module <name>', 'only this module', collect)
  .option('-l, --level <level>', 'only this level, any case (e.g. error,warn)', collect)
  .option('--host <host>', 'only this host', collect)
  .option('--since <duration>', 'events of the last ... (15m, 2h, 7d)')
  .option('--from <time>', 'events at or after this time (ISO date/time, or a duration ago)')
  .option('--to <time>', 'events at or before this time')
  .option('-n, --limit <n>', 'print at most this many matches (the newest)', '100')
  .option('--json', 'print whole documents, one JSON object per line')
  .option('--raw', 'print messages as stored, terminal control characters included (by default they are shown escaped, as \\x1b)')
  .option('-f, --follow', 'keep printing new matches as they arrive (Ctrl-C stops)')
  .option('--interval <duration>', 'how often --follow polls', '1s')
  .action(async (text: string[], opts: SearchOptions & { config?: string }) => {
    const config = opts.config ? (await load(opts.config, undefined)).config : undefined;
    const { runSearch, SearchFailure, SearchUsageError } = await import('./search.js');
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    process.once('SIGTERM', () => stop.abort());
    try {
      await runSearch(text, opts, config, (line) => process.stdout.write(`${line}\n`), process.env, stop.signal);
    } catch (err) {
      if (err instanceof SearchUsageError || err instanceof SearchFailure) {
        process.stderr.write(`sluice search: ${err.message}\n`);
        process.exit(err instanceof SearchUsageError ? EXIT_USAGE : EXIT_FAILURE);
      }
      throw err;
    }
  });

program
  .command('top')
  .description('live view of a running Sluice: every component with events/s in and out, errors, buffers, lag (q quits)')
  .option('--once', 'print one snapshot and exit (for scripts)')
  .option('--interval <duration>', 'time between refreshes', '1s')
  .addHelpText('after', '\nKeys: q or Ctrl-C quit. Exit codes: 0, or 1 when nothing answers at the API address.')
  .action(async (opts: TopOptions) => {
    await runOrExit('top', async () => (await import('./top.js')).runTop(opts, process.env));
  });
apiOptions(program.commands.at(-1)!);

program
  .command('tap')
  .description('stream events as they leave components (sources, transforms, routes), sampled when busy')
  .argument('[component...]', 'tap points or globs: sources.app, routes.errors, "sources.*" (default: all)')
  .option('-n, --limit <n>', 'stop after this many events')
  .option('--rate <n>', 'most events per second and component (the rest are counted, not shown)', '100')
  .addOption(
    new Option('--format <format>', 'json: one JSON object per line; text: time, component and message')
      .choices(['json', 'text'])
      .default('text'),
  )
  .action(async (components: string[], opts: TapOptions) => {
    await runOrExit('tap', async () => (await import('./tap.js')).runTap(components, opts, process.env));
  });
apiOptions(program.commands.at(-1)!);

/** Runs a command whose failures are one line on stderr and an exit code, never a stack trace. */
async function runOrExit(name: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (err instanceof CliFailure) {
      process.stderr.write(`sluice ${name}: ${err.message}\n`);
      process.exit(err.usage ? EXIT_USAGE : EXIT_FAILURE);
    }
    throw err;
  }
}

/**
 * The checks of a loaded file beyond its own sections: what the role needs, and conditions
 * on fields nothing sets, in file order (errors as well with --strict), so one run of validate
 * lists everything. Throws ConfigError; returns the warnings. A reload runs the same.
 */
function checkLoaded(config: PipelineConfig, role: Role | undefined, strict: boolean | undefined): ConfigProblem[] {
  const unset = unsetFieldWarnings(config, role);
  const strictUnset = strict ? unset.map((w) => ({ ...w, severity: 'error' as const })) : [];
  let warnings: ConfigProblem[];
  try {
    warnings = role ? checkRole(config, role, { strict }) : [];
  } catch (err) {
    if (err instanceof ConfigError && strictUnset.length > 0) throw new ConfigError(inFileOrder([...err.problems, ...strictUnset]));
    throw err;
  }
  if (strictUnset.length > 0) throw new ConfigError(inFileOrder(strictUnset));
  return inFileOrder([...warnings, ...unset]);
}

async function load(
  file: string,
  role: Role | undefined,
  options: { strict?: boolean; noEnv?: boolean } = {},
): Promise<{ config: PipelineConfig; warnings: ConfigProblem[] }> {
  try {
    const config = await loadConfigFile(file, createRegistry(), process.env, { noEnv: options.noEnv });
    return { config, warnings: checkLoaded(config, role, options.strict) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n${err.problems.length} problem${err.problems.length === 1 ? '' : 's'} in ${file}\n`);
    process.exit(EXIT_USAGE);
  }
}

function inFileOrder(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) => a.line - b.line || a.col - b.col);
}

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`sluice: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(EXIT_FAILURE);
});
