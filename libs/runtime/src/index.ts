export * from './bootstrap.js';
export * from './health.js';
export * from './http.js';
export * from './telemetry.js';
