/**
 * The LwM2M server's errors, one catalogue with a stable `code` each. An error that answers a
 * device carries the CoAP response code it is answered with (`coapCode`); an error of a request
 * that the server sent to a device says why the request failed (timeout, queue expiry...).
 */
import { Code } from '../../coap/code.js';
import { CoapError, CoapResetError, CoapTimeoutError } from '../../coap/errors.js';

export const LWM2M_ERRORS = {
  /** A registration request the server cannot accept (LwM2M-TS-Core 1.1 §6.2.1). */
  LWM2M_ERR_BAD_REGISTRATION: Code.BadRequest,
  /** The announced LwM2M version is not one this server speaks (LwM2M-TS-Core 1.1 §6.2.1). */
  LWM2M_ERR_UNSUPPORTED_VERSION: Code.PreconditionFailed,
  /** No registration with this endpoint name or registration ID. */
  LWM2M_ERR_NOT_REGISTERED: Code.NotFound,
  /** The device's LwM2M version or announced formats do not allow the operation. */
  LWM2M_ERR_NOT_SUPPORTED: Code.MethodNotAllowed,
  /** A request argument is invalid (a path of the wrong level, an attribute out of range). */
  LWM2M_ERR_INVALID_REQUEST: Code.BadRequest,
  /** The device did not answer in time (RFC 7252 §4.2 MAX_TRANSMIT_WAIT or the request's own). */
  LWM2M_ERR_TIMEOUT: Code.GatewayTimeout,
  /** A request to a sleeping device was not delivered within its time-to-live (queue mode). */
  LWM2M_ERR_QUEUE_EXPIRED: Code.ServiceUnavailable,
  /** The device answered with a code the specification does not allow for the operation. */
  LWM2M_ERR_INVALID_RESPONSE: Code.BadGateway,
  /** The device's answer does not decode with its object model. */
  LWM2M_ERR_BAD_PAYLOAD: Code.BadGateway,
  /** The device answered with RST (RFC 7252 §4.2). */
  LWM2M_ERR_RESET: Code.BadGateway,
  /** The registration ended (de-registered, expired, replaced) while the request waited. */
  LWM2M_ERR_CANCELLED: Code.ServiceUnavailable,
  /** The server is stopped. */
  LWM2M_ERR_CLOSED: Code.ServiceUnavailable,
} as const;

export type Lwm2mErrorCode = keyof typeof LWM2M_ERRORS;

export class Lwm2mError extends Error {
  override readonly name = 'Lwm2mError';
  /** The CoAP response code that stands for this error (`Code.*`, class << 5 | detail). */
  readonly coapCode: number;

  constructor(
    readonly code: Lwm2mErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.coapCode = LWM2M_ERRORS[code];
  }
}

/** Maps the CoAP layer's failures to LwM2M errors of `operation`; LwM2M errors pass through. */
export function fromCoapError(e: unknown, operation: string): Error {
  if (e instanceof Lwm2mError) return e;
  if (e instanceof CoapTimeoutError) {
    return new Lwm2mError('LWM2M_ERR_TIMEOUT', `${operation}: ${e.message}`, { cause: e });
  }
  if (e instanceof CoapResetError) {
    return new Lwm2mError('LWM2M_ERR_RESET', `${operation}: ${e.message}`, { cause: e });
  }
  if (e instanceof CoapError && e.code === 'COAP_ERR_CLOSED') {
    return new Lwm2mError('LWM2M_ERR_CLOSED', `${operation}: ${e.message}`, { cause: e });
  }
  return e instanceof Error ? e : new Error(String(e));
}
