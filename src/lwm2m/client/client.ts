/**
 * An LwM2M client (LwM2M-TS-Core 1.1): registers with one server (Register, Update,
 * De-register, §6.2), answers Device Management and Information Reporting through its object
 * enablers (§6.3, §6.4), and sends data (Send, §6.4.4). Light enough for thousands in one
 * process: object definitions come from the shared registry, and a client holds only its
 * values, its observations and a few timers.
 */
import { EventEmitter } from 'node:events';
import { Code, codeString } from '../../coap/code.js';
import { formatLinkFormat, type Link, link } from '../../coap/link-format.js';
import type { ServerObservation } from '../../coap/observe-server.js';
import type {
  CoapRequest,
  CoapResponse,
  OutgoingResponse,
  RequestHandler,
  RequestParams,
} from '../../coap/request.js';
import type { DatagramPeer } from '../../transport/datagram.js';
import { type Clock, systemClock } from '../../util/clock.js';
import { CodecError } from '../codec/codec-error.js';
import { ContentFormat } from '../codec/content-format.js';
import { canEncode, encodeComposite, isCompositeSupported } from '../codec/lwm2m-codec.js';
import { Lwm2mPath } from '../node/lwm2m-path.js';
import { flattenNode, type Lwm2mPathValue } from '../node/path-value.js';
import { type LongTimer, setLongTimeout } from '../server/long-timeout.js';
import { AttributeStore } from './attributes.js';
import type { ObjectEnabler } from './object-enabler.js';
import { ServerInstance } from './objects/server.js';
import { ObserveManager } from './observe-manager.js';
import { type HandlerContext, handleClientRequest } from './request-handler.js';
import { ObjectTree } from './tree.js';

/** What the client needs of a CoAP endpoint (`CoapEndpoint` has this shape). */
export interface ClientCoapPort {
  setHandler(handler: RequestHandler): void;
  request(peer: DatagramPeer, params: RequestParams): Promise<CoapResponse>;
  acceptObserve(request: CoapRequest, peer: DatagramPeer): ServerObservation;
}

export type ClientVersion = '1.0' | '1.1' | '1.2';

export interface Lwm2mClientOptions {
  readonly endpoint: ClientCoapPort;
  /** The LwM2M server's address. */
  readonly server: DatagramPeer;
  /** Endpoint client name (`ep`). */
  readonly name: string;
  readonly objects: readonly ObjectEnabler[];
  /** Default 1.1. */
  readonly lwm2mVersion?: ClientVersion;
  /** Seconds; default the Server object's lifetime (instance 0, resource 1), else 86400. */
  readonly lifetime?: number;
  /** Default `U`. */
  readonly binding?: string;
  readonly queueMode?: boolean;
  readonly smsNumber?: string;
  /**
   * Formats announced with `ct=` on the root link (1.1 and later). Default: TLV, SenML JSON
   * and SenML CBOR (and LwM2M CBOR on 1.2 when the codecs have it).
   */
  readonly contentFormats?: readonly number[];
  /** Format of answers without Accept; default TLV (1.0) or SenML CBOR (1.1 and later). */
  readonly defaultFormat?: number;
  readonly clock?: Clock;
  /** Send an Update before the lifetime runs out (default true). */
  readonly autoUpdate?: boolean;
  /** Time to wait for the server's answers (default: CoAP MAX_TRANSMIT_WAIT). */
  readonly timeoutMs?: number;
}

/** A registration request the server refused, with its response code. */
export class Lwm2mClientError extends Error {
  override readonly name = 'Lwm2mClientError';
  constructor(
    readonly coapCode: number,
    message: string,
  ) {
    super(`${message}: ${codeString(coapCode)}`);
  }
}

export interface Lwm2mClientEvents {
  registered: [string];
  updated: [];
  deregistered: [];
  /** An Update the client sent by itself failed (the next attempt re-registers). */
  updateFailed: [Error];
}

const DEFAULT_LIFETIME = 86_400;

export class Lwm2mClient extends EventEmitter<Lwm2mClientEvents> {
  readonly name: string;
  readonly version: ClientVersion;
  readonly objects: ReadonlyMap<number, ObjectEnabler>;
  readonly #o: Lwm2mClientOptions;
  readonly #clock: Clock;
  readonly #tree: ObjectTree;
  readonly #attributes = new AttributeStore();
  readonly #observations: ObserveManager;
  #location: string[] | undefined;
  #lifetime: number;
  #binding: string;
  #updateTimer: LongTimer | undefined;
  /** True while a server request is handled (its changes need no Update). */
  #inRequest = false;
  #linksUpdatePending = false;
  #closed = false;

  constructor(options: Lwm2mClientOptions) {
    super();
    this.#o = options;
    this.name = options.name;
    this.version = options.lwm2mVersion ?? '1.1';
    this.#clock = options.clock ?? systemClock;
    const objects = new Map<number, ObjectEnabler>();
    for (const o of options.objects) objects.set(o.id, o);
    this.objects = objects;
    this.#tree = new ObjectTree(objects);
    this.#observations = new ObserveManager({
      clock: this.#clock,
      attributes: this.#attributes,
      defaults: () => this.#serverDefaults(),
      numericValue: (p) => this.#tree.numericValue(p),
      booleanValue: (p) => this.#tree.booleanValue(p),
    });
    const server = this.#serverInstance();
    this.#lifetime = options.lifetime ?? server?.lifetime ?? DEFAULT_LIFETIME;
    this.#binding = options.binding ?? 'U';
    for (const o of objects.values()) {
      o.setListener((objectId, instanceId, resourceId) => {
        const path =
          resourceId === undefined
            ? new Lwm2mPath(objectId, instanceId)
            : new Lwm2mPath(objectId, instanceId, resourceId);
        this.#observations.changed(path);
        // LwM2M-TS-Core 1.1 §6.2.2: when the device itself adds or removes an object instance,
        // it tells the server its new object links with an Update (the server knows of the
        // ones it created or deleted itself).
        if (resourceId === undefined && !this.#inRequest) this.#linksChanged();
      });
    }
    for (const i of objects.get(1)?.instances.values() ?? []) {
      if (i instanceof ServerInstance) {
        i.trigger = (changes) => {
          if (!this.registered) return;
          // After the answer to the server's Write or Execute has gone out.
          setImmediate(() => {
            if (!this.registered || this.#closed) return;
            this.update(changes).catch((e) => this.#updateFailed(e));
          });
        };
      }
    }
    options.endpoint.setHandler(this.handleRequest);
  }

  /** True between a successful Register and the De-register. */
  get registered(): boolean {
    return this.#location !== undefined;
  }

  /** The registration ID the server gave (the last Location-Path segment). */
  get registrationId(): string | undefined {
    return this.#location?.[this.#location.length - 1];
  }

  /** The Location-Path of the registration (`['rd', id]`). */
  get location(): readonly string[] | undefined {
    return this.#location;
  }

  get lifetime(): number {
    return this.#lifetime;
  }

  /** Observations the server holds on this client. */
  get observationCount(): number {
    return this.#observations.size;
  }

  /** The request handler (installed on the endpoint by the constructor). */
  readonly handleRequest: RequestHandler = (request, peer): OutgoingResponse => {
    this.#inRequest = true;
    try {
      return handleClientRequest(this.#context(peer), request);
    } finally {
      this.#inRequest = false;
    }
  };

  /** Registers, and keeps the registration alive with Updates (a simulator's "power on"). */
  start(): Promise<string> {
    return this.register();
  }

  /** De-registers and stops timers and observations (a simulator's "power off"). */
  async stop(): Promise<void> {
    try {
      await this.deregister();
    } finally {
      this.close();
    }
  }

  /** The object links of the registration (LwM2M-TS-Core 1.1 §6.2.1). */
  objectLinks(): string {
    const links: Link[] = [];
    if (this.version !== '1.0') {
      const formats = this.#contentFormats();
      // LwM2M-TS-Core 1.1 §6.2.1: the root link may say which formats the client supports.
      links.push(
        link('/', { rt: 'oma.lwm2m', ...(formats.length ? { ct: formats.join(' ') } : {}) }),
      );
    }
    const ids = [...this.objects.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      // LwM2M-TS-Core 1.1 §6.2.1: the Security object (0) and OSCORE (21) are not announced.
      if (id === 0 || id === 21) continue;
      const obj = this.objects.get(id)!;
      const ver = obj.model.version;
      const instances = obj.instanceIds();
      // LwM2M-TS-Core 1.1 §6.2.1.2: an object of another version than 1.0 says `ver=`.
      if (ver !== '1.0' || instances.length === 0)
        links.push(link(`/${id}`, ver !== '1.0' ? { ver } : {}));
      for (const i of instances) links.push(link(`/${id}/${i}`));
    }
    return formatLinkFormat(links);
  }

  /**
   * Register (LwM2M-TS-Core 1.1 §6.2.1): POST /rd?ep=&lt=&lwm2m=&b= with the object links.
   * Rejects with Lwm2mClientError unless the server answers 2.01 with a Location-Path.
   */
  async register(): Promise<string> {
    const query = [`ep=${this.name}`, `lt=${this.#lifetime}`, `lwm2m=${this.version}`];
    const queue = this.#o.queueMode ?? false;
    // LwM2M-TS-Core 1.0 §5.3.1.1: queue mode is `b=UQ` in 1.0; 1.1 §6.2.1 moves it to `Q`.
    const binding = this.version === '1.0' && queue ? `${this.#binding}Q` : this.#binding;
    query.push(`b=${binding}`);
    if (this.#o.smsNumber) query.push(`sms=${this.#o.smsNumber}`);
    if (queue && this.version !== '1.0') query.push('Q');
    const response = await this.#request({
      code: Code.Post,
      path: ['rd'],
      query,
      contentFormat: ContentFormat.LINK,
      payload: this.objectLinks(),
    });
    if (response.code !== Code.Created || response.locationPath.length === 0) {
      throw new Lwm2mClientError(response.code, 'Register refused');
    }
    this.#location = [...response.locationPath];
    this.#scheduleUpdate();
    this.emit('registered', this.registrationId!);
    return this.registrationId!;
  }

  /**
   * Update (LwM2M-TS-Core 1.1 §6.2.2): POST /rd/{id} with what changed; the object links when
   * `links` is true. Re-registers when the server no longer knows the registration (4.04).
   */
  async update(
    changes: { lifetime?: number; binding?: string; links?: boolean } = {},
  ): Promise<void> {
    const location = this.#location;
    if (!location) throw new Lwm2mClientError(Code.NotFound, 'not registered');
    const query: string[] = [];
    if (changes.lifetime !== undefined) {
      this.#lifetime = changes.lifetime;
      query.push(`lt=${changes.lifetime}`);
    }
    if (changes.binding !== undefined) {
      this.#binding = changes.binding;
      query.push(`b=${changes.binding}`);
    }
    const response = await this.#request({
      code: Code.Post,
      path: location,
      query,
      ...(changes.links ? { contentFormat: ContentFormat.LINK, payload: this.objectLinks() } : {}),
    });
    if (response.code === Code.NotFound) {
      // LwM2M-TS-Core 1.1 §6.2.2: the registration is gone; register again.
      this.#location = undefined;
      await this.register();
      return;
    }
    if (response.code !== Code.Changed) throw new Lwm2mClientError(response.code, 'Update refused');
    this.#scheduleUpdate();
    this.emit('updated');
  }

  /** De-register (LwM2M-TS-Core 1.1 §6.2.3): DELETE /rd/{id}. */
  async deregister(): Promise<void> {
    const location = this.#location;
    if (!location) return;
    this.#cancelUpdate();
    this.#location = undefined;
    this.#observations.clear();
    const response = await this.#request({ code: Code.Delete, path: location });
    if (response.code !== Code.Deleted)
      throw new Lwm2mClientError(response.code, 'De-register refused');
    this.emit('deregistered');
  }

  /**
   * Send (LwM2M-TS-Core 1.1 §6.4.4): POST /dp with the current values at `paths` in a
   * composite format (default SenML CBOR). Resolves with the server's response code.
   */
  async send(
    paths: readonly (string | Lwm2mPath)[],
    options: { format?: number; confirmable?: boolean } = {},
  ): Promise<number> {
    if (this.version === '1.0')
      throw new Lwm2mClientError(Code.MethodNotAllowed, 'Send needs LwM2M 1.1');
    const format = options.format ?? ContentFormat.SENML_CBOR;
    if (!isCompositeSupported(format))
      throw new Lwm2mClientError(Code.NotAcceptable, `format ${format}`);
    const values: Lwm2mPathValue[] = [];
    for (const p of paths) {
      const path = typeof p === 'string' ? Lwm2mPath.parse(p) : p;
      const r = this.#tree.read(path);
      if (!r.value) throw new Lwm2mClientError(r.code, `Send: ${path}`);
      values.push(...flattenNode(r.value, path));
    }
    let payload: Buffer;
    try {
      payload = encodeComposite(values, format, this.#tree.model);
    } catch (e) {
      if (e instanceof CodecError) throw new Lwm2mClientError(Code.BadRequest, e.message);
      throw e;
    }
    const response = await this.#request({
      code: Code.Post,
      path: ['dp'],
      contentFormat: format,
      payload,
      confirmable: options.confirmable ?? true,
    });
    return response.code;
  }

  /** Stops timers and observations (does not de-register). */
  close(): void {
    this.#closed = true;
    this.#cancelUpdate();
    this.#observations.clear();
    for (const o of this.objects.values()) o.setListener(undefined);
  }

  // ---------------------------------------------------------------- internals

  #serverInstance(): ServerInstance | undefined {
    for (const i of this.objects.get(1)?.instances.values() ?? []) {
      if (i instanceof ServerInstance) return i;
    }
    return undefined;
  }

  #serverDefaults(): { pmin?: number; pmax?: number } {
    const s = this.#serverInstance();
    if (!s) return {};
    const out: { pmin?: number; pmax?: number } = {};
    if (s.defaultPmin !== undefined) out.pmin = s.defaultPmin;
    if (s.defaultPmax !== undefined) out.pmax = s.defaultPmax;
    return out;
  }

  #contentFormats(): number[] {
    if (this.#o.contentFormats) return [...this.#o.contentFormats];
    const formats: number[] = [
      ContentFormat.TLV,
      ContentFormat.SENML_JSON,
      ContentFormat.SENML_CBOR,
    ];
    if (this.version === '1.2' && canEncode(ContentFormat.LWM2M_CBOR))
      formats.push(ContentFormat.LWM2M_CBOR);
    return formats;
  }

  #defaultFormat(): number {
    if (this.#o.defaultFormat !== undefined) return this.#o.defaultFormat;
    return this.version === '1.0' ? ContentFormat.TLV : ContentFormat.SENML_CBOR;
  }

  #context(peer: DatagramPeer): HandlerContext {
    return {
      tree: this.#tree,
      attributes: this.#attributes,
      observations: this.#observations,
      version: this.version,
      defaultFormat: this.#defaultFormat(),
      // RFC 7641 §2 (GET) and RFC 8132 §2.4 (FETCH, Observe-Composite).
      acceptObserve: (request) => this.#o.endpoint.acceptObserve(request, peer),
      changed: (path) => this.#observations.changed(path),
    };
  }

  #request(params: RequestParams): Promise<CoapResponse> {
    return this.#o.endpoint.request(this.#o.server, {
      ...params,
      ...(this.#o.timeoutMs !== undefined ? { timeoutMs: this.#o.timeoutMs } : {}),
    });
  }

  #scheduleUpdate(): void {
    this.#cancelUpdate();
    if (this.#o.autoUpdate === false || this.#closed) return;
    // Update at 90% of the lifetime, so that the registration never lapses.
    this.#updateTimer = setLongTimeout(
      this.#clock,
      () => {
        this.#updateTimer = undefined;
        this.update().catch((e) => {
          this.#location = undefined;
          this.#updateFailed(e);
        });
      },
      this.#lifetime * 900,
    );
  }

  /** One Update with the object links for all instance changes of this turn. */
  #linksChanged(): void {
    if (!this.registered || this.#linksUpdatePending || this.#closed) return;
    this.#linksUpdatePending = true;
    queueMicrotask(() => {
      this.#linksUpdatePending = false;
      if (!this.registered || this.#closed) return;
      this.update({ links: true }).catch((e) => this.#updateFailed(e));
    });
  }

  #updateFailed(e: unknown): void {
    if (this.#closed) return;
    this.emit('updateFailed', e instanceof Error ? e : new Error(String(e)));
  }

  #cancelUpdate(): void {
    this.#updateTimer?.cancel();
    this.#updateTimer = undefined;
  }
}
