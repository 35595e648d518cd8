import type { ComponentSpec } from '../core/registry.js';
import { fieldsTransformSpec } from './fields/fields.js';
import { filterTransformSpec } from './filter/filter.js';
import { parseTransformSpec } from './parse/parse.js';
import { redactTransformSpec } from './redact/redact.js';
import { sampleTransformSpec } from './sample/sample.js';
import { throttleTransformSpec } from './throttle/throttle.js';

export { TransformChain } from './chain.js';
export { buildTransformChains, LiveTransforms, sideOf, type TransformChains } from './runtime.js';
export type { Transform } from './transform.js';
export { transformingWriter } from './writer.js';

/** Every transform type, for bin/components.ts. */
export const transformSpecs: readonly ComponentSpec[] = [
  parseTransformSpec,
  fieldsTransformSpec,
  redactTransformSpec,
  filterTransformSpec,
  throttleTransformSpec,
  sampleTransformSpec,
];
