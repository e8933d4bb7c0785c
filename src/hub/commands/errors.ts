import { STATUS_CODES } from 'node:http';
import { Code, codeString } from '../../coap/code.js';
import { Lwm2mError } from '../../lwm2m/server/errors.js';

/**
 * The errors of commands to devices (`hub.command`), each with the HTTP status the REST API
 * answers and the bridge's MQTT answers carry (docs/application-topics.md): one code, one
 * status. `TANDEM_ERR_LWM2M_*` codes say that the device itself answered with an error; the
 * answer's CoAP code is in `coapCode`.
 */
export const COMMAND_ERRORS = {
  /** The request is invalid; `field` names what. */
  TANDEM_ERR_VALIDATION: 400,
  /** The command is not parseable (the bridge's JSON). */
  TANDEM_ERR_BAD_REQUEST: 400,
  /** No bearer token, or one that is unknown (revoked). */
  TANDEM_ERR_UNAUTHORIZED: 401,
  /** The token's role may not do this. */
  TANDEM_ERR_FORBIDDEN: 403,
  /** No such device in the registry, nor registered. */
  TANDEM_ERR_DEVICE_NOT_FOUND: 404,
  TANDEM_ERR_INTERNAL: 500,
  /** The device exists (or may) but holds no LwM2M registration now: it is offline. */
  TANDEM_ERR_DEVICE_NOT_REGISTERED: 404,
  /** The device did not answer within `?timeout` (a sleeping queue-mode device included). */
  TANDEM_ERR_DEVICE_TIMEOUT: 504,
  /** The registration ended while the request waited, or the server is stopping. */
  TANDEM_ERR_DEVICE_UNAVAILABLE: 503,
  /** The device answered with RST, a code its operation does not allow, or undecodable content. */
  TANDEM_ERR_DEVICE_BAD_RESPONSE: 502,
  /** The device's LwM2M version does not have the operation (composite needs 1.1). */
  TANDEM_ERR_DEVICE_NOT_SUPPORTED: 405,
  /** No observation of this path on this device. */
  TANDEM_ERR_OBSERVATION_NOT_FOUND: 404,
  /** No queued command with this id for this device. */
  TANDEM_ERR_COMMAND_NOT_FOUND: 404,
  /** The command has left for the device, or has finished: it can no longer be cancelled. */
  TANDEM_ERR_COMMAND_NOT_CANCELLABLE: 409,
  /** The device has as many unfinished commands as the queue holds. */
  TANDEM_ERR_COMMAND_QUEUE_FULL: 429,
  /** The device answered 4.00 Bad Request. */
  TANDEM_ERR_LWM2M_BAD_REQUEST: 400,
  /** The device answered 4.01 Unauthorized or 4.03 Forbidden (its access control said no). */
  TANDEM_ERR_LWM2M_UNAUTHORIZED: 403,
  /** The device answered 4.04 Not Found: it has no such object, instance or resource. */
  TANDEM_ERR_LWM2M_NOT_FOUND: 404,
  /** The device answered 4.05 Method Not Allowed (the resource is not readable, writable...). */
  TANDEM_ERR_LWM2M_METHOD_NOT_ALLOWED: 405,
  /** The device answered 4.06 Not Acceptable: it cannot answer in the requested format. */
  TANDEM_ERR_LWM2M_NOT_ACCEPTABLE: 406,
  /** The device answered 4.15 Unsupported Content-Format. */
  TANDEM_ERR_LWM2M_UNSUPPORTED_FORMAT: 415,
  /** The device answered another error (5.00 Internal Server Error...). */
  TANDEM_ERR_LWM2M_DEVICE_ERROR: 502,
} as const;

export type DeviceOperationErrorCode = keyof typeof COMMAND_ERRORS;

export interface DeviceOperationErrorBody {
  statusCode: number;
  code: DeviceOperationErrorCode;
  error: string;
  message: string;
  /** The CoAP response code the device answered with (`4.04`), when it answered. */
  coapCode?: string;
  /** For validation errors: the offending field. */
  field?: string;
}

export class DeviceOperationError extends Error {
  override readonly name = 'DeviceOperationError';
  readonly statusCode: number;
  constructor(
    readonly code: DeviceOperationErrorCode,
    message: string,
    readonly extra: { coapCode?: number; field?: string } = {},
  ) {
    super(message);
    this.statusCode = COMMAND_ERRORS[code];
  }

  body(): DeviceOperationErrorBody {
    return {
      statusCode: this.statusCode,
      code: this.code,
      error: STATUS_CODES[this.statusCode] ?? 'Error',
      message: this.message,
      ...(this.extra.coapCode !== undefined ? { coapCode: codeString(this.extra.coapCode) } : {}),
      ...(this.extra.field !== undefined ? { field: this.extra.field } : {}),
    };
  }
}

/** The error for a device's error answer (4.xx, 5.xx) to `operation`. */
export function deviceAnswered(
  operation: string,
  coapCode: number,
  path: string,
  diagnostic?: string,
): DeviceOperationError {
  const code: DeviceOperationErrorCode =
    coapCode === Code.BadRequest
      ? 'TANDEM_ERR_LWM2M_BAD_REQUEST'
      : coapCode === Code.Unauthorized || coapCode === Code.Forbidden
        ? 'TANDEM_ERR_LWM2M_UNAUTHORIZED'
        : coapCode === Code.NotFound
          ? 'TANDEM_ERR_LWM2M_NOT_FOUND'
          : coapCode === Code.MethodNotAllowed
            ? 'TANDEM_ERR_LWM2M_METHOD_NOT_ALLOWED'
            : coapCode === Code.NotAcceptable
              ? 'TANDEM_ERR_LWM2M_NOT_ACCEPTABLE'
              : coapCode === Code.UnsupportedContentFormat
                ? 'TANDEM_ERR_LWM2M_UNSUPPORTED_FORMAT'
                : 'TANDEM_ERR_LWM2M_DEVICE_ERROR';
  const why = diagnostic ? `: ${diagnostic}` : '';
  return new DeviceOperationError(
    code,
    `${operation} ${path}: the device answered ${codeString(coapCode)}${why}`,
    { coapCode },
  );
}

/** Maps an error of the LwM2M server (or anything else) to a device-operation error. */
export function fromLwm2mError(e: unknown, endpoint: string): DeviceOperationError {
  if (e instanceof DeviceOperationError) return e;
  if (!(e instanceof Lwm2mError)) {
    return new DeviceOperationError('TANDEM_ERR_INTERNAL', 'internal error');
  }
  switch (e.code) {
    case 'LWM2M_ERR_NOT_REGISTERED':
      return new DeviceOperationError(
        'TANDEM_ERR_DEVICE_NOT_REGISTERED',
        `${endpoint} is not registered`,
      );
    case 'LWM2M_ERR_INVALID_REQUEST':
    case 'LWM2M_ERR_BAD_REGISTRATION':
      return new DeviceOperationError('TANDEM_ERR_VALIDATION', e.message);
    case 'LWM2M_ERR_NOT_SUPPORTED':
    case 'LWM2M_ERR_UNSUPPORTED_VERSION':
      return new DeviceOperationError('TANDEM_ERR_DEVICE_NOT_SUPPORTED', e.message);
    case 'LWM2M_ERR_TIMEOUT':
    case 'LWM2M_ERR_QUEUE_EXPIRED':
      return new DeviceOperationError('TANDEM_ERR_DEVICE_TIMEOUT', e.message);
    case 'LWM2M_ERR_CANCELLED':
    case 'LWM2M_ERR_CLOSED':
      return new DeviceOperationError('TANDEM_ERR_DEVICE_UNAVAILABLE', e.message);
    case 'LWM2M_ERR_INVALID_RESPONSE':
    case 'LWM2M_ERR_BAD_PAYLOAD':
    case 'LWM2M_ERR_RESET':
      return new DeviceOperationError('TANDEM_ERR_DEVICE_BAD_RESPONSE', e.message);
  }
}
