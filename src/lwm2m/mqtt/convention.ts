/**
 * Tandem's LwM2M-over-MQTT convention (docs/lwm2m-over-mqtt.md), after the MQTT binding of
 * LwM2M-TS-Transport 1.2 §8: every message is a CBOR map with the integer keys of Table 8.7-1,
 * requests carry an `operation` (Tables 8.3.2-1, 8.3.3-1, 8.3.4-1) and responses a `result`
 * (§8.4, §8.5), both a `token`. Both directions use the device's one topic,
 * `devices/{ep}/lwm2m/rd/{ep}` (§8.2 with PREFIX `devices/{ep}`, inside the device ACL).
 *
 * The server and the client keep their CoAP-shaped cores (LwM2mServer, Lwm2mClient): this
 * module maps a CoAP request (LwM2M-TS-Transport 1.1 §6, the CoAP mapping of each operation)
 * onto a message and back, so one table serves both sides and both directions.
 */
import { Code } from '../../coap/code.js';
import { pathSegments } from '../../coap/option.js';
import type {
  CoapRequest,
  CoapResponse,
  OutgoingResponse,
  RequestParams,
} from '../../coap/request.js';
import type { DatagramPeer } from '../../transport/datagram.js';
import { CborFloat, CborTag, type CborValue, readCbor, writeCbor } from '../codec/cbor.js';
import { CodecError } from '../codec/codec-error.js';
import { ContentFormat } from '../codec/content-format.js';

/** The keys of LwM2M-TS-Transport 1.2 §8.7 Table 8.7-1. */
export const Key = {
  operation: 1,
  token: 2,
  ep: 3,
  pct: 4,
  uri: 5,
  paths: 6,
  payload: 7,
  lifetime: 8,
  version: 9,
  binding: 10,
  sms: 11,
  pmin: 12,
  pmax: 13,
  gt: 14,
  st: 15,
  epmin: 16,
  epmax: 17,
  result: 18,
  ct: 19,
  edge: 20,
  hqmax: 21,
  depth: 22,
} as const;

/**
 * Tandem's additions, as text keys so that they never collide with a later OMA integer key:
 * Table 8.7-1 has no key for the `lt` attribute, for `con`, nor for the queue-mode `Q`.
 */
export const ExtKey = { lt: 'lt', con: 'con', queue: 'Q' } as const;

/** Operation codes (LwM2M-TS-Transport 1.2 Tables 8.3.2-1, 8.3.3-1 and 8.3.4-1). */
export const Op = {
  register: 6,
  update: 7,
  deregister: 8,
  read: 9,
  readComposite: 10,
  discover: 11,
  writeReplace: 12,
  writePartial: 13,
  writeAttributes: 14,
  writeComposite: 15,
  execute: 16,
  create: 17,
  delete: 18,
  observe: 20,
  observeComposite: 21,
  cancelObserve: 22,
  notify: 23,
  send: 24,
} as const;

const KNOWN_OPS = new Set<number>(Object.values(Op));

/** Attribute names of a Write-Attributes query and their keys (Table 8.7-1 and ExtKey). */
const ATTRIBUTE_KEYS: Readonly<Record<string, number | string>> = {
  pmin: Key.pmin,
  pmax: Key.pmax,
  gt: Key.gt,
  lt: ExtKey.lt,
  st: Key.st,
  epmin: Key.epmin,
  epmax: Key.epmax,
  edge: Key.edge,
  con: ExtKey.con,
  hqmax: Key.hqmax,
};

export type MessageKey = number | string;
/** One convention message: a CBOR map. */
export type ConventionMessage = Map<MessageKey, CborValue>;

/** A message that does not follow the convention; `result` is what answers it. */
export class ConventionError extends Error {
  override readonly name = 'ConventionError';
  constructor(
    readonly result: number,
    message: string,
  ) {
    super(message);
  }
}

const bad = (message: string) => new ConventionError(400, message);

/** The topic of a device: `devices/{ep}/lwm2m/rd/{ep}` (LwM2M-TS-Transport 1.2 §8.2). */
export function deviceTopic(endpoint: string): string {
  return `devices/${endpoint}/lwm2m/rd/${endpoint}`;
}

/**
 * What a topic is to the convention: not ours (`undefined`), the topic of endpoint `ep`, or a
 * topic in the convention's namespace (`devices/{x}/lwm2m/...`) that is no device topic.
 */
export function parseTopic(
  topic: string,
): { kind: 'device'; endpoint: string } | { kind: 'invalid'; owner: string } | undefined {
  // Every message of every MQTT device passes here: most leave after two comparisons.
  if (!topic.startsWith('devices/')) return undefined;
  const second = topic.indexOf('/', 8);
  if (second < 0 || !topic.startsWith('/lwm2m', second)) return undefined;
  const levels = topic.split('/');
  if (levels[2] !== 'lwm2m') return undefined;
  const owner = levels[1]!;
  // §8.2: ENDPOINT has to match the endpoint name, here also the device's own level.
  if (levels.length === 5 && levels[3] === 'rd' && levels[4] === owner && owner !== '') {
    return { kind: 'device', endpoint: owner };
  }
  return { kind: 'invalid', owner };
}

/** `2.05` → 205 (§8.4: results are "loosely based on CoAP"). */
export function resultOf(code: number): number {
  return (code >> 5) * 100 + (code & 0x1f);
}

/** 205 → `Code.Content`; undefined when the number is no CoAP response code. */
export function codeOfResult(result: number): number | undefined {
  const cls = Math.floor(result / 100);
  const detail = result % 100;
  if (!Number.isInteger(result) || cls < 2 || cls > 5 || detail > 31) return undefined;
  return (cls << 5) | detail;
}

// ------------------------------------------------------------------ wire

/** Encodes a message (RFC 8949 preferred serialisation). */
export function encodeMessage(message: ConventionMessage): Buffer {
  return writeCbor(message);
}

/** Decodes a message; throws ConventionError 400 for anything but a map with uint/text keys. */
export function decodeMessage(bytes: Uint8Array): ConventionMessage {
  let value: CborValue;
  try {
    value = readCbor(bytes, { maxDepth: 4 });
  } catch (e) {
    if (e instanceof CodecError) throw bad(`not CBOR: ${e.message}`);
    throw e;
  }
  // Tag 259 (IANA CBOR tags: a map whose keys are not all text) is what some encoders, cbor-x
  // among them, put around a map with integer keys: taken as the map it wraps.
  if (value instanceof CborTag && value.tag === 259) value = value.value;
  // §8.7: every message is a CBOR map.
  if (!(value instanceof Map)) throw bad('the message is not a CBOR map');
  for (const k of value.keys()) {
    if (typeof k !== 'string' && (typeof k !== 'number' || !Number.isInteger(k) || k < 0)) {
      throw bad('map keys are unsigned integers or text');
    }
  }
  return value as ConventionMessage;
}

function uintField(m: ConventionMessage, key: MessageKey, name: string): number | undefined {
  const v = m.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw bad(`${name} must be an unsigned integer`);
  }
  return v;
}

function textField(m: ConventionMessage, key: MessageKey, name: string): string | undefined {
  const v = m.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad(`${name} must be a text string`);
  return v;
}

/** A payload: a byte string, or a text string taken as its UTF-8 bytes. */
function bytesField(m: ConventionMessage, key: MessageKey, name: string): Buffer | undefined {
  const v = m.get(key);
  if (v === undefined) return undefined;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  throw bad(`${name} must be a byte string`);
}

function numberField(m: ConventionMessage, key: MessageKey, name: string): number | null {
  const v = m.get(key);
  if (v === null) return null;
  if (v instanceof CborFloat) return v.value;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${name} must be a number`);
  return v;
}

/** The token of a message (§8.3: every message has one). */
export function tokenOf(m: ConventionMessage): number {
  const t = uintField(m, Key.token, 'token');
  if (t === undefined) throw bad('missing token');
  return t;
}

/** A token as the CoAP layers keep one: 8 bytes, big-endian. */
export function tokenBytes(token: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(token));
  return b;
}

/** A message is a request (`operation`) or a response (`result`) (§8.3, §8.4). */
export function kindOf(m: ConventionMessage): { request: number } | { result: number } {
  const op = uintField(m, Key.operation, 'operation');
  const result = uintField(m, Key.result, 'result');
  // Only a Notify carries both: the error that ends its observation (Tandem's addition).
  if (op !== undefined && result !== undefined && op !== Op.notify) {
    throw bad('both operation and result');
  }
  if (op !== undefined) {
    // §8.5 Table 8.5-5: an operation the receiver does not know is 5.01.
    if (!KNOWN_OPS.has(op)) throw new ConventionError(501, `unknown operation ${op}`);
    return { request: op };
  }
  if (result !== undefined) return { result };
  throw bad('neither operation nor result');
}

// ------------------------------------------------------------------ requests

/**
 * A CoAP request as the LwM2M server or client builds it, as a message with `token`: the
 * inverse of the CoAP mapping of each operation (LwM2M-TS-Transport 1.1 §6.2-§6.5).
 * `observe` marks the request as Observe (GET or FETCH with Observe=0).
 */
export function requestMessage(
  params: RequestParams,
  token: number,
  observe = false,
): ConventionMessage {
  const segments = pathSegments(params.path);
  const uri = `/${segments.join('/')}`;
  const payload = params.payload === undefined ? undefined : Buffer.from(params.payload);
  const m: ConventionMessage = new Map();
  const set = (op: number) => {
    m.set(Key.operation, op);
    m.set(Key.token, token);
  };
  const withPayload = () => {
    if (params.contentFormat !== undefined) m.set(Key.ct, params.contentFormat);
    if (payload && payload.length > 0) m.set(Key.payload, payload);
  };
  const interfaceOf = segments[0];
  switch (params.code) {
    case Code.Post:
      if (interfaceOf === 'rd') {
        // §8.3.2: Register (POST /rd) and Update (POST /rd/{id}).
        set(segments.length === 1 ? Op.register : Op.update);
        registrationFields(m, params.query ?? []);
        if (payload && payload.length > 0) m.set(Key.payload, payload);
      } else if (interfaceOf === 'dp') {
        set(Op.send);
        withPayload();
      } else if (params.contentFormat === undefined) {
        set(Op.execute);
        m.set(Key.uri, uri);
        if (payload && payload.length > 0) m.set(Key.payload, payload);
      } else {
        // LwM2M 1.0 §8.2.4 Table 25: POST with content on an object is Create, on an instance
        // (or a 1.1 multiple resource) a partial update.
        set(segments.length === 1 ? Op.create : Op.writePartial);
        m.set(Key.uri, uri);
        withPayload();
      }
      break;
    case Code.Delete:
      set(interfaceOf === 'rd' ? Op.deregister : Op.delete);
      if (interfaceOf !== 'rd') m.set(Key.uri, uri);
      break;
    case Code.Get:
      if (observe) set(Op.observe);
      else set(params.accept === ContentFormat.LINK ? Op.discover : Op.read);
      m.set(Key.uri, uri);
      // Tandem: `ct` in a request without payload is the format the server accepts (Accept).
      if (params.accept !== undefined && params.accept !== ContentFormat.LINK) {
        m.set(Key.ct, params.accept);
      }
      for (const q of params.query ?? []) {
        if (q.startsWith('depth=')) m.set(Key.depth, Number(q.slice(6)));
      }
      break;
    case Code.Put:
      m.set(Key.uri, uri);
      if (params.contentFormat !== undefined) {
        set(Op.writeReplace);
        withPayload();
      } else {
        set(Op.writeAttributes);
        attributeFields(m, params.query ?? []);
      }
      break;
    case Code.Fetch:
      set(observe ? Op.observeComposite : Op.readComposite);
      if (params.contentFormat !== undefined) m.set(Key.ct, params.contentFormat);
      if (payload) m.set(Key.paths, payload);
      break;
    case Code.IPatch:
      set(Op.writeComposite);
      withPayload();
      break;
    default:
      throw new Error(`no LwM2M operation is CoAP method ${params.code} on ${uri}`);
  }
  return m;
}

function registrationFields(m: ConventionMessage, query: readonly string[]): void {
  for (const item of query) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    if (name === 'ep') m.set(Key.ep, value);
    else if (name === 'lt') m.set(Key.lifetime, Number(value));
    else if (name === 'lwm2m') m.set(Key.version, value);
    else if (name === 'b') m.set(Key.binding, value);
    else if (name === 'sms') m.set(Key.sms, value);
    else if (name === 'Q') m.set(ExtKey.queue, true);
    else m.set(name, value);
  }
}

function attributeFields(m: ConventionMessage, query: readonly string[]): void {
  for (const item of query) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    const key = ATTRIBUTE_KEYS[name] ?? name;
    // A name without value removes the attribute (LwM2M-TS-Core 1.1 §5.1.2): null.
    if (eq < 0) m.set(key, null);
    else {
      const n = Number(item.slice(eq + 1));
      m.set(key, Number.isInteger(n) ? n : new CborFloat(n));
    }
  }
}

/** A request message as the CoAP request its operation maps to (the inverse of requestMessage). */
export function coapRequestOf(
  m: ConventionMessage,
  op: number,
  context: { endpoint: string; registrationPath?: readonly string[] },
): CoapRequest {
  const token = tokenOf(m);
  const uriText = textField(m, Key.uri, 'uri');
  const uri = uriText === undefined ? [] : uriSegments(uriText);
  const ct = uintField(m, Key.ct, 'ct');
  const payload = bytesField(m, Key.payload, 'payload') ?? Buffer.alloc(0);
  const needUri = () => {
    if (uriText === undefined) throw bad('missing uri');
    return uri;
  };
  const base = { query: [] as string[], payload, observe: undefined as number | undefined };
  let method: number;
  let path: readonly string[];
  let contentFormat: number | undefined;
  let accept: number | undefined;
  switch (op) {
    case Op.register:
    case Op.update: {
      method = Code.Post;
      if (op === Op.register) path = ['rd'];
      else if (context.registrationPath) path = context.registrationPath;
      else throw new ConventionError(404, 'not registered');
      base.query = registrationQuery(m, op === Op.register ? context.endpoint : undefined);
      contentFormat = payload.length > 0 ? ContentFormat.LINK : undefined;
      break;
    }
    case Op.deregister:
      method = Code.Delete;
      if (!context.registrationPath) throw new ConventionError(404, 'not registered');
      path = context.registrationPath;
      break;
    case Op.send:
      method = Code.Post;
      path = ['dp'];
      contentFormat = ct;
      break;
    case Op.read:
    case Op.observe:
      method = Code.Get;
      path = needUri();
      accept = ct;
      if (op === Op.observe) base.observe = 0;
      break;
    case Op.discover: {
      method = Code.Get;
      path = needUri();
      accept = ContentFormat.LINK;
      const depth = uintField(m, Key.depth, 'depth');
      if (depth !== undefined) base.query = [`depth=${depth}`];
      break;
    }
    case Op.writeReplace:
    case Op.writePartial:
    case Op.create:
      method = op === Op.writeReplace ? Code.Put : Code.Post;
      path = needUri();
      if (ct === undefined) throw bad('missing ct');
      contentFormat = ct;
      break;
    case Op.writeAttributes:
      method = Code.Put;
      path = needUri();
      base.query = attributeQuery(m);
      break;
    case Op.execute:
      method = Code.Post;
      path = needUri();
      break;
    case Op.delete:
      method = Code.Delete;
      path = needUri();
      break;
    case Op.readComposite:
    case Op.observeComposite:
      method = Code.Fetch;
      path = [];
      contentFormat = ct;
      accept = ct;
      base.payload = bytesField(m, Key.paths, 'paths') ?? Buffer.alloc(0);
      if (op === Op.observeComposite) base.observe = 0;
      break;
    case Op.writeComposite:
      method = Code.IPatch;
      path = [];
      if (ct === undefined) throw bad('missing ct');
      contentFormat = ct;
      break;
    default:
      throw new ConventionError(501, `operation ${op} is not a request here`);
  }
  return {
    method,
    path,
    query: base.query,
    options: [],
    payload: base.payload,
    contentFormat,
    accept,
    observe: base.observe,
    confirmable: true,
    token: tokenBytes(token),
    messageId: 0,
  };
}

function uriSegments(uri: string): string[] {
  // A path of the object tree (`/3/0/1`) or `/`; nothing else reaches the device's objects.
  if (!/^(\/\d{1,5}){0,4}$/.test(uri) && uri !== '/') throw bad(`invalid uri '${uri}'`);
  return pathSegments(uri);
}

/** The Register/Update fields as the query items of LwM2M-TS-Transport 1.1 §6.2. */
function registrationQuery(m: ConventionMessage, topicEndpoint: string | undefined): string[] {
  const query: string[] = [];
  if (topicEndpoint !== undefined) {
    const ep = textField(m, Key.ep, 'ep');
    // §8.2: the topic's ENDPOINT has to match the endpoint name of the Register.
    if (ep !== undefined && ep !== topicEndpoint) {
      throw bad(`ep '${ep}' is not the topic's endpoint '${topicEndpoint}'`);
    }
    query.push(`ep=${topicEndpoint}`);
    // §8.3.2 Table 8.3.2-1: Register carries the lifetime and the version.
    const version = textField(m, Key.version, 'version');
    if (version !== undefined) query.push(`lwm2m=${version}`);
  } else if (m.has(Key.ep) || m.has(Key.version)) {
    throw bad('ep and version cannot change in an Update');
  }
  const lt = uintField(m, Key.lifetime, 'lifetime');
  if (lt !== undefined) query.push(`lt=${lt}`);
  const b = textField(m, Key.binding, 'b');
  if (b !== undefined) query.push(`b=${b}`);
  const sms = textField(m, Key.sms, 'sms');
  if (sms !== undefined) query.push(`sms=${sms}`);
  const q = m.get(ExtKey.queue);
  if (q !== undefined && q !== false) {
    if (q !== true) throw bad('Q must be true or false');
    query.push('Q');
  }
  return query;
}

function attributeQuery(m: ConventionMessage): string[] {
  const query: string[] = [];
  for (const [name, key] of Object.entries(ATTRIBUTE_KEYS)) {
    if (!m.has(key)) continue;
    const v = numberField(m, key, name);
    query.push(v === null ? name : `${name}=${v}`);
  }
  return query;
}

// ------------------------------------------------------------------ responses

/**
 * A CoAP-shaped answer as a response message (§8.4: `{result, token, ?ct, ?payload}`); the
 * diagnostic text of an error (RFC 7252 §5.5.2) goes in `payload` without `ct`.
 */
export function responseMessage(token: number | undefined, response: OutgoingResponse): Buffer {
  const m: ConventionMessage = new Map();
  m.set(Key.result, resultOf(response.code));
  if (token !== undefined) m.set(Key.token, token);
  if (response.contentFormat !== undefined) m.set(Key.ct, response.contentFormat);
  const payload =
    typeof response.payload === 'string' ? Buffer.from(response.payload) : response.payload;
  if (payload && payload.length > 0) m.set(Key.payload, payload);
  // Create: the new instance (CoAP Location-Path, LwM2M 1.0 §8.2.4 Table 25), as `uri`.
  if (response.locationPath !== undefined && response.code === Code.Created) {
    const loc = pathSegments(response.locationPath);
    if (loc.length > 0 && loc[0] !== 'rd') m.set(Key.uri, `/${loc.join('/')}`);
  }
  return encodeMessage(m);
}

/** A response message's fields, as the CoAP response the cores expect. */
export function responseFields(m: ConventionMessage): {
  code: number;
  payload: Buffer;
  contentFormat: number | undefined;
  locationPath: string[];
} {
  const result = uintField(m, Key.result, 'result')!;
  const code = codeOfResult(result);
  if (code === undefined) throw bad(`result ${result} is no response code`);
  const uri = textField(m, Key.uri, 'uri');
  return { code, ...contentOf(m), locationPath: uri === undefined ? [] : uriSegments(uri) };
}

/** Response fields as the CoAP response the server and client cores take. */
export function coapResponseOf(
  fields: ReturnType<typeof responseFields>,
  peer: DatagramPeer,
): CoapResponse {
  return {
    code: fields.code,
    payload: fields.payload,
    options: [],
    contentFormat: fields.contentFormat,
    observe: undefined,
    locationPath: fields.locationPath,
    locationQuery: [],
    maxAge: undefined,
    etag: undefined,
    peer,
  };
}

/** The content of a response or a Notify: `payload` in the format `ct`. */
export function contentOf(m: ConventionMessage): {
  payload: Buffer;
  contentFormat: number | undefined;
} {
  return {
    payload: bytesField(m, Key.payload, 'payload') ?? Buffer.alloc(0),
    contentFormat: uintField(m, Key.ct, 'ct'),
  };
}

/** A notification's fields (§8.3.4 Table 8.3.4-1: Notify `{token, ct, payload}`). */
export function notifyMessage(token: number, response: OutgoingResponse): Buffer {
  const m: ConventionMessage = new Map();
  m.set(Key.operation, Op.notify);
  m.set(Key.token, token);
  // Tandem: an error that ends the observation (RFC 7641 §4.2) carries its `result`.
  if (response.code !== Code.Content) m.set(Key.result, resultOf(response.code));
  if (response.contentFormat !== undefined) m.set(Key.ct, response.contentFormat);
  const payload =
    typeof response.payload === 'string' ? Buffer.from(response.payload) : response.payload;
  if (payload && payload.length > 0) m.set(Key.payload, payload);
  return encodeMessage(m);
}

/** The code of a Notify: 2.05, or the error it carries in `result`. */
export function notifyCode(m: ConventionMessage): number {
  const result = uintField(m, Key.result, 'result');
  if (result === undefined) return Code.Content;
  const code = codeOfResult(result);
  if (code === undefined) throw bad(`result ${result} is no response code`);
  return code;
}

/** Cancel-Observe (§8.3.4 Table 8.3.4-1): the observation's token. */
export function cancelObserveMessage(token: number): Buffer {
  const m: ConventionMessage = new Map();
  m.set(Key.operation, Op.cancelObserve);
  m.set(Key.token, token);
  return encodeMessage(m);
}
