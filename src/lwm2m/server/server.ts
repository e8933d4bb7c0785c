/**
 * The LwM2M server (LwM2M-TS-Core 1.1 §6): the Registration interface, Device Management and
 * Service Enablement, Information Reporting and Send, over a CoAP endpoint that it only knows
 * through `ServerCoapPort`. Every request to a device goes out of the endpoint that the device
 * registered to, to the address it last spoke from; requests to a sleeping queue-mode device
 * wait for it.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { Code } from '../../coap/code.js';
import { CoapTimeoutError } from '../../coap/errors.js';
import type {
  CoapRequest,
  CoapResponse,
  OutgoingResponse,
  RequestParams,
} from '../../coap/request.js';
import type { DatagramPeer } from '../../transport/datagram.js';
import { type Clock, systemClock } from '../../util/clock.js';
import type { Lwm2mModel } from '../model/object-model.js';
import { type ObjectRegistry, omaRegistry } from '../model/object-registry.js';
import type { ServerCoapPort } from './coap-port.js';
import { compositeFormat, preferredFormat } from './content-negotiation.js';
import { fromCoapError, Lwm2mError } from './errors.js';
import type { Lwm2mServerEvents } from './events.js';
import { ObservationRegistry } from './observation-registry.js';
import { atLeast, type Registration } from './registration.js';
import { type RegistrationAuthorizer, RegistrationHandler } from './registration-handler.js';
import { MemoryRegistrationStore, type RegistrationStore } from './registration-store.js';
import { RequestQueue } from './request-queue.js';
import { type CreateRequest, type CreateResponse, createOperation } from './requests/create.js';
import { type DeleteRequest, type DeleteResponse, deleteOperation } from './requests/delete.js';
import {
  type DiscoverRequest,
  type DiscoverResponse,
  discoverOperation,
} from './requests/discover.js';
import { type ExecuteRequest, type ExecuteResponse, executeOperation } from './requests/execute.js';
import {
  buildObserve,
  buildObserveComposite,
  type CancelObservationResponse,
  type Lwm2mObservation,
  type ObserveCompositeRequest,
  type ObserveRequest,
  type ObserveResponse,
} from './requests/observe.js';
import type {
  DeviceContext,
  Lwm2mResponse,
  Operation,
  RequestOptions,
} from './requests/operation.js';
import { type ReadRequest, type ReadResponse, readOperation } from './requests/read.js';
import {
  type ReadCompositeRequest,
  type ReadCompositeResponse,
  readCompositeOperation,
} from './requests/read-composite.js';
import { type WriteRequest, type WriteResponse, writeOperation } from './requests/write.js';
import {
  type WriteAttributesRequest,
  type WriteAttributesResponse,
  writeAttributesOperation,
} from './requests/write-attributes.js';
import {
  type WriteCompositeRequest,
  type WriteCompositeResponse,
  writeCompositeOperation,
} from './requests/write-composite.js';
import { handleSend } from './send-handler.js';

export interface Lwm2mServerOptions {
  readonly endpoint: ServerCoapPort;
  /** Default: registrations in memory. */
  readonly store?: RegistrationStore;
  /** Default: the vendored OMA registry, shared by the process. */
  readonly registry?: ObjectRegistry;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Registration IDs (default random); tests give a predictable one. */
  readonly generateId?: () => string;
  /** Extra time after a lifetime before the registration expires (default 0). */
  readonly lifetimeGraceMs?: number;
  /** Queue mode: time a device stays reachable after it spoke (default 93,000 ms). */
  readonly queueAwakeMs?: number;
  /** Queue mode: default time-to-live of a queued request (default 600,000 ms). */
  readonly queueTtlMs?: number;
  /** Queue mode: most requests waiting for one device (default 64). */
  readonly queueMaxPerDevice?: number;
  /** May a peer register under an endpoint name? (4.03 when not.) Default: every peer may. */
  readonly authorize?: RegistrationAuthorizer;
  /** Install the server as the endpoint's request handler (default true). */
  readonly attachHandler?: boolean;
}

/** Who a request goes to: an endpoint name or a registration. */
export type DeviceTarget = string | Registration;

export class Lwm2mServer extends EventEmitter<Lwm2mServerEvents> {
  readonly store: RegistrationStore;
  readonly registry: ObjectRegistry;
  readonly #endpoint: ServerCoapPort;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #registrations: RegistrationHandler;
  readonly #queue: RequestQueue;
  readonly #models = new Map<string, Lwm2mModel>();
  readonly #observations: ObservationRegistry;
  /** Peer key → endpoint name of the queue-mode devices, for `peerSeen`. */
  readonly #queuePeers = new Map<string, string>();
  /** Rejecters of the requests in flight, by endpoint name. */
  readonly #inflight = new Map<string, Set<(error: Error) => void>>();
  #closed = false;

  constructor(options: Lwm2mServerOptions) {
    super();
    this.#endpoint = options.endpoint;
    this.store = options.store ?? new MemoryRegistrationStore();
    this.registry = options.registry ?? omaRegistry();
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger;
    this.#queue = new RequestQueue({
      clock: this.#clock,
      awakeMs: options.queueAwakeMs ?? 93_000,
      ttlMs: options.queueTtlMs ?? 600_000,
      maxPerDevice: options.queueMaxPerDevice ?? 64,
    });
    this.#observations = new ObservationRegistry({
      endpoint: this.#endpoint,
      store: this.store,
      emit: (event) => this.emit('notification', event),
      whenReachable: (reg, options, start) => this.#whenReachable(reg, options, start),
      deviceContext: (reg) => this.deviceContext(reg),
      now: () => this.#clock.now(),
      logger: this.#logger,
    });
    this.#registrations = new RegistrationHandler({
      store: this.store,
      clock: this.#clock,
      ...(options.generateId ? { generateId: options.generateId } : {}),
      lifetimeGraceMs: options.lifetimeGraceMs ?? 0,
      ...(options.authorize ? { authorize: options.authorize } : {}),
      onRegistered: (event) => {
        if (event.replaced) this.#ended(event.replaced, false);
        this.#trackQueuePeer(undefined, event.registration);
        if (event.registration.queueMode) this.#queue.seen(event.registration.endpoint);
        this.emit('registered', event);
      },
      onUpdated: (event) => {
        this.#trackQueuePeer(event.previous, event.current);
        if (event.current.queueMode) this.#queue.seen(event.current.endpoint);
        // After the Update's 2.04 has gone out.
        if (event.moved) setImmediate(() => this.#observations.followMove(event.current));
        this.emit('updated', event);
      },
      onDeregistered: (registration) => {
        this.#ended(registration, true);
        this.emit('deregistered', registration);
      },
      onExpired: (registration) => {
        this.#ended(registration, true);
        this.emit('expired', registration);
      },
    });
    if (options.attachHandler !== false) this.#endpoint.setHandler(this.handleRequest);
  }

  /**
   * The CoAP request handler of the server's interfaces: `/rd` (Registration) and `/dp`
   * (Send). Mount it in a `CoapRouter` when the endpoint serves other paths too.
   */
  readonly handleRequest = async (
    request: CoapRequest,
    peer: DatagramPeer,
  ): Promise<OutgoingResponse> => {
    if (this.#closed) return { code: Code.ServiceUnavailable };
    const first = request.path[0];
    if (first === 'rd') return this.#registrations.handle(request, peer);
    if (first === 'dp' && request.path.length === 1) {
      return handleSend(request, peer, {
        registrationOf: async (p) => {
          const id = this.#registrations.registrationIdOf(p);
          return id === undefined ? undefined : this.store.getById(id);
        },
        modelOf: (reg) => this.modelOf(reg),
        emit: (event) => this.emit('send', event),
      });
    }
    return { code: Code.NotFound };
  };

  /**
   * Tells the server that `peer` sent something (give it the endpoint's `onPeerSeen`): a
   * sleeping queue-mode device registered from there is awake, and its queued requests go out.
   */
  peerSeen(peer: DatagramPeer): void {
    // A map look-up per datagram: this runs for every notification and response.
    const endpoint = this.#queuePeers.get(peer.key);
    if (endpoint !== undefined) this.#queue.seen(endpoint);
  }

  /** Keeps `#queuePeers` (peer key → endpoint of a queue-mode registration) current. */
  #trackQueuePeer(previous: Registration | undefined, current: Registration | undefined): void {
    if (previous && this.#queuePeers.get(previous.peer.key) === previous.endpoint) {
      this.#queuePeers.delete(previous.peer.key);
    }
    if (current?.queueMode) this.#queuePeers.set(current.peer.key, current.endpoint);
  }

  // ------------------------------------------------------------------ registrations

  async getRegistration(endpoint: string): Promise<Registration | undefined> {
    return this.store.getByEndpoint(endpoint);
  }

  async registrations(): Promise<Registration[]> {
    return this.store.all();
  }

  /**
   * Resumes the registrations that a durable store kept across a restart: their lifetimes go on
   * from the stored times (the expired ones end now, with `expired` events) and requests reach
   * the devices at their stored addresses. A device that spoke over DTLS has lost its session
   * with the restart: it is reached again once it makes a new handshake (its next Update).
   * The observations the store kept of them are taken up again: the devices go on notifying
   * under the same tokens (RFC 7641 §3.2), and those notifications are matched, decoded and
   * emitted as `notification` events as before the restart instead of being answered RST,
   * which would end the observation on the device's side (RFC 7641 §3.6). Until this
   * returns, a notification is unknown: call it right after the endpoint starts.
   * Returns the registrations that are still alive.
   */
  async restore(): Promise<Registration[]> {
    const alive = await this.#registrations.restore();
    for (const registration of alive) this.#trackQueuePeer(undefined, registration);
    const observations = await this.#observations.restore(alive);
    if (observations.length > 0) {
      this.#logger?.info({ observations: observations.length }, 'lwm2m: observations resumed');
    }
    return alive;
  }

  /** Removes a registration on the server's side; emits `deregistered`. */
  async removeRegistration(endpoint: string): Promise<boolean> {
    const reg = await this.store.getByEndpoint(endpoint);
    if (!reg) return false;
    return (await this.#registrations.remove(reg.id)) !== undefined;
  }

  /**
   * Sets the content format used with one device, overriding the default chosen from its
   * version and announced formats; `undefined` goes back to the default.
   */
  async setContentFormat(endpoint: string, format: number | undefined): Promise<Registration> {
    const reg = await this.#resolve(endpoint);
    const updated = await this.#registrations.patch(reg.id, { preferredContentFormat: format });
    if (!updated) throw new Lwm2mError('LWM2M_ERR_NOT_REGISTERED', `${endpoint} is not registered`);
    return updated;
  }

  /** The object model of a device: the object versions it announced (`ver=`). */
  modelOf(registration: Registration): Lwm2mModel {
    const entries = Object.entries(registration.objectVersions).sort(
      (a, b) => Number(a[0]) - Number(b[0]),
    );
    // Devices that announce the same versions share one model (100,000 devices, few models).
    const key = entries.map(([o, v]) => `${o}@${v}`).join(',');
    let model = this.#models.get(key);
    if (!model) {
      model = this.registry.modelFor(new Map(entries.map(([o, v]) => [Number(o), v])));
      this.#models.set(key, model);
    }
    return model;
  }

  /** The formats the server uses with a device, and its model. */
  deviceContext(registration: Registration): DeviceContext {
    return {
      registration,
      model: this.modelOf(registration),
      format: preferredFormat(registration),
      compositeFormat: compositeFormat(registration),
    };
  }

  /** Requests waiting in the queue for a sleeping device. */
  queuedRequests(endpoint: string): number {
    return this.#queue.pending(endpoint);
  }

  // ------------------------------------------------------------------ operations

  read(
    target: DeviceTarget,
    request: ReadRequest,
    options?: RequestOptions,
  ): Promise<ReadResponse> {
    return this.#perform(target, readOperation, request, options);
  }

  discover(
    target: DeviceTarget,
    request: DiscoverRequest,
    options?: RequestOptions,
  ): Promise<DiscoverResponse> {
    return this.#perform(target, discoverOperation, request, options);
  }

  write(
    target: DeviceTarget,
    request: WriteRequest,
    options?: RequestOptions,
  ): Promise<WriteResponse> {
    return this.#perform(target, writeOperation, request, options);
  }

  writeAttributes(
    target: DeviceTarget,
    request: WriteAttributesRequest,
    options?: RequestOptions,
  ): Promise<WriteAttributesResponse> {
    return this.#perform(target, writeAttributesOperation, request, options);
  }

  execute(
    target: DeviceTarget,
    request: ExecuteRequest,
    options?: RequestOptions,
  ): Promise<ExecuteResponse> {
    return this.#perform(target, executeOperation, request, options);
  }

  create(
    target: DeviceTarget,
    request: CreateRequest,
    options?: RequestOptions,
  ): Promise<CreateResponse> {
    return this.#perform(target, createOperation, request, options);
  }

  delete(
    target: DeviceTarget,
    request: DeleteRequest,
    options?: RequestOptions,
  ): Promise<DeleteResponse> {
    return this.#perform(target, deleteOperation, request, options);
  }

  readComposite(
    target: DeviceTarget,
    request: ReadCompositeRequest,
    options?: RequestOptions,
  ): Promise<ReadCompositeResponse> {
    return this.#perform(target, readCompositeOperation, request, options);
  }

  writeComposite(
    target: DeviceTarget,
    request: WriteCompositeRequest,
    options?: RequestOptions,
  ): Promise<WriteCompositeResponse> {
    return this.#perform(target, writeCompositeOperation, request, options);
  }

  /** Observe (LwM2M-TS-Core 1.1 §6.4.1); notifications arrive as `notification` events. */
  async observe(
    target: DeviceTarget,
    request: ObserveRequest,
    options?: RequestOptions,
  ): Promise<ObserveResponse> {
    const reg = await this.#resolve(target);
    const device = this.deviceContext(reg);
    const built = buildObserve(request, device);
    return this.#observations.start(
      reg,
      device,
      built.params,
      [built.path],
      built.format,
      false,
      options,
    );
  }

  /** Observe-Composite (LwM2M-TS-Core 1.1 §6.4.3), LwM2M 1.1 and later. */
  async observeComposite(
    target: DeviceTarget,
    request: ObserveCompositeRequest,
    options?: RequestOptions,
  ): Promise<ObserveResponse> {
    const reg = await this.#resolve(target);
    this.#requireVersion(reg, '1.1', 'Observe-Composite');
    const device = this.deviceContext(reg);
    const built = buildObserveComposite(request, device);
    return this.#observations.start(
      reg,
      device,
      built.params,
      built.paths,
      built.format,
      true,
      options,
    );
  }

  /**
   * Cancel Observation (LwM2M-TS-Core 1.1 §6.4.2). Passive (default): forget it, so that the
   * next notification is answered with RST. Active: send the GET (FETCH) with Observe=1.
   */
  async cancelObservation(
    observation: Lwm2mObservation | string,
    options: { active?: boolean } = {},
  ): Promise<CancelObservationResponse | undefined> {
    return this.#observations.cancel(
      typeof observation === 'string' ? observation : observation.id,
      options,
    );
  }

  /** Cancels every observation of a device (passively, or actively one by one). */
  async cancelObservations(endpoint: string, options: { active?: boolean } = {}): Promise<number> {
    const ids = this.observations(endpoint).map((o) => o.id);
    for (const id of ids) await this.cancelObservation(id, options);
    return ids.length;
  }

  /** Active observations of a device (all devices without an argument). */
  observations(endpoint?: string): Lwm2mObservation[] {
    return this.#observations.list(endpoint);
  }

  /** Stops timers, fails queued requests and forgets observations; the endpoint stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#registrations.close();
    this.#queuePeers.clear();
    this.#queue.clear(new Lwm2mError('LWM2M_ERR_CLOSED', 'server closed'));
    this.#observations.close();
  }

  // ------------------------------------------------------------------ internals

  async #resolve(target: DeviceTarget): Promise<Registration> {
    if (this.#closed) throw new Lwm2mError('LWM2M_ERR_CLOSED', 'server closed');
    const name = typeof target === 'string' ? target : target.endpoint;
    const reg = await this.store.getByEndpoint(name);
    if (!reg) throw new Lwm2mError('LWM2M_ERR_NOT_REGISTERED', `${name} is not registered`);
    return reg;
  }

  #requireVersion(reg: Registration, version: '1.1' | '1.2', operation: string): void {
    // The version the device announced decides what the server may use (LwM2M-TS-Core 1.1
    // §6.2.1: the server uses only operations and formats of that version).
    if (!atLeast(reg, version)) {
      throw new Lwm2mError(
        'LWM2M_ERR_NOT_SUPPORTED',
        `${operation} needs LwM2M ${version}; ${reg.endpoint} registered with ${reg.lwm2mVersion}`,
      );
    }
  }

  async #perform<Req, Res extends Lwm2mResponse>(
    target: DeviceTarget,
    operation: Operation<Req, Res>,
    request: Req,
    options: RequestOptions = {},
  ): Promise<Res> {
    const reg = await this.#resolve(target);
    if (operation.minVersion !== '1.0')
      this.#requireVersion(reg, operation.minVersion, operation.name);
    const device = this.deviceContext(reg);
    const params = operation.build(request, device);
    const response = await this.#send(reg, operation.name, params, options);
    return operation.parse(response, request, device);
  }

  /** Sends now, or when a sleeping queue-mode device shows up, to its current address. */
  #send(
    registration: Registration,
    operation: string,
    params: RequestParams,
    options: RequestOptions,
  ): Promise<CoapResponse> {
    return this.#whenReachable(registration, options, (reg) =>
      this.#endpoint.request(reg.peer, {
        ...params,
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      }),
    ).catch((e) => {
      throw fromCoapError(e, operation);
    });
  }

  /**
   * Runs `start` with the device's current registration once the device is reachable: at once
   * unless it is in queue mode and asleep (LwM2M-TS-Core 1.1 §6.5).
   */
  #whenReachable<T>(
    known: Registration,
    options: RequestOptions,
    start: (reg: Registration) => Promise<T>,
  ): Promise<T> {
    const endpoint = known.endpoint;
    const { signal } = options;
    return new Promise<T>((resolve, reject) => {
      const cancelled = () =>
        new Lwm2mError('LWM2M_ERR_CANCELLED', `the request to ${endpoint} was withdrawn`);
      if (signal?.aborted) {
        reject(cancelled());
        return;
      }
      let withdraw: (() => boolean) | undefined;
      const onAbort = () => {
        if (withdraw?.()) reject(cancelled());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const run = (current: Promise<Registration | undefined>) => {
        signal?.removeEventListener('abort', onAbort);
        // While in flight, the request fails with the registration's end (#ended).
        let inflight = this.#inflight.get(endpoint);
        if (!inflight) {
          inflight = new Set();
          this.#inflight.set(endpoint, inflight);
        }
        const set = inflight;
        set.add(reject);
        const done = () => {
          set.delete(reject);
          if (set.size === 0 && this.#inflight.get(endpoint) === set) {
            this.#inflight.delete(endpoint);
          }
        };
        current
          .then((reg) => {
            if (!reg) {
              throw new Lwm2mError('LWM2M_ERR_CANCELLED', `${endpoint} is no longer registered`);
            }
            options.onSent?.();
            return start(reg).catch((e) => {
              // A queue-mode device that does not answer has gone back to sleep.
              if (reg.queueMode && e instanceof CoapTimeoutError) this.#queue.asleep(endpoint);
              throw e;
            });
          })
          .then(
            (value) => {
              done();
              resolve(value);
            },
            (e) => {
              done();
              reject(e);
            },
          );
      };
      if (!known.queueMode) {
        run(Promise.resolve(known));
        return;
      }
      // A queued request goes to the address the device has when it shows up.
      withdraw = this.#queue.submit(
        endpoint,
        () => run(this.store.getByEndpoint(endpoint)),
        (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
        options.queueTtlMs,
      );
    });
  }

  /** A registration ended: its observations end, and (unless replaced) its queued requests fail. */
  #ended(registration: Registration, dropQueue: boolean): void {
    this.#trackQueuePeer(registration, undefined);
    this.#observations.end(registration.id);
    if (dropQueue) {
      const error = new Lwm2mError(
        'LWM2M_ERR_CANCELLED',
        `${registration.endpoint} is no longer registered`,
      );
      this.#queue.drop(registration.endpoint, error);
      const inflight = this.#inflight.get(registration.endpoint);
      this.#inflight.delete(registration.endpoint);
      for (const reject of inflight ?? []) reject(error);
    }
    this.#logger?.debug({ endpoint: registration.endpoint }, 'lwm2m: registration ended');
  }
}
