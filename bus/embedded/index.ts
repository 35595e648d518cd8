import { z } from 'zod';
import type { ComponentSpec } from '../../core/registry.js';
import { EmbeddedBus } from './embedded.js';

export { EmbeddedBus } from './embedded.js';

export const embeddedBusSpec: ComponentSpec<'bus', Record<string, never>, EmbeddedBus> = {
  kind: 'bus',
  type: 'embedded',
  description: 'the in-process bus of `sluice run`: agent and collector halves in one process',
  options: z.strictObject({}),
  create: () => new EmbeddedBus(),
};
