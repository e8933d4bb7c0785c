/**
 * The CoAP endpoint and its parts (RFC 7252, 7641, 7959, 6690).
 *
 * ```ts
 * const transport = await UdpTransport.bind({ address: '::', port: 5683 });
 * const router = new CoapRouter()
 *   .add('/rd', async (request, peer) => ({ code: Code.Created, locationPath: ['rd', 'x1'] }));
 * const endpoint = new CoapEndpoint(transport, { handler: router.handle, logger });
 * // From the same socket, to the address the device registered from:
 * const res = await endpoint.request(peer, { code: Code.Get, path: '/3/0', accept: ContentFormat.SenmlCbor });
 * const obs = endpoint.observe(peer, { code: Code.Get, path: '/3303/0/5700' }, (n) => use(n.payload));
 * await obs.response; // the registration's response
 * await obs.cancel(true); // GET with Observe=1 (RFC 7641 §3.6)
 * await endpoint.close();
 * ```
 */
export * from './block-option.js';
export * from './code.js';
export * from './content-format.js';
export * from './endpoint.js';
export * from './errors.js';
export * from './link-format.js';
export * from './message.js';
export type { NotificationListener, Observation, ObservationHandle } from './observe-client.js';
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
