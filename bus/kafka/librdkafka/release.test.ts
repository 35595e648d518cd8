// A producer whose connect failed (nothing listens on port 1) must be collectable once
// released: its poller thread and report wake-up (the addon's) keep it otherwise, with
// librdkafka's threads, and a producer retried with a new client while the brokers are down
// would leak one per attempt. The real producer the bus uses, no broker needed.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { probeLibrdkafka } from '../client.js';
import { loadNative, type NativeProducer, releaseFailedConnect } from './native.js';

const librdkafka = probeLibrdkafka();
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function failedConnects(count: number, release: boolean): Promise<number> {
  let collected = 0;
  const registry = new FinalizationRegistry(() => collected++);
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => {
      const client: NativeProducer = new (loadNative().Producer)({
        'bootstrap.servers': '127.0.0.1:1',
        'socket.connection.setup.timeout.ms': 1000,
      });
      client.on('event.error', () => undefined);
      registry.register(client, i);
      client.connect({ timeout: 100 }, (err) => {
        expect(err).toBeTruthy();
        if (release) releaseFailedConnect(client);
        resolve();
      });
    });
  }
  for (let i = 0; i < 20 && collected < count; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  return collected;
}

describe.skipIf(!librdkafka.installed)(`releaseFailedConnect${librdkafka.installed ? '' : ` — SKIPPED: ${librdkafka.reason}`}`, () => {
  it('lets every producer whose connect failed be collected once released, and none that was not', async () => {
    expect(await failedConnects(10, false)).toBe(0);
    expect(await failedConnects(10, true)).toBe(10);
  }, 60_000);
});
