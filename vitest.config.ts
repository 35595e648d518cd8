import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing but Node (the fast loop, `npm run test:unit`);
// `integration` talks to the real Kafka broker and Elasticsearch node, which the global
// setup starts when they are not already running (and stops again afterwards).
// Integration tests are named *.int.test.ts.
export default defineConfig({
  test: {
    reporters: ['default', 'json'],
    outputFile: { json: 'var/test-results.json' },
    projects: [
      {
        test: {
          name: 'unit',
          globalSetup: ['test/build-setup.ts'],
          include: ['{api,core,config,transforms,bus,agent,collector,sinks,dead-letter,bin,test,docker}/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**', 'dist/**'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['{api,core,config,transforms,bus,agent,collector,sinks,dead-letter,bin,test,docker}/**/*.int.test.ts'],
          exclude: ['**/node_modules/**', 'dist/**'],
          globalSetup: ['test/build-setup.ts', 'test/services/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
