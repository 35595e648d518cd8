import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../bin/components.js';
import { tempDir } from '../test/support/index.js';
import { formatProblem } from './errors.js';
import { parseConfig } from './load.js';
import { checkRole } from './roles.js';
import { unsetFieldWarnings } from './transforms.js';

const tmp = await tempDir('config-transforms');
afterAll(() => tmp.cleanup());

function load(name: string, yaml: string) {
  const file = join(tmp.dir, name);
  writeFileSync(file, yaml);
  return parseConfig(yaml, file, createRegistry(), {});
}

const collector = (transforms: string, routes: string) =>
  `bus: {type: kafka, brokers: ["127.0.0.1:9092"], topic: logs}\nsinks:\n  es: {type: console}\n  other: {type: console}\ntransforms:\n${transforms}\nroutes:\n${routes}\n`;

describe('transform placement', () => {
  it('refuses a transform whose half the command does not run, at its "at:"', () => {
    const config = load(
      'placement.yaml',
      collector('  p:\n    type: parse\n    format: json\n    at: agent', '  rules:\n    - match: {level: error}\n      sinks: [es]'),
    );
    expect(() => checkRole(config, 'collector')).toThrow(
      `${config.file}:9:9: transforms.p.at: runs at agent, but \`sluice collector\` has no agent half: it would never run (remove "at" to run it in the collector)`,
    );
  });
});

describe('unsetFieldWarnings', () => {
  it('warns about a route on a field nothing in the file sets, at the key', () => {
    const config = load(
      'unset.yaml',
      collector(
        '  tidy:\n    type: fields\n    add: {env: prod}',
        '  rules:\n    - match: {fields.team: search, fields.env: prod}\n      sinks: [es]\n  default: [other]',
      ),
    );
    expect(unsetFieldWarnings(config).map(formatProblem)).toEqual([
      `${config.file}:11:15: warning: routes.rules[0].match."fields.team": nothing in this file sets fields.team (no source or transform here names it), so this condition never holds; if the agents set it, ignore this`,
    ]);
  });

  it('knows what grok captures and parse targets set, and gives up on a JSON parse', () => {
    const grok = load(
      'grok.yaml',
      collector(
        '  access:\n    type: parse\n    format: grok\n    pattern: "%{NGINXACCESS}"\n  nested:\n    type: parse\n    format: json\n    target: fields.body',
        '  rules:\n    - match: {fields.status: "5*", fields.body.user: bob, fields.log.parse_error: "*"}\n      sinks: [es]\n  default: [other]',
      ),
    );
    expect(unsetFieldWarnings(grok)).toEqual([]);
    const json = load(
      'json.yaml',
      collector(
        '  j:\n    type: parse\n    format: json',
        '  rules:\n    - match: {fields.anything: x}\n      sinks: [es]\n  default: [other]',
      ),
    );
    expect(unsetFieldWarnings(json)).toEqual([]);
  });

  it('checks transform conditions too', () => {
    const config = load(
      'when.yaml',
      'sources:\n  app: {type: file, include: ["/tmp/x/*.log"], fields: {team: a}}\nchannel: {type: memory}\nsinks:\n  out: {type: console}\ntransforms:\n  f:\n    type: filter\n    when: {fields.team: a, fields.tier: gold}\n    min_level: warn\n',
    );
    expect(unsetFieldWarnings(config).map((w) => w.path)).toEqual(['transforms.f.when."fields.tier"']);
  });

  it('knows the container fields the docker source sets, and only those', () => {
    const config = load(
      'docker.yaml',
      'sources:\n  pods: {type: docker, fields: {cluster: eu1}}\nchannel: {type: memory}\nsinks:\n  es: {type: console}\n  other: {type: console}\nroutes:\n  rules:\n    - match: {fields.container.name: web, fields.kubernetes.namespace: prod, fields.container.labels.team: a, fields.cluster: eu1, fields.log.malformed: "*", fields.pod: x}\n      sinks: [es]\n  default: [other]\n',
    );
    expect(unsetFieldWarnings(config).map(formatProblem)).toEqual([
      `${config.file}:9:159: warning: routes.rules[0].match."fields.pod": nothing in this file sets fields.pod (no source or transform here names it), so this condition never holds`,
    ]);
  });

  it("leaves an agent file's routes alone (the agent does not route)", () => {
    const config = load(
      'agent-routes.yaml',
      'sources:\n  app: {type: file, include: ["/tmp/x/*.log"]}\nchannel: {type: memory}\nsinks:\n  out: {type: console}\nroutes:\n  rules:\n    - match: {fields.team: a}\n      sinks: [out]\n',
    );
    expect(unsetFieldWarnings(config, 'agent')).toEqual([]);
    expect(unsetFieldWarnings(config, 'run').map((w) => w.path)).toEqual(['routes.rules[0].match."fields.team"']);
  });
});
