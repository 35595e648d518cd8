import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { probeLibrdkafka, probeLibrdkafkaApart } from './client.js';

const repo = resolve(import.meta.dirname, '../..');
// In this order: once loaded here, the probe apart answers from what loading found.
const apart = probeLibrdkafkaApart();
const installed = probeLibrdkafka();

/**
 * Runs `body` in a new Node process on the compiled modules (dist/, built by the unit
 * project's global setup), after `chooseClient(choice)`; prints what body returns.
 */
function inFreshProcess(choice: string, body: string): string {
  const client = pathToFileURL(join(repo, 'dist/bus/kafka/client.js')).href;
  const native = pathToFileURL(join(repo, 'dist/bus/kafka/librdkafka/native.js')).href;
  const script = `
    const { chooseClient } = await import(${JSON.stringify(client)});
    const { loadNative } = await import(${JSON.stringify(native)});
    const { readFileSync } = await import('node:fs');
    const mapped = () => readFileSync('/proc/self/maps', 'utf8').includes('librdkafka');
    const chosen = chooseClient(${JSON.stringify(choice)}, 'bus', { info() {} });
    process.stdout.write(JSON.stringify(await (async () => { ${body} })()));`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
}

describe('choosing the Kafka client', () => {
  it('probes librdkafka in a process of its own and gets the answer loading it here gets', () => {
    expect(apart).toEqual(installed);
  });

  it.skipIf(!installed.installed || process.platform !== 'linux')(
    'leaves librdkafka unloaded until a client connects (needs librdkafka built, and /proc)',
    () => {
      const out = JSON.parse(
        inFreshProcess('auto', 'const before = mapped(); loadNative(); return { chosen, before, after: mapped() };'),
      ) as { chosen: string; before: boolean; after: boolean };
      // `after` shows the check sees the library once it is loaded.
      expect(out).toEqual({ chosen: 'librdkafka', before: false, after: true });
    },
  );

  it('does not look for librdkafka when told to run kafkajs', () => {
    expect(JSON.parse(inFreshProcess('kafkajs', 'return { chosen, mapped: mapped() };'))).toEqual({ chosen: 'kafkajs', mapped: false });
  });
});
