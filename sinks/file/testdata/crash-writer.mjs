// Writes numbered batches through the built file sink forever, printing "ack N" once
// write(batch N) resolved; the crash tests SIGKILL it mid-stream.
// Args: root, compression, [dataDir (write journal: exactly-once), first batch number].
import { writeSync } from 'node:fs';
import { FileSink } from '../../../dist/sinks/file/file-sink.js';
import { fileSinkOptions } from '../../../dist/sinks/file/index.js';
import { silentLogger } from '../../../dist/core/log.js';

const [root, compression, dataDir, first] = process.argv.slice(2);
const sink = new FileSink(fileSinkOptions.parse({ root, compression, roll_size: '64KiB', idle_timeout: 0, roll_age: 0 }), {
  name: 'crash',
  logger: silentLogger(),
  ...(dataDir ? { dataDir } : {}),
});
await sink.open();
const pad = 'x'.repeat(150);
for (let b = Number(first ?? 0); ; b++) {
  const events = [];
  for (let e = 0; e < 300; e++) {
    events.push({
      id: `${b}-${e}`,
      timestamp: Date.UTC(2024, 4, 1 + (e % 2)),
      message: `b${b}-e${e}-${pad}`,
      service: `s${e % 3}`,
      module: 'm',
      host: 'h',
      source: { kind: 'test' },
      fields: {},
    });
  }
  await sink.write(events);
  writeSync(1, `ack ${b}\n`);
}
