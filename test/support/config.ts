import { ConfigError, formatProblem } from '../../config/errors.js';
import { parseConfig } from '../../config/load.js';
import type { Registry } from '../../core/registry.js';

/** Each problem the validator finds in `yaml` (as file:line:col text), none when it is valid. */
export function configProblems(yaml: string, registry: Registry, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, 'p.yaml', registry, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
}
