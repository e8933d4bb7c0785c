/** The LwM2M Bootstrap-Server and its configurations. */
export * from './bootstrap-server.js';
export * from './client-state.js';
export * from './config.js';
export * from './sessions.js';
