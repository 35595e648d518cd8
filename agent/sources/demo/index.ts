export { DemoSource, demoSourceOptions, demoSourceSpec, type DemoSourceOptions } from './demo-source.js';
