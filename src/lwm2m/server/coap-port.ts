/**
 * What the LwM2M server needs of a CoAP endpoint. `CoapEndpoint` (src/coap) has this shape; the
 * server core never sees a socket, and tests may give it anything with these methods.
 */
import type {
  NotificationListener,
  Observation,
  ObservationHandle,
} from '../../coap/observe-client.js';
import type { CoapResponse, RequestHandler, RequestParams } from '../../coap/request.js';
import type { DatagramPeer } from '../../transport/datagram.js';

export interface ServerCoapPort {
  /** Sets the handler of incoming requests (Register, Update, De-register, Send). */
  setHandler(handler: RequestHandler): void;
  /** Sends a request to a device, from the address the device registered to. */
  request(peer: DatagramPeer, params: RequestParams): Promise<CoapResponse>;
  /** Observes a resource on a device (RFC 7641 as client). */
  observe(peer: DatagramPeer, params: RequestParams, listener: NotificationListener): Observation;
  /**
   * Listens again, without sending anything, for the notifications of an observation that the
   * device accepted before a restart (`token`, from a request like `params`).
   */
  resumeObservation(
    peer: DatagramPeer,
    token: Buffer,
    params: RequestParams,
    listener: NotificationListener,
  ): ObservationHandle;
}
