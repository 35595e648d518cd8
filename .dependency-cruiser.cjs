// The architecture's dependency rules (ARCHITECTURE.md, "Dependency rules"), checked by
// `npm run lint` so that nobody can break them by accident.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-is-the-bottom',
      comment: 'core/ is what every other folder builds on: it imports nothing of theirs.',
      severity: 'error',
      from: { path: '^core/' },
      to: { path: '^(config|transforms|bus|agent|collector|sinks|dead-letter|bin|bench|docker)/' },
    },
    {
      name: 'config-builds-on-core-only',
      comment: 'config/ parses and validates; it knows the registry (core), never the components behind it.',
      severity: 'error',
      from: { path: '^config/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(transforms|bus|agent|collector|sinks|dead-letter|bin|bench)/' },
    },
    {
      name: 'bus-builds-on-core-and-config',
      comment:
        'bus/ carries events between the halves: it knows the event, its wire format and the option vocabulary (core, config), never the agent, the collector or the sinks.',
      severity: 'error',
      from: { path: '^bus/' },
      to: { path: '^(transforms|agent|collector|sinks|dead-letter|bin|bench)/' },
    },
    {
      name: 'transforms-build-on-core-and-config',
      comment: 'Transforms run in the agent and in the collector alike: they know the event and the config, nothing of either half.',
      severity: 'error',
      from: { path: '^transforms/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(agent|collector|sinks|dead-letter|bin|bench)/' },
    },
    {
      name: 'agent-never-imports-collector',
      // Nor the bus: the agent gets a BusProducer (core/pipeline.ts) from bin/.
      comment: 'The agent and the collector meet only through the event and its wire format in core/.',
      severity: 'error',
      from: { path: '^agent/' },
      to: { path: '^(collector|sinks|dead-letter|bin|bus)/' },
    },
    {
      name: 'collector-never-imports-agent',
      // Nor the bus: the collector gets a BusConsumer (core/pipeline.ts) from bin/.
      comment: 'The agent and the collector meet only through the event and its wire format in core/.',
      severity: 'error',
      from: { path: '^collector/' },
      to: { path: '^(agent|dead-letter|bin|bus)/' },
    },
    {
      name: 'sinks-know-only-core-and-config',
      comment: 'Sinks know nothing of Kafka, the agent or the collector.',
      severity: 'error',
      from: { path: '^sinks/' },
      to: { path: '^(transforms|agent|collector|bus|dead-letter|bin)/' },
    },
    {
      name: 'dead-letters-know-only-core-and-config',
      comment:
        'The dead-letter types serve the agent and the collector alike: they know the DeadLetter contract (core), never either half; a topic is reached through the Bus interface.',
      severity: 'error',
      from: { path: '^dead-letter/' },
      to: { path: '^(transforms|agent|collector|bus|sinks|bin)/' },
    },
    {
      name: 'api-knows-core-and-config',
      comment:
        'api/ serves what the runtime reports (metrics, readiness, taps, reloads); bin/ wires it to the pipeline, so it never imports the components.',
      severity: 'error',
      from: { path: '^api/' },
      to: { path: '^(agent|collector|sinks|bin|bench)/' },
    },
    {
      name: 'only-bin-imports-api',
      comment: "The HTTP API is the runtime's, started by bin/: components report through the runtime, never to the API themselves.",
      severity: 'error',
      from: { path: '^(core|config|agent|collector|sinks|dead-letter)/' },
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
