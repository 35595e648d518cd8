import { expect, test } from 'vitest';
import { Descriptors, type Holder } from './descriptors.js';
import { fileMetrics } from './metrics.js';

function holder(name: string, lastUsedAt: number, atEof: boolean, closed: string[]): Holder {
  return {
    lastUsedAt,
    atEof,
    closable: true,
    closeIdle: async () => void closed.push(name),
  };
}

test('makeRoom closes files at their end first (least recently used first), a file with a backlog only when nothing else can go', async () => {
  const closed: string[] = [];
  const fds = new Descriptors(4, fileMetrics.openFiles, { component: 'descriptors-test' });
  const files = [
    holder('backlog, used long ago', 1, false, closed),
    holder('at its end, used recently', 9, true, closed),
    holder('backlog, used recently', 5, false, closed),
    holder('at its end, used long ago', 3, true, closed),
  ];
  for (const f of files) fds.opened(f);
  await fds.makeRoom();
  expect(closed).toEqual(['at its end, used long ago']);
  const room = new Descriptors(2, fileMetrics.openFiles, { component: 'descriptors-test' });
  for (const f of files) room.opened(f);
  closed.length = 0;
  await room.makeRoom();
  expect(closed).toEqual(['at its end, used long ago', 'at its end, used recently', 'backlog, used long ago']);
});
