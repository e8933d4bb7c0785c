/**
 * A device's registration (LwM2M-TS-Core 1.1 §6.2.1) and the parsing of what a Register or
 * Update request carries: the query parameters and the CoRE link format list of objects.
 */
import { type Link, parseLinkFormat } from '../../coap/link-format.js';
import type { DatagramPeer } from '../../transport/datagram.js';
import { Lwm2mPath } from '../node/lwm2m-path.js';
import { Lwm2mError } from './errors.js';

/** The LwM2M enabler versions this server speaks. */
export const SUPPORTED_VERSIONS = ['1.0', '1.1', '1.2'] as const;
export type Lwm2mVersion = (typeof SUPPORTED_VERSIONS)[number];

/** LwM2M-TS-Core 1.1 §6.2.1: the lifetime defaults to 86400 s when `lt` is absent. */
export const DEFAULT_LIFETIME_S = 86_400;

/** One object or object instance the device announced (`</3303/0>;ver=1.1`). */
export interface ObjectLinkEntry {
  /** `/3303` or `/3303/0`, relative to the root path. */
  readonly path: string;
  readonly version?: string;
}

/**
 * A registration as the server stores it. Plain data only (a store may serialise it); the
 * peer is the address the device last spoke from, and requests to the device go there.
 */
export interface Registration {
  /** Registration ID, the `{id}` of `/rd/{id}` (LwM2M-TS-Core 1.1 §6.2.1: unique). */
  readonly id: string;
  /** Endpoint name (`ep`), unique among registrations. */
  readonly endpoint: string;
  readonly lwm2mVersion: Lwm2mVersion;
  /** Seconds (`lt`). */
  readonly lifetime: number;
  /** Binding mode letters without the 1.0 `Q` (`U`, `UQ` becomes `U` + queueMode). */
  readonly binding: string;
  /** Queue mode: `b=UQ` (1.0) or the `Q` parameter (1.1, 1.2). */
  readonly queueMode: boolean;
  readonly smsNumber?: string;
  readonly peer: DatagramPeer;
  /** The alternate path of the objects (`</lwm2m>;rt="oma.lwm2m"`), `/` by default. */
  readonly rootPath: string;
  /** The object links as sent, for Discover-like views. */
  readonly objectLinks: readonly ObjectLinkEntry[];
  /** Object id → announced version (`ver=`), `1.0` when absent. */
  readonly objectVersions: Readonly<Record<number, string>>;
  /** Content formats announced with `ct=` on the root link (LwM2M-TS-Core 1.1 §6.2.1). */
  readonly supportedContentFormats: readonly number[];
  /** Other query parameters, kept as sent. */
  readonly additionalParams: Readonly<Record<string, string>>;
  /** Content format chosen by an operator for this device, overriding the default. */
  readonly preferredContentFormat?: number;
  /** Milliseconds since the epoch. */
  readonly registeredAt: number;
  readonly lastUpdateAt: number;
  /** When the registration expires unless updated (ms since the epoch). */
  readonly expiresAt: number;
}

/** What a Register request says, before the server assigns an ID and times. */
export interface RegisterParams {
  readonly endpoint: string;
  readonly lwm2mVersion: Lwm2mVersion;
  readonly lifetime: number;
  readonly binding: string;
  readonly queueMode: boolean;
  readonly smsNumber?: string;
  readonly additionalParams: Record<string, string>;
}

/** What an Update request says; every field is optional (LwM2M-TS-Core 1.1 §6.2.2). */
export interface UpdateParams {
  readonly lifetime?: number;
  readonly binding?: string;
  readonly queueMode?: boolean;
  readonly smsNumber?: string;
  readonly links?: ParsedLinks;
}

export interface ParsedLinks {
  readonly rootPath: string;
  readonly objectLinks: readonly ObjectLinkEntry[];
  readonly objectVersions: Record<number, string>;
  readonly supportedContentFormats: number[];
}

function bad(message: string): Lwm2mError {
  return new Lwm2mError('LWM2M_ERR_BAD_REGISTRATION', message);
}

/** Splits `key=value` query items; a key without `=` maps to `''`. Repeated keys are an error. */
export function parseQuery(query: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of query) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    if (out.has(key)) throw bad(`query parameter '${key}' appears twice`);
    out.set(key, value);
  }
  return out;
}

function parseLifetime(text: string): number {
  // LwM2M-TS-Core 1.1 §6.2.1 / Appendix E.2 (Server object resource 1): an unsigned integer, seconds.
  if (!/^\d{1,10}$/.test(text)) throw bad(`invalid lifetime '${text}'`);
  const lt = Number(text);
  if (lt < 1 || lt > 0xffffffff) throw bad(`lifetime ${lt} out of range`);
  return lt;
}

/**
 * Binding letters (LwM2M-TS-Core 1.1 §5.2.1.1, Table 5.2.1.1-2: U, S, T, N; 1.0 §5.3.1.1
 * allows `UQ`, `S`, `SQ`, `US`, `UQS` with Q for queue mode). Returns the letters without Q.
 */
function parseBinding(text: string, version: Lwm2mVersion): { binding: string; queue: boolean } {
  if (version === '1.0') {
    // LwM2M-TS-Core 1.0 §5.3.1.1: U, UQ, S, SQ, US, UQS.
    if (!/^(U|UQ|S|SQ|US|UQS)$/.test(text)) throw bad(`invalid 1.0 binding '${text}'`);
    return { binding: text.replace('Q', ''), queue: text.includes('Q') };
  }
  // LwM2M-TS-Core 1.1 §6.2.1: each letter at most once; Q moved to its own parameter.
  // LwM2M-TS-Core 1.2 §6.2.1 adds M (MQTT) and H (HTTP).
  const letters = version === '1.1' ? /^[USTN]{1,4}$/ : /^[USTNMH]{1,6}$/;
  if (!letters.test(text) || new Set(text).size !== text.length) {
    throw bad(`invalid binding '${text}'`);
  }
  return { binding: text, queue: false };
}

/**
 * The parameters of a Register request (LwM2M-TS-Core 1.1 §6.2.1, Table 6.2.1-1; CoAP mapping in
 * LwM2M-TS-Transport 1.1 §6.2: `POST /rd?ep={name}&lt=&lwm2m=&b=&sms=&Q`). Throws Lwm2mError
 * with 4.00 for a malformed parameter and 4.12 for an unsupported LwM2M version.
 */
export function parseRegisterQuery(query: readonly string[]): RegisterParams {
  const q = parseQuery(query);
  const endpoint = q.get('ep');
  // LwM2M-TS-Core 1.1 §6.2.1: the Endpoint Client Name is mandatory (the bootstrap may have
  // set it; a registration without one is a bad request).
  if (endpoint === undefined || endpoint === '') throw bad('missing endpoint name (ep)');
  if (Buffer.byteLength(endpoint, 'utf8') > 255) throw bad('endpoint name longer than 255 bytes');
  const versionText = q.get('lwm2m') ?? '1.0';
  // LwM2M-TS-Core 1.1 §6.2.1: a version the server does not support is answered 4.12.
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(versionText)) {
    throw new Lwm2mError('LWM2M_ERR_UNSUPPORTED_VERSION', `LwM2M version '${versionText}'`);
  }
  const lwm2mVersion = versionText as Lwm2mVersion;
  const lifetime = q.has('lt') ? parseLifetime(q.get('lt')!) : DEFAULT_LIFETIME_S;
  // LwM2M-TS-Core 1.1 §6.2.1: the binding defaults to U.
  const { binding, queue } = parseBinding(q.get('b') ?? 'U', lwm2mVersion);
  let queueMode = queue;
  if (q.has('Q')) {
    // LwM2M-TS-Core 1.1 §6.2.1: `Q` is a parameter without value, new in 1.1.
    if (lwm2mVersion === '1.0') throw bad("the 'Q' parameter is not part of LwM2M 1.0");
    if (q.get('Q') !== '') throw bad("the 'Q' parameter takes no value");
    queueMode = true;
  }
  const sms = q.get('sms');
  const additionalParams: Record<string, string> = {};
  for (const [k, v] of q) {
    if (!['ep', 'lt', 'lwm2m', 'b', 'sms', 'Q'].includes(k)) additionalParams[k] = v;
  }
  return {
    endpoint,
    lwm2mVersion,
    lifetime,
    binding,
    queueMode,
    ...(sms !== undefined ? { smsNumber: sms } : {}),
    additionalParams,
  };
}

/** The parameters of an Update request (LwM2M-TS-Core 1.1 §6.2.2: lt, b, sms, Q; all optional). */
export function parseUpdateQuery(query: readonly string[], version: Lwm2mVersion): UpdateParams {
  const q = parseQuery(query);
  for (const k of q.keys()) {
    // LwM2M-TS-Core 1.1 §6.2.2: the endpoint name and version cannot change in an Update.
    if (k === 'ep' || k === 'lwm2m') throw bad(`'${k}' cannot change in an Update`);
  }
  const out: {
    lifetime?: number;
    binding?: string;
    queueMode?: boolean;
    smsNumber?: string;
  } = {};
  if (q.has('lt')) out.lifetime = parseLifetime(q.get('lt')!);
  if (q.has('b')) {
    const b = parseBinding(q.get('b')!, version);
    out.binding = b.binding;
    if (version === '1.0') out.queueMode = b.queue;
  }
  if (q.has('Q')) {
    if (version === '1.0') throw bad("the 'Q' parameter is not part of LwM2M 1.0");
    out.queueMode = true;
  }
  if (q.has('sms')) out.smsNumber = q.get('sms')!;
  return out;
}

/**
 * The object links of a Register or Update payload (LwM2M-TS-Core 1.1 §6.2.1: CoRE link format,
 * RFC 6690). `</>` or `</path>;rt="oma.lwm2m"` names the root (an alternate path, §6.2.1.1) and
 * may carry `ct=` with the content formats the device supports (1.1); object links may carry
 * `ver=` (§6.2.1.2).
 */
export function parseObjectLinks(payload: Buffer): ParsedLinks {
  const parsed = parseLinkFormat(payload, { maxLinks: 4096, maxParams: 16 });
  if (!parsed.ok) throw bad(`invalid object links: ${parsed.error.message}`);
  let rootPath = '/';
  const rootLink = parsed.links.find((l) => l.attributes.rt === 'oma.lwm2m');
  if (rootLink) rootPath = normaliseRoot(rootLink.uri);
  const objectLinks: ObjectLinkEntry[] = [];
  const objectVersions: Record<number, string> = {};
  let supportedContentFormats: number[] = [];
  for (const l of parsed.links) {
    const uri = l.uri;
    if (l === rootLink || (uri === '/' && !rootLink)) {
      supportedContentFormats = contentFormatsOf(l);
      continue;
    }
    if (!uri.startsWith(rootPath === '/' ? '/' : `${rootPath}/`)) {
      // Links outside the LwM2M root (other CoAP resources of the device) are not objects.
      continue;
    }
    const rest = rootPath === '/' ? uri : uri.slice(rootPath.length);
    const path = Lwm2mPath.tryParse(rest);
    if (!path || path.isRoot() || path.segments.length > 2) {
      throw bad(`object link '<${uri}>' is not an object or object instance`);
    }
    const ver = l.attributes.ver;
    if (ver !== undefined) {
      // LwM2M-TS-Core 1.1 §6.2.1.2: ver is "major.minor".
      if (ver === true || !/^\d+\.\d+$/.test(ver)) throw bad(`invalid ver on '<${uri}>'`);
      objectVersions[path.objectId!] = ver;
    }
    objectLinks.push({
      path: path.toString(),
      ...(typeof ver === 'string' ? { version: ver } : {}),
    });
  }
  return { rootPath, objectLinks, objectVersions, supportedContentFormats };
}

function normaliseRoot(uri: string): string {
  const trimmed = uri.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function contentFormatsOf(l: Link): number[] {
  const ct = l.attributes.ct;
  if (ct === undefined || ct === true) return [];
  const out: number[] = [];
  // RFC 7252 §7.2.1: ct is a number, or a quoted space-separated list of numbers.
  for (const part of ct.split(/\s+/)) {
    if (!/^\d{1,5}$/.test(part)) throw bad(`invalid ct '${ct}'`);
    out.push(Number(part));
  }
  return out;
}

/** The object link list of a registration, as link format text (for logs and the API). */
export function objectLinksText(reg: Registration): string {
  return reg.objectLinks.map((l) => `<${l.path}>${l.version ? `;ver=${l.version}` : ''}`).join(',');
}

/** True when the device speaks at least `version`. */
export function atLeast(reg: Pick<Registration, 'lwm2mVersion'>, version: Lwm2mVersion): boolean {
  return SUPPORTED_VERSIONS.indexOf(reg.lwm2mVersion) >= SUPPORTED_VERSIONS.indexOf(version);
}
