import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Registry } from '../core/registry.js';
import { ConfigError, formatProblem } from './errors.js';
import { parseConfig } from './load.js';
import { checkRole } from './roles.js';

/** These tests validate configs; nothing is ever created from them. */
const notCreated = (): never => {
  throw new Error('not created in config tests');
};

const any = z.strictObject({});
const registry = new Registry()
  .register({ kind: 'source', type: 'file', description: 's', options: any, create: notCreated })
  .register({ kind: 'channel', type: 'disk', description: 'c', options: any, create: notCreated })
  .register({ kind: 'bus', type: 'kafka', description: 'b', options: any, create: notCreated })
  .register({ kind: 'sink', type: 'file', description: 'k', options: any, create: notCreated });

const agentWithCollectorParts = [
  'sources:',
  '  app: { type: file }',
  'channel: { type: disk }',
  'bus: { type: kafka }',
  'sinks:',
  '  out: { type: file }',
  'routes:',
  '  default: [out]',
].join('\n');

describe('checkRole', () => {
  it('warns, at the section, about what the command does not use', () => {
    const config = parseConfig(agentWithCollectorParts, 'a.yaml', registry, {});
    expect(checkRole(config, 'agent').map(formatProblem)).toEqual([
      'a.yaml:5:1: warning: sinks: `sluice agent` does not use this section (sinks are written by `sluice collector`): it is ignored here',
      'a.yaml:7:1: warning: routes: `sluice agent` does not use this section (routes choose sinks in `sluice collector`): it is ignored here',
    ]);
    expect(checkRole(config, 'collector').map(formatProblem)).toEqual([
      'a.yaml:1:1: warning: sources: `sluice collector` does not use this section (sources are read by `sluice agent`): it is ignored here',
      'a.yaml:3:1: warning: channel: `sluice collector` does not use this section (the channel buffers in `sluice agent`): it is ignored here',
    ]);
  });

  it('makes them errors with strict', () => {
    const config = parseConfig(agentWithCollectorParts, 'a.yaml', registry, {});
    let error: unknown;
    try {
      checkRole(config, 'agent', { strict: true });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => `${p.line}:${p.path}:${p.severity ?? 'error'}`)).toEqual([
      '5:sinks:error',
      '7:routes:error',
    ]);
  });

  it('a bus in a file for `sluice run` is an error at the bus', () => {
    const config = parseConfig(agentWithCollectorParts, 'a.yaml', registry, {});
    expect(() => checkRole(config, 'run')).toThrow(/^a\.yaml:4:1: bus\.type: `sluice run` joins agent and collector/);
  });
});
