export * from './client-port.js';
export * from './convention.js';
export * from './server.js';
