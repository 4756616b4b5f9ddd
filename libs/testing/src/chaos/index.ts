export * from './billing.js';
export * from './invariants.js';
export * from './plan.js';
export * from './run.js';
