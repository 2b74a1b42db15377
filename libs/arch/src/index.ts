export * from './architecture.js';
export * from './defaults.js';
export * from './errors.js';
export * from './space.js';
export * from './blocks.js';
export * from './validate.js';
export * from './canonical.js';
export * from './json.js';
