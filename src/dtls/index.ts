/** DTLS 1.2 (RFC 6347) on node:crypto: server and client, as datagram transports for CoAP. */
export { type CipherSuite, type CipherSuiteName, CipherSuites } from './cipher-suites.js';
export { DtlsClient, type DtlsClientOptions } from './client.js';
export { DtlsClientTransport, type DtlsClientTransportOptions } from './client-transport.js';
export type { RetransmitOptions } from './connection.js';
export type { CertificateConfig, TrustConfig } from './crypto/credentials.js';
export { AlertDescription, DtlsError } from './errors.js';
export type { SessionState } from './handshake/handshaker.js';
export {
  DtlsPeer,
  DtlsServer,
  type DtlsServerLimits,
  type DtlsServerOptions,
  type DtlsServerStats,
} from './server.js';
export { DtlsServerTransport, type DtlsServerTransportOptions } from './server-transport.js';
