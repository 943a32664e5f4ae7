export * from './load-languages.js';
export * from './redis-options.js';
export * from './json-logger.js';
export * from './verified-write.js';
export * from './run-trace.js';
