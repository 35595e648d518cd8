// The pipeline process's code in a few minified files (dist/bundle/), built after tsc by
// `npm run build`. A sidecar agent idles about 6 MiB lower on it than on ~180 separate
// modules: fewer module records, scopes and source strings. bin/launch.ts starts agent,
// collector and run on it; every other command runs the modules in dist/ as compiled.
import type { BuildOptions } from 'rolldown';

const options = {
  input: 'dist/bin/sluice.js',
  platform: 'node',
  // Loaded where they are installed: the librdkafka binding (native code, an optional
  // dependency) and pino-pretty (a terminal's log format, required at run time).
  external: ['@confluentinc/kafka-javascript', 'pino-pretty'],
  output: {
    // Two levels below the package, as dist/bin/: the CLI reads ../../package.json.
    dir: 'dist/bundle',
    cleanDir: true,
    format: 'esm',
    minify: true,
    entryFileNames: 'sluice.js',
    chunkFileNames: '[name]-[hash].js',
  },
} satisfies BuildOptions;

export default options;
