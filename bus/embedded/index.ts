import { z } from 'zod';
import { type ComponentSpec, lazySpec } from '../../core/registry.js';
import type { EmbeddedBus } from './embedded.js';

export const embeddedBusSpec: ComponentSpec<'bus', Record<string, never>, EmbeddedBus> = lazySpec(
  {
    kind: 'bus',
    type: 'embedded',
    description: 'the in-process bus of `sluice run`: agent and collector halves in one process',
    options: z.strictObject({}),
  },
  async () => {
    const { EmbeddedBus } = await import('./embedded.js');
    return { create: () => new EmbeddedBus() };
  },
);
