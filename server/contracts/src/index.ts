export * from './auth.js';
export * from './errors.js';
export * from './events.js';
export * from './jobs.js';
export * from './languages.js';
export * from './limits.js';
export * from './runs.js';
