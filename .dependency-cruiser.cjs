// The architecture's dependency rules (ARCHITECTURE.md, "Dependency rules"), checked by
// `npm run lint` so that nobody can break them by accident.

/** Paths under any of these top folders. */
const folders = (...names) => `^(${names.join('|')})/`;
const TESTS = '\\.test\\.ts$';

/**
 * A folder that may not import from the folders in `forbidden`. `testsToo: false` lets its
 * tests import them (a test may wire up what the folder itself must not know).
 */
function layer(name, folder, forbidden, comment, { testsToo = true } = {}) {
  return {
    name,
    comment,
    severity: 'error',
    from: testsToo ? { path: `^${folder}/` } : { path: `^${folder}/`, pathNot: TESTS },
    to: { path: folders(...forbidden) },
  };
}

const HALVES_MEET_IN_CORE = 'The agent and the collector meet only through the event and its wire format in core/.';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    layer(
      'core-is-the-bottom',
      'core',
      ['config', 'transforms', 'bus', 'agent', 'collector', 'sinks', 'dead-letter', 'bin', 'bench', 'docker'],
      'core/ is what every other folder builds on: it imports nothing of theirs.',
    ),
    layer(
      'config-builds-on-core-only',
      'config',
      ['transforms', 'bus', 'agent', 'collector', 'sinks', 'dead-letter', 'bin', 'bench'],
      'config/ parses and validates; it knows the registry (core), never the components behind it.',
      { testsToo: false },
    ),
    layer(
      'bus-builds-on-core-and-config',
      'bus',
      ['transforms', 'agent', 'collector', 'sinks', 'dead-letter', 'bin', 'bench'],
      'bus/ carries events between the halves: it knows the event, its wire format and the option vocabulary (core, config), never the agent, the collector or the sinks.',
    ),
    layer(
      'transforms-build-on-core-and-config',
      'transforms',
      ['agent', 'collector', 'sinks', 'dead-letter', 'bin', 'bench'],
      'Transforms run in the agent and in the collector alike: they know the event and the config, nothing of either half.',
      { testsToo: false },
    ),
    // Nor the bus: the agent gets a BusProducer (core/pipeline.ts) from bin/.
    layer('agent-never-imports-collector', 'agent', ['collector', 'sinks', 'dead-letter', 'bin', 'bus'], HALVES_MEET_IN_CORE),
    // Nor the bus: the collector gets a BusConsumer (core/pipeline.ts) from bin/.
    layer('collector-never-imports-agent', 'collector', ['agent', 'dead-letter', 'bin', 'bus'], HALVES_MEET_IN_CORE),
    layer(
      'sinks-know-only-core-and-config',
      'sinks',
      ['transforms', 'agent', 'collector', 'bus', 'dead-letter', 'bin'],
      'Sinks know nothing of Kafka, the agent or the collector.',
    ),
    layer(
      'dead-letters-know-only-core-and-config',
      'dead-letter',
      ['transforms', 'agent', 'collector', 'bus', 'sinks', 'bin'],
      'The dead-letter types serve the agent and the collector alike: they know the DeadLetter contract (core), never either half; a topic is reached through the Bus interface.',
    ),
    layer(
      'api-knows-core-and-config',
      'api',
      ['agent', 'collector', 'sinks', 'bin', 'bench'],
      'api/ serves what the runtime reports (metrics, readiness, taps, reloads); bin/ wires it to the pipeline, so it never imports the components.',
    ),
    {
      name: 'only-bin-imports-api',
      comment: "The HTTP API is the runtime's, started by bin/: components report through the runtime, never to the API themselves.",
      severity: 'error',
      from: { path: folders('core', 'config', 'agent', 'collector', 'sinks', 'dead-letter') },
      to: { path: '^api/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'production-code-never-imports-tests',
      severity: 'error',
      from: { pathNot: '(\\.test\\.ts$|^test/|^bench/|testkit|testing|fixtures)' },
      to: { path: '(\\.test\\.ts$|^test/)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|var|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.mjs', '.js'] },
  },
};
