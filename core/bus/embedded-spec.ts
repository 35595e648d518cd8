import { z } from 'zod';
import type { Bus } from '../pipeline.js';
import type { ComponentSpec } from '../registry.js';
import { EmbeddedBus } from './embedded.js';

export const embeddedBusSpec: ComponentSpec<Record<string, never>, Bus> = {
  kind: 'bus',
  type: 'embedded',
  description: 'the in-process bus of `sluice run`: agent and collector halves in one process',
  options: z.strictObject({}),
  create: () => new EmbeddedBus(),
};
