export * from './load-languages.js';
export * from './redis-options.js';
