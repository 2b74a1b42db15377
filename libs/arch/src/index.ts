export * from './architecture.js';
export * from './defaults.js';
