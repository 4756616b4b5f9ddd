export * from './datasource.js';
export * from './lease.js';
export * from './nest.js';
export * from './outbox.js';
