import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DeviceOperationError } from '../hub/commands/errors.js';
import { HubError } from '../hub/errors.js';

/**
 * Every error code the HTTP API answers with, and its status. Codes are stable: clients may
 * branch on them; messages are for people and may change.
 */
export const API_ERRORS = {
  /** No bearer token, or one that is unknown (revoked). */
  TANDEM_ERR_UNAUTHORIZED: 401,
  /** The token's role may not do this. */
  TANDEM_ERR_FORBIDDEN: 403,
  /** No route for this method and path. */
  TANDEM_ERR_NOT_FOUND: 404,
  TANDEM_ERR_DEVICE_NOT_FOUND: 404,
  TANDEM_ERR_TOKEN_NOT_FOUND: 404,
  TANDEM_ERR_BOOTSTRAP_CONFIG_NOT_FOUND: 404,
  TANDEM_ERR_PROFILE_NOT_FOUND: 404,
  TANDEM_ERR_BOOTSTRAP_SESSION_NOT_FOUND: 404,
  TANDEM_ERR_WEBHOOK_NOT_FOUND: 404,
  /** A device with this id exists. */
  TANDEM_ERR_DEVICE_EXISTS: 409,
  /** Another device already has this MQTT username, PSK identity, public key or subject. */
  TANDEM_ERR_CREDENTIAL_CONFLICT: 409,
  /** The profile is some devices' profile: give them another first. */
  TANDEM_ERR_PROFILE_IN_USE: 409,
  /** The body, a parameter or the query string is invalid; `field` names what. */
  TANDEM_ERR_VALIDATION: 400,
  /** The body is not parseable JSON. */
  TANDEM_ERR_BAD_REQUEST: 400,
  TANDEM_ERR_PAYLOAD_TOO_LARGE: 413,
  TANDEM_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  /** A WebSocket endpoint asked for without the upgrade. */
  TANDEM_ERR_UPGRADE_REQUIRED: 426,
  TANDEM_ERR_INTERNAL: 500,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** The JSON body of every error answer. */
export interface ApiErrorBody {
  statusCode: number;
  code: ApiErrorCode;
  error: string;
  message: string;
  /** For TANDEM_ERR_VALIDATION and conflicts: the offending field as a dotted path. */
  field?: string;
}

export const apiErrorSchema = {
  type: 'object',
  required: ['statusCode', 'code', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string', enum: Object.keys(API_ERRORS) },
    error: { type: 'string' },
    message: { type: 'string' },
    field: { type: 'string' },
  },
} as const;

export class ApiError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.statusCode = API_ERRORS[code];
  }

  body(): ApiErrorBody {
    return {
      statusCode: this.statusCode,
      code: this.code,
      error: STATUS_CODES[this.statusCode] ?? 'Error',
      message: this.message,
      ...(this.field !== undefined ? { field: this.field } : {}),
    };
  }
}

/** Fastify's own errors that a client causes, by their FST_ code. */
const FASTIFY_CODES: Record<string, ApiErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'TANDEM_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'TANDEM_ERR_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'TANDEM_ERR_BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'TANDEM_ERR_BAD_REQUEST',
};

/** Turns any error thrown by a route into an ApiError. */
export function toApiError(err: FastifyError | Error): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HubError) return new ApiError(err.code, err.message, err.field);
  const fe = err as FastifyError;
  if (fe.validation) {
    const first = fe.validation[0];
    const params = first?.params as { missingProperty?: string; additionalProperty?: string };
    const path = (first?.instancePath ?? '').split('/').filter(Boolean);
    if (params?.missingProperty) path.push(params.missingProperty);
    if (params?.additionalProperty) path.push(params.additionalProperty);
    const context = fe.validationContext;
    const field = path.length
      ? path.join('.')
      : context && context !== 'body'
        ? context
        : undefined;
    const what = params?.additionalProperty ? 'is not a known property' : (first?.message ?? '');
    return new ApiError(
      'TANDEM_ERR_VALIDATION',
      `${field ?? context ?? 'request'} ${what}`.trim(),
      field,
    );
  }
  const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) return new ApiError(mapped, fe.message);
  if (err instanceof SyntaxError || fe.statusCode === 400) {
    return new ApiError('TANDEM_ERR_BAD_REQUEST', err.message);
  }
  return new ApiError('TANDEM_ERR_INTERNAL', 'internal error');
}

/** One error handler for the whole API: coded JSON bodies, server faults logged. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    // Commands to devices answer with their own codes, and the device's CoAP code.
    if (err instanceof DeviceOperationError) {
      if (err.code === 'TANDEM_ERR_INTERNAL') request.log.error({ err }, 'device command failed');
      return reply.code(err.statusCode).send(err.body());
    }
    const apiError = toApiError(err);
    if (apiError.code === 'TANDEM_ERR_INTERNAL') {
      request.log.error({ err, url: request.url }, 'request failed');
    }
    if (apiError.statusCode === 401) reply.header('www-authenticate', 'Bearer realm="tandem"');
    return reply.code(apiError.statusCode).send(apiError.body());
  });
}
