export * from './database.js';
export * from './http.js';
export * from './images.js';
export * from './names.js';
export * from './nats.js';
export * from './registry.js';
export * from './wait.js';
