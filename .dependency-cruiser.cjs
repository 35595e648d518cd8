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
      to: { path: '^(config|transforms|agent|collector|sinks|bin|bench|docker)/' },
    },
    {
      name: 'config-builds-on-core-only',
      comment: 'config/ parses and validates; it knows the registry (core), never the components behind it.',
      severity: 'error',
      from: { path: '^config/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(transforms|agent|collector|sinks|bin|bench)/' },
    },
    {
      name: 'transforms-build-on-core-and-config',
      comment: 'Transforms run in the agent and in the collector alike: they know the event and the config, nothing of either half.',
      severity: 'error',
      from: { path: '^transforms/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(agent|collector|sinks|bin|bench)/' },
    },
    {
      name: 'agent-never-imports-collector',
      comment: 'The agent and the collector meet only through the event and its wire format in core/.',
      severity: 'error',
      from: { path: '^agent/' },
      to: { path: '^(collector|sinks|bin)/' },
    },
    {
      name: 'collector-never-imports-agent',
      comment: 'The agent and the collector meet only through the event and its wire format in core/.',
      severity: 'error',
      from: { path: '^collector/' },
      to: { path: '^(agent|bin)/' },
    },
    {
      name: 'sinks-know-only-core-and-config',
      comment: 'Sinks know nothing of Kafka, the agent or the collector.',
      severity: 'error',
      from: { path: '^sinks/' },
      to: { path: '^(transforms|agent|collector|bin)/' },
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
      from: { path: '^(core|config|agent|collector|sinks)/' },
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
