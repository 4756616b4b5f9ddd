export * from './bus.js';
export * from './codec.js';
export * from './nest.js';
export * from './topology.js';
export * from './tracing.js';
export * from './transient.js';
export * from './transport.js';
