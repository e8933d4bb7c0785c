/**
 * What every downlink operation shares (Leshan's shape: one request and one response type per
 * LwM2M operation): the device context a request is built in, the response base with the
 * check of the codes the specification allows, and path handling.
 */
import { codeString } from '../../../coap/code.js';
import type { CoapResponse, RequestParams } from '../../../coap/request.js';
import { CodecError } from '../../codec/codec-error.js';
import { ContentFormat } from '../../codec/content-format.js';
import { decode, decodeTimestamped, type TimestampedNode } from '../../codec/lwm2m-codec.js';
import type { Lwm2mModel } from '../../model/object-model.js';
import type { Lwm2mNode } from '../../node/lwm2m-node.js';
import { InvalidPathError, Lwm2mPath } from '../../node/lwm2m-path.js';
import { Lwm2mError } from '../errors.js';
import type { Lwm2mVersion, Registration } from '../registration.js';

/** The device a request goes to, as the server sees it when it builds the request. */
export interface DeviceContext {
  readonly registration: Registration;
  /** The object definitions of the versions the device announced. */
  readonly model: Lwm2mModel;
  /** Default format of single-node operations (see content-negotiation.ts). */
  readonly format: number;
  /** Default format of composite operations. */
  readonly compositeFormat: number;
}

/** Options every operation takes. */
export interface RequestOptions {
  /** Overall time to wait for the device's answer once sent (default: CoAP MAX_TRANSMIT_WAIT). */
  readonly timeoutMs?: number;
  /** Queue mode: how long the request may wait for a sleeping device (default: the server's). */
  readonly queueTtlMs?: number;
  /**
   * Withdraws the request while it has not been sent (it waits for a sleeping device): it then
   * fails with LWM2M_ERR_CANCELLED. A request already sent runs its course: the device may act.
   */
  readonly signal?: AbortSignal;
  /** Called once when the request leaves for the device. */
  readonly onSent?: () => void;
}

/**
 * One LwM2M operation: how its request becomes a CoAP request and how the CoAP response
 * becomes its response. `minVersion` is the first LwM2M version that has the operation.
 */
export interface Operation<Req, Res extends Lwm2mResponse> {
  readonly name: string;
  readonly minVersion: Lwm2mVersion;
  /** Throws Lwm2mError LWM2M_ERR_INVALID_REQUEST or LWM2M_ERR_NOT_SUPPORTED. */
  build(request: Req, device: DeviceContext): RequestParams;
  /** Throws Lwm2mError LWM2M_ERR_INVALID_RESPONSE or LWM2M_ERR_BAD_PAYLOAD. */
  parse(response: CoapResponse, request: Req, device: DeviceContext): Res;
}

/** Base of every response: the CoAP code, and the diagnostic payload of an error. */
export abstract class Lwm2mResponse {
  constructor(
    /** Response code byte (`Code.Content`...). */
    readonly code: number,
    /** The diagnostic payload of an error response (RFC 7252 §5.5.2), when there was one. */
    readonly errorMessage?: string,
  ) {}

  get isSuccess(): boolean {
    return this.code >> 5 === 2;
  }

  /** `'2.05'`. */
  get codeText(): string {
    return codeString(this.code);
  }
}

/**
 * Codes a device may answer any operation with besides the operation's own: 5.00 on a client
 * failure, and the block-wise 4.08 and 4.13 (RFC 7959 §2.9) — as Leshan accepts them.
 */
const ALWAYS_ALLOWED = [0x88, 0x8d, 0xa0];

/** Checks the response code against the list the specification gives for the operation. */
export function checkCode(operation: string, code: number, allowed: readonly number[]): void {
  if (allowed.includes(code) || ALWAYS_ALLOWED.includes(code)) return;
  throw new Lwm2mError(
    'LWM2M_ERR_INVALID_RESPONSE',
    `${operation}: the device answered ${codeString(code)}, which the specification does not allow`,
  );
}

/** The diagnostic payload of an error response, as text. */
export function errorMessageOf(response: CoapResponse): string | undefined {
  if (response.code >> 5 === 2 || response.payload.length === 0) return undefined;
  return response.payload.toString('utf8');
}

/** Parses a path argument; throws LWM2M_ERR_INVALID_REQUEST. */
export function toPath(path: string | Lwm2mPath): Lwm2mPath {
  if (path instanceof Lwm2mPath) return path;
  try {
    return Lwm2mPath.parse(path);
  } catch (e) {
    if (e instanceof InvalidPathError) throw new Lwm2mError('LWM2M_ERR_INVALID_REQUEST', e.message);
    throw e;
  }
}

/** Requires the path to be at one of the given levels (1 object ... 4 resource instance). */
export function requireLevel(
  operation: string,
  path: Lwm2mPath,
  levels: readonly number[],
  source: string,
): void {
  if (!levels.includes(path.segments.length)) {
    throw new Lwm2mError(
      'LWM2M_ERR_INVALID_REQUEST',
      `${operation} is not allowed on ${path} (${source})`,
    );
  }
}

/** Uri-Path segments of `path` under the device's root path (LwM2M-TS-Core 1.1 §6.2.1.1). */
export function uriPath(device: DeviceContext, path: Lwm2mPath): string[] {
  const root = device.registration.rootPath.split('/').filter((s) => s !== '');
  return [...root, ...path.segments.map(String)];
}

/**
 * Decodes the payload of a success response into the node at `path`. A response without
 * Content-Format is read as text/plain for a single resource (RFC 7252 §5.5.2 leaves the
 * format to the context) and in the requested format otherwise.
 */
export function decodeContent(
  response: CoapResponse,
  path: Lwm2mPath,
  device: DeviceContext,
  requested: number,
): Lwm2mNode {
  const format =
    response.contentFormat ??
    (path.isResource() || path.isResourceInstance() ? ContentFormat.TEXT : requested);
  try {
    return decode(response.payload, format, path, device.model);
  } catch (e) {
    if (e instanceof CodecError) {
      throw new Lwm2mError('LWM2M_ERR_BAD_PAYLOAD', `${path}: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/**
 * Decodes a success payload that may hold several timestamped values of the node at `path`
 * (SenML, old LwM2M JSON); other formats give one untimed node.
 */
export function decodeTimestampedContent(
  response: CoapResponse,
  path: Lwm2mPath,
  device: DeviceContext,
  requested: number,
): TimestampedNode[] {
  const format =
    response.contentFormat ??
    (path.isResource() || path.isResourceInstance() ? ContentFormat.TEXT : requested);
  try {
    return decodeTimestamped(response.payload, format, path, device.model);
  } catch (e) {
    if (e instanceof CodecError) {
      throw new Lwm2mError('LWM2M_ERR_BAD_PAYLOAD', `${path}: ${e.message}`, { cause: e });
    }
    throw e;
  }
}
