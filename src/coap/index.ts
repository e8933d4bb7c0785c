/** The CoAP endpoint and its parts (RFC 7252, 7641, 7959, 6690). */
export * from './block-option.js';
export * from './code.js';
export * from './content-format.js';
export * from './endpoint.js';
export * from './errors.js';
export * from './link-format.js';
export * from './message.js';
export type { NotificationListener, Observation } from './observe-client.js';
export { isNewerNotification } from './observe-client.js';
export type { ServerObservation } from './observe-server.js';
export * from './option.js';
export * from './parameters.js';
export type {
  CoapRequest,
  CoapResponse,
  OutgoingResponse,
  RequestHandler,
  RequestParams,
} from './request.js';
export * from './router.js';
export * from './udp-transport.js';
