// Hot reload under continuous load, through the built CLI (`sluice run`): a valid reload
// (a sink's options), an invalid one (refused with file:line:col, nothing changes), and one
// that adds a source and a route (by SIGHUP). Every event is counted by its number at the
// sink its route names: none lost, none written twice, none at the wrong sink.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { call } from '../../api/client.js';
import { linesUnder, waitFor } from '../support/index.js';
import { apiWorkspace, scrape, value } from './api-harness.js';

const { setup, start } = apiWorkspace('sluice-api-reload-');

/** Event numbers per file-sink root, from every file under it (finished or in progress). */
function count(root: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const { line } of linesUnder(root)) {
    const m = /^ev-(\d+) /.exec(line);
    if (m) counts.set(Number(m[1]), (counts.get(Number(m[1])) ?? 0) + 1);
  }
  return counts;
}

function config(dir: string, version: 1 | 2 | 3 | 4): string {
  const lines = [
    `data_dir: ${join(dir, 'data')}`,
    'sources:',
    `  app: { type: file, include: ["${join(dir, 'logs/app/*.log')}"], start_at: beginning, service: shop, poll_interval: ${version === 1 ? '50ms' : '40ms'} }`,
  ];
  if (version === 4)
    lines.push(
      `  web: { type: file, include: ["${join(dir, 'logs/web/*.log')}"], start_at: beginning, service: web, poll_interval: 50ms }`,
    );
  lines.push(
    'channel: { type: disk, max_bytes: 64MiB, segment_bytes: 1MiB }',
    'sinks:',
    `  main: { type: file, root: ${join(dir, 'out/main')}, path: "{service}.log", roll_size: ${version === 1 ? '1MiB' : '256KiB'} }`,
    `  webout: { type: file, root: ${join(dir, 'out/web')}, path: "{service}.log" }`,
    'routes:',
  );
  if (version === 4) lines.push('  rules:', '    - { name: web, match: { service: web }, sinks: [webout] }');
  lines.push('  default: [main]', 'api: { address: "127.0.0.1:0", token: "${SLUICE_API_TOKEN}" }');
  const text = `${lines.join('\n')}\n`;
  // Version 3 is version 2 with a misspelt key.
  return version === 3 ? text.replace('roll_size', 'rol_size') : text;
}

describe('hot reload under load', () => {
  it('valid, invalid, then a new source and route: no event lost, none duplicated, each at its route’s sink', async () => {
    const { dir } = setup('reload');
    mkdirSync(join(dir, 'logs/app'), { recursive: true });
    mkdirSync(join(dir, 'logs/web'), { recursive: true });
    const file = join(dir, 'run.yaml');
    const sluice = start('run', dir, 'run', config(dir, 1));
    const api = await sluice.api();

    // Continuous load: 25 events every 20 ms to the app's file, and to the web's once it is tailed.
    let next = 0;
    const shop = new Set<number>();
    const web = new Set<number>();
    let webOn = false;
    const write = (path: string, into: Set<number>) => {
      const lines: string[] = [];
      for (let i = 0; i < 25; i++, next++) {
        lines.push(`ev-${next} ${'x'.repeat(150)}`);
        into.add(next);
      }
      appendFileSync(path, `${lines.join('\n')}\n`);
    };
    const timer = setInterval(() => {
      write(join(dir, 'logs/app/a.log'), shop);
      if (webOn) write(join(dir, 'logs/web/w.log'), web);
    }, 20);
    try {
      const applied = async () => value((await scrape(api)).families, 'sluice_config_reloads_total', { result: 'applied' });
      const flowing = async (n: number) => waitFor(`${n} events at the sinks`, () => count(join(dir, 'out/main')).size >= n, 60_000);
      await flowing(500);

      // 1. Valid: the source's poll interval and the main sink's roll size: both are replaced
      // while events flow, the source resuming from the position its predecessor saved.
      writeConfig(file, config(dir, 2));
      const r1 = await call(api, '/reload', 'POST');
      expect(r1.status, r1.body).toBe(200);
      expect(JSON.parse(r1.body)).toEqual({ result: 'applied', changes: ['sources.app changed', 'sinks.main changed'], problems: [] });
      await flowing(next);

      // 2. Invalid: refused with where and what, the pipeline runs on unchanged.
      writeConfig(file, config(dir, 3));
      const r2 = await call(api, '/reload', 'POST');
      expect(r2.status).toBe(400);
      const refused = JSON.parse(r2.body) as { result: string; changes: string[]; problems: string[] };
      const bad = config(dir, 3).split('\n');
      const line = bad.findIndex((l) => l.includes('rol_size'));
      expect(refused).toMatchObject({ result: 'invalid', changes: [] });
      expect(refused.problems).toEqual([
        expect.stringMatching(
          new RegExp(
            `^${escapeRegExp(`${file}:${line + 1}:${bad[line]!.indexOf('rol_size') + 1}: sinks.main.rol_size: unknown key "rol_size" (did you mean "roll_size"?)`)}`,
          ),
        ),
      ]);
      const before = next;
      await flowing(before);

      // 3. A new source and a route for it, by SIGHUP.
      writeConfig(file, config(dir, 4));
      sluice.child.kill('SIGHUP');
      await waitFor('the second reload applied', async () => (await applied()) === 2);
      webOn = true;
      await waitFor('web events at their sink', () => count(join(dir, 'out/web')).size >= 500, 60_000);
    } finally {
      clearInterval(timer);
    }
    const total = next;
    await waitFor(
      `all ${total} events at their sinks`,
      () => count(join(dir, 'out/main')).size + count(join(dir, 'out/web')).size >= total,
      60_000,
    );
    expect(await sluice.stop()).toBe(0);

    const main = count(join(dir, 'out/main'));
    const webOut = count(join(dir, 'out/web'));
    const missing = [...shop].filter((n) => !main.has(n)).concat([...web].filter((n) => !webOut.has(n)));
    const duplicated = [...main, ...webOut].filter(([, times]) => times > 1).map(([n]) => n);
    const misrouted = [...main.keys()].filter((n) => web.has(n)).concat([...webOut.keys()].filter((n) => shop.has(n)));
    console.log(`reload under load: ${total} events (${shop.size} shop, ${web.size} web), 3 reloads`);
    expect({ missing, duplicated, misrouted }).toEqual({ missing: [], duplicated: [], misrouted: [] });
    expect(main.size + webOut.size).toBe(total);
    expect(web.size).toBeGreaterThan(0);
    const log = sluice.log();
    expect(log).toContain('"changes":["sources.web added (file)","routes changed"]');
    expect(log.match(/config reload refused/g)).toHaveLength(1);
  });
});

describe('a reload that removes a sink that is down', () => {
  it('frees the batches it held: they are read again, each event at the other sink once', async () => {
    const { dir } = setup('remove-down');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const file = join(dir, 'run.yaml');
    const text = (withSearch: boolean) =>
      [
        `data_dir: ${join(dir, 'data')}`,
        'sources:',
        `  app: { type: file, include: ["${join(dir, 'logs/*.log')}"], start_at: beginning, service: shop, poll_interval: 50ms }`,
        'channel: { type: disk, max_bytes: 64MiB }',
        'sinks:',
        `  main: { type: file, root: ${join(dir, 'out')}, path: "{service}.log" }`,
        // Nothing listens there: every bulk request fails, and the batches wait for it.
        ...(withSearch ? ['  search: { type: elasticsearch, url: "http://127.0.0.1:9", request_timeout: 2s }'] : []),
        'api: { address: "127.0.0.1:0", token: "${SLUICE_API_TOKEN}" }',
        '',
      ].join('\n');
    const sluice = start('run', dir, 'run', text(true));
    const api = await sluice.api();
    const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `ev-${from + i} ${'x'.repeat(80)}\n`).join('');
    appendFileSync(join(dir, 'logs/a.log'), lines(0, 300));
    await waitFor('the first batch at the file sink', () => count(join(dir, 'out')).size > 0, 60_000);
    await waitFor('the search sink failing', () => sluice.log().includes('"msg":"sink write failed; retrying'), 60_000);

    writeConfig(file, text(false));
    const r = await call(api, '/reload', 'POST');
    expect(r.status, r.body).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ result: 'applied', changes: ['sinks.search removed'] });
    appendFileSync(join(dir, 'logs/a.log'), lines(300, 300));
    await waitFor('600 events at the file sink', () => count(join(dir, 'out')).size >= 600, 60_000);
    await waitFor('the removed sink closed', () => sluice.log().includes('"msg":"removed sinks closed"'), 60_000);
    expect(await sluice.stop()).toBe(0);
    const got = count(join(dir, 'out'));
    expect(got.size).toBe(600);
    expect([...got].filter(([, times]) => times > 1)).toEqual([]);
    expect(sluice.log()).toContain('was removed by a reload while its write was failing; the batch is read again');
  });
});

function writeConfig(file: string, text: string): void {
  writeFileSync(file, text);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
