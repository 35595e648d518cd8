#!/usr/bin/env node
// libuv's threadpool runs every fs call; with its default of 4 threads, the fsyncs of a
// file sink writing many day files and of the disk channel queue behind each other. It
// must be sized before the first fs call, hence before the CLI's modules are imported.
process.env.UV_THREADPOOL_SIZE ??= '16';
// Files Sluice creates (state, dead-letters, outputs, directories) are never readable by
// others: logs hold what services print, secrets included. A stricter umask is kept; a
// component that must share more says so with an explicit mode (the file sink's file_mode).
process.umask(process.umask(0o027) | 0o027);
// agent, collector and run start in a child whose heap is sized by memory_limit, on the
// bundled code (launch.ts).
const { exitOnEarlySignals, launchPlan, pipelineScript, relaunch } = await import('./launch.js');
const plan = launchPlan(process.argv.slice(2), process.env);
if (plan) relaunch(plan, pipelineScript(process.argv[1]!), process.argv.slice(2));
else {
  exitOnEarlySignals();
  await import('./cli.js');
}
