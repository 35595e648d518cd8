import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { pipelineScript } from './launch.js';

describe('the script a pipeline process runs', () => {
  const dist = mkdtempSync(join(tmpdir(), 'sluice-launch-'));
  afterAll(() => rmSync(dist, { recursive: true, force: true }));
  mkdirSync(join(dist, 'bin'));
  const entry = join(dist, 'bin/sluice.js');
  const cli = join(dist, 'bin/cli.js');
  const bundle = join(dist, 'bundle/sluice.js');
  const here = pathToFileURL(join(dist, 'bin/launch.js')).href;
  writeFileSync(cli, '');
  const at = (file: string, seconds: number) => utimesSync(file, seconds, seconds);

  it('is the entry when no bundle was built', () => {
    expect(pipelineScript(entry, here)).toBe(entry);
  });

  it('is the bundle when it is from the same build as the compiled modules, or later', () => {
    mkdirSync(join(dist, 'bundle'));
    writeFileSync(bundle, '');
    at(cli, 1000);
    at(bundle, 1001);
    expect(pipelineScript(entry, here)).toBe(bundle);
  });

  it('is the entry when tsc ran alone after the bundle was made: the bundle would run old code', () => {
    at(bundle, 1000);
    at(cli, 1001);
    expect(pipelineScript(entry, here)).toBe(entry);
  });

  it('is the bundle when the entry is the bundle itself (no compiled modules beside it)', () => {
    expect(pipelineScript(bundle, pathToFileURL(join(dist, 'bundle/chunk.js')).href)).toBe(bundle);
  });
});
