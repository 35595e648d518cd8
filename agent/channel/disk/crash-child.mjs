// Child process of disk-channel.crash.test.ts: puts and takes on a disk channel until it
// is SIGKILLed, reporting each step on stdout *after* it happened, so the parent knows
// what was durable (P), what was taken (T k: transaction k), and what was committed (C k
// before, D k after) or rolled back (R k: k and every later open one).
// Runs the compiled channel from dist/, exactly as the agent does.
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';

const [dir, distRoot, startArg, seedArg] = process.argv.slice(2);
const { DiskChannel } = await import(pathToFileURL(`${distRoot}/agent/channel/disk/disk-channel.js`).href);
const { makeEvent, seededRandom } = await import(pathToFileURL(`${distRoot}/agent/channel/testkit.js`).href);

const seed = Number(seedArg);
const random = seededRandom(seed);
const out = (line) => process.stdout.write(`${line}\n`);
const channel = new DiskChannel(
  {
    path: dir,
    maxBytes: 256 * 1024,
    segmentBytes: 32 * 1024,
    fsync: 'always',
    // Synced at every commit or once in a while: a SIGKILL must not tell them apart.
    commitFsync: seed % 3 === 0 ? 'always' : 20,
    readCacheBytes: seed % 2 ? 0 : 64 * 1024,
    retryBackoffMaxMs: 50,
  },
  'crash',
  pino({ level: 'silent' }),
);
await channel.open();
out(`L ${channel.lastCheckpoint('src')?.seq ?? -1}`);

let next = Number(startArg);
let seq = next;

async function produce() {
  const inflight = new Set();
  for (;;) {
    const n = 1 + Math.floor(random() * 40);
    const from = next;
    next += n;
    const s = seq++;
    const events = [];
    for (let id = from; id < from + n; id++) events.push(makeEvent(id, id % 7 === 0 ? 400 : 0));
    out(`S ${from} ${from + n} ${s}`);
    const p = channel.put(events, { source: 'src', seq: s, state: { next: from + n } }).then(() => {
      out(`P ${from} ${from + n} ${s}`);
      inflight.delete(p);
    });
    inflight.add(p);
    if (inflight.size >= 3) await Promise.race(inflight);
  }
}

// Like the pipelined forwarder: up to three transactions open, committed in take order;
// a rollback gives back its transaction and every later one.
async function consume() {
  const open = [];
  let serial = 0;
  for (;;) {
    if (open.length < 3 && (open.length === 0 || random() < 0.5)) {
      const tx = await channel.take(1 + Math.floor(random() * 150));
      const k = serial++;
      open.push({ k, tx });
      out(`T ${k} ${tx.events.map((e) => `${e.id.slice(3)}:${e.message.length}`).join(',')}`);
    } else if (random() < 0.15) {
      const i = Math.floor(random() * open.length);
      await open[i].tx.rollback();
      out(`R ${open[i].k}`);
      open.length = i;
    } else {
      const { k, tx } = open[0];
      out(`C ${k}`);
      await tx.commit();
      out(`D ${k}`);
      open.shift();
    }
  }
}

void produce();
void consume();
