// Transforms replaced by a hot reload under continuous load, through the built CLI
// (`sluice run`): a redact transform switched from masking to hashing and a fields
// transform changed (POST /reload), then the fields transform removed (SIGHUP). Every event
// is found by its number: none lost, none written twice; each went through one chain
// entirely (never half old, half new), the chains in file order, and every line written
// after a reload answered carries the new chain's effect.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { call } from '../../api/client.js';
import { linesUnder, waitFor } from '../support/index.js';
import { apiWorkspace, scrape, value } from './api-harness.js';

const { setup, start } = apiWorkspace('sluice-transforms-reload-');

interface Written {
  n: number;
  message: string;
  fields: Record<string, unknown>;
}

/** Every event the JSON file sink wrote under root (finished files or in progress), with its number. */
function written(root: string): Written[] {
  return linesUnder(root).map(({ line }) => {
    const e = JSON.parse(line) as { message: string; fields: Record<string, unknown> };
    return { n: Number(/^ev-(\d+) /.exec(e.message)![1]), message: e.message, fields: e.fields };
  });
}

const HASH_KEY = 'reload-test-hash-key-0123456789';

function config(dir: string, version: 1 | 2 | 3): string {
  const transforms =
    version === 1
      ? ['  hide: { type: redact, detectors: [email] }', '  tag: { type: fields, set: { chain: "1" } }']
      : version === 2
        ? [
            `  hide: { type: redact, detectors: [email], mode: hash, hash_key: "${HASH_KEY}" }`,
            '  tag: { type: fields, set: { chain: "2" } }',
          ]
        : [`  hide: { type: redact, detectors: [email], mode: hash, hash_key: "${HASH_KEY}" }`];
  return `${[
    `data_dir: ${join(dir, 'data')}`,
    'sources:',
    `  app: { type: file, include: ["${join(dir, 'logs/app/*.log')}"], start_at: beginning, service: shop, poll_interval: 50ms }`,
    'channel: { type: disk, max_bytes: 64MiB, segment_bytes: 1MiB }',
    'transforms:',
    ...transforms,
    'sinks:',
    `  main: { type: file, root: ${join(dir, 'out')}, path: "{service}.log", encoding: json }`,
    'api: { address: "127.0.0.1:0", token: "${SLUICE_API_TOKEN}" }',
  ].join('\n')}\n`;
}

/** Which chain an event went through, from both transforms' marks; "mixed" would be a batch split across a swap. */
function chainOf(e: Written): string {
  const hashed = /\[REDACTED:email:[0-9a-f]{16}\]/.test(e.message);
  const masked = e.message.includes('[REDACTED:email]');
  const tag = e.fields.chain;
  if (masked && !hashed && tag === '1') return '1';
  if (hashed && !masked && tag === '2') return '2';
  if (hashed && !masked && tag === undefined) return '3';
  return `mixed: ${JSON.stringify(e)}`;
}

describe('transforms under a hot reload', () => {
  it('redact and fields changed, then fields removed, under load: no event lost or duplicated, each through one whole chain', async () => {
    const { dir } = setup('transforms');
    mkdirSync(join(dir, 'logs/app'), { recursive: true });
    const file = join(dir, 'run.yaml');
    const sluice = start('run', dir, 'run', config(dir, 1));
    const api = await sluice.api();

    // Continuous load: 25 events every 20 ms, each with an email address to hide.
    let next = 0;
    const write = () => {
      const lines: string[] = [];
      for (let i = 0; i < 25; i++, next++) lines.push(`ev-${next} login user${next}@example.com ${'x'.repeat(120)}`);
      appendFileSync(join(dir, 'logs/app/a.log'), `${lines.join('\n')}\n`);
    };
    const timer = setInterval(write, 20);
    // The first event number written after each reload answered: it must carry the new chain.
    const after: number[] = [];
    const out = join(dir, 'out');
    try {
      const flowing = (n: number) => waitFor(`${n} events at the sink`, () => written(out).length >= n, 60_000);
      await flowing(500);

      writeFileSync(file, config(dir, 2));
      const r = await call(api, '/reload', 'POST');
      expect(r.status, r.body).toBe(200);
      expect(JSON.parse(r.body)).toEqual({
        result: 'applied',
        changes: ['transforms.hide changed', 'transforms.tag changed'],
        problems: [],
      });
      after.push(next);
      await flowing(next + 500);

      writeFileSync(file, config(dir, 3));
      sluice.child.kill('SIGHUP');
      await waitFor('the second reload applied', async () => {
        return value((await scrape(api)).families, 'sluice_config_reloads_total', { result: 'applied' }) === 2;
      });
      after.push(next);
      await flowing(next + 500);
    } finally {
      clearInterval(timer);
    }
    const total = next;
    await waitFor(`all ${total} events at the sink`, () => written(out).length >= total, 60_000);
    const metricsText = (await scrape(api)).text;
    expect(await sluice.stop()).toBe(0);

    const events = written(out);
    const times = new Map<number, number>();
    for (const e of events) times.set(e.n, (times.get(e.n) ?? 0) + 1);
    const missing = Array.from({ length: total }, (_, n) => n).filter((n) => !times.has(n));
    const duplicated = [...times].filter(([, t]) => t > 1).map(([n]) => n);
    const byChain = new Map<string, number[]>();
    for (const e of events) byChain.set(chainOf(e), [...(byChain.get(chainOf(e)) ?? []), e.n]);
    const mixed = [...byChain.keys()].filter((k) => k.startsWith('mixed'));
    console.log(
      `transforms reload under load: ${total} events; chain 1: ${byChain.get('1')?.length}, 2: ${byChain.get('2')?.length}, 3: ${byChain.get('3')?.length}`,
    );
    expect({ missing, duplicated, mixed }).toEqual({ missing: [], duplicated: [], mixed: [] });
    expect(events).toHaveLength(total);
    // One file, read in order: each chain took a contiguous run of event numbers, in file order,
    // and the lines written after each reload answered went through the new chain.
    const [one, two, three] = ['1', '2', '3'].map((k) => byChain.get(k) ?? []);
    expect(Math.max(...one!)).toBeLessThan(Math.min(...two!));
    expect(Math.max(...two!)).toBeLessThan(Math.min(...three!));
    expect(Math.min(...two!)).toBeLessThanOrEqual(after[0]!);
    expect(Math.min(...three!)).toBeLessThanOrEqual(after[1]!);
    expect(one!.length + two!.length + three!.length).toBe(total);
    // The removed transform's series are gone; the kept one counted every event.
    expect(metricsText).not.toContain('component="transforms.tag"');
    expect(metricsText).toMatch(new RegExp(`sluice_transform_events_received_total\\{component="transforms.hide"\\} ${total}\\b`));
    expect(sluice.log()).toContain('"changes":["transforms.tag removed"]');
  });
});
