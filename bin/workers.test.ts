import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { silentLogger } from '../core/log.js';
import { createRegistry } from './components.js';
import { workerCount } from './workers.js';

const config = (sinks: string[]) =>
  parseConfig(['bus:', '  type: kafka', 'sinks:', ...sinks, ''].join('\n'), 'p.yaml', createRegistry(), {});

describe('collector worker count', () => {
  const shared = config(['  out:', '    type: console']);
  const fileTree = config(['  out:', '    type: console', '  archive:', '    type: file', '    root: /tmp/x']);

  it('runs one process per core by default when every sink can be shared, and what is asked for', () => {
    expect(workerCount(shared, undefined, silentLogger())).toBeGreaterThanOrEqual(1);
    expect(workerCount(shared, 3, silentLogger())).toBe(3);
  });

  it('runs one process for a sink that keeps local state, and refuses more', () => {
    expect(workerCount(fileTree, undefined, silentLogger())).toBe(1);
    expect(workerCount(fileTree, 1, silentLogger())).toBe(1);
    expect(() => workerCount(fileTree, 2, silentLogger())).toThrow(
      '--workers 2: sinks.archive (type file) keeps state of its own on this host (a file tree with in-progress files) and runs in one process; use --workers 1',
    );
  });
});
