export * from './sink.js';
export * from './lower.js';
export * from './graph.js';
