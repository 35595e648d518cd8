#!/usr/bin/env node
// libuv's threadpool runs every fs call; with its default of 4 threads, the fsyncs of a
// file sink writing many day files and of the disk channel queue behind each other. It
// must be sized before the first fs call, hence before the CLI's modules are imported.
process.env.UV_THREADPOOL_SIZE ??= '16';
await import('./cli.js');
