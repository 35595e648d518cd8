#!/usr/bin/env node
// npm run services -- up | down | status   (see README.md beside this file)
import { down, status, up } from './services.mjs';

const usage = 'usage: npm run services -- up | down | status';

async function main(command) {
  switch (command) {
    case 'up': {
      const { kafkaBrokers, elasticsearchUrl, webhdfsUrl } = await up();
      process.stdout.write(`KAFKA_BROKERS=${kafkaBrokers}\nELASTICSEARCH_URL=${elasticsearchUrl}\nWEBHDFS_URL=${webhdfsUrl}\n`);
      return 0;
    }
    case 'down':
      await down();
      return 0;
    case 'status': {
      let allReady = true;
      for (const s of await status()) {
        const state = s.pid === undefined && s.managed ? 'stopped' : s.ready ? 'ready' : 'not answering';
        allReady &&= s.ready;
        const owner = !s.managed
          ? 'external (from the environment)'
          : s.pid === undefined
            ? ''
            : `pid ${s.pid}${s.startedBySession ? ', started by a test session' : ''}`;
        process.stdout.write(
          `${s.service.padEnd(14)}${state.padEnd(15)}${s.address.padEnd(26)}${owner}${s.logs ? `  logs: ${s.logs}` : ''}\n`,
        );
      }
      return allReady ? 0 : 3;
    }
    default:
      process.stderr.write(`${usage}\n`);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv[2]);
} catch (err) {
  process.stderr.write(`services: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
