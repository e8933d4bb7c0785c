/**
 * The server's observations of devices (LwM2M-TS-Core 1.1 §6.4: Observe, Observe-Composite,
 * Cancel Observation, Notify): each kept under a stable ID with what it takes to decode its
 * notifications with the device's model, and to register it again when the device moves.
 * Each observation the device accepted is also kept in the registration store, so that a
 * restarted server takes it up again (`restore`) and the device's notifications, which go on
 * under the same token (RFC 7641 §3.2), are matched instead of answered RST (§3.6).
 */
import type { Logger } from 'pino';
import { Code } from '../../coap/code.js';
import type { ObservationHandle } from '../../coap/observe-client.js';
import type { CoapResponse, RequestParams } from '../../coap/request.js';
import type { Lwm2mModel } from '../model/object-model.js';
import type { Lwm2mNode } from '../node/lwm2m-node.js';
import type { Lwm2mPath } from '../node/lwm2m-path.js';
import type { ServerCoapPort } from './coap-port.js';
import { fromCoapError, Lwm2mError } from './errors.js';
import type { NotificationEvent } from './events.js';
import type { Registration } from './registration.js';
import type { RegistrationStore, StoredObservation } from './registration-store.js';
import { decodeCompositeContent } from './requests/composite.js';
import {
  buildObserve,
  buildObserveComposite,
  CancelObservationResponse,
  checkObserveCode,
  type Lwm2mObservation,
  ObserveResponse,
} from './requests/observe.js';
import {
  checkCode,
  type DeviceContext,
  decodeContent,
  decodeTimestampedContent,
  errorMessageOf,
  type RequestOptions,
} from './requests/operation.js';
import { READ_CODES } from './requests/read.js';

/** Runs `start` once the device is reachable (queue mode), failing with the registration. */
export type WhenReachable = <T>(
  registration: Registration,
  options: RequestOptions,
  start: (current: Registration) => Promise<T>,
) => Promise<T>;

export interface ObservationRegistryDeps {
  readonly endpoint: ServerCoapPort;
  readonly store: RegistrationStore;
  readonly emit: (event: NotificationEvent) => void;
  readonly whenReachable: WhenReachable;
  readonly deviceContext: (registration: Registration) => DeviceContext;
  readonly now: () => number;
  readonly logger?: Logger | undefined;
}

interface ObservationRecord {
  readonly info: { -readonly [K in keyof Lwm2mObservation]: Lwm2mObservation[K] };
  /** A frozen copy of `info` for events, made again only when `info` changed. */
  readonly snapshot: () => Lwm2mObservation;
  /** The CoAP observation; replaced when the device moves (`followMove`). */
  coap: ObservationHandle;
  readonly model: Lwm2mModel;
  readonly paths: readonly Lwm2mPath[];
  /** The registering request and listener, to observe again at a new address. */
  readonly params: RequestParams;
  readonly listener: (notification: CoapResponse) => void;
  readonly createdAt: number;
}

/** The record a notification listener belongs to, set once the device accepted. */
interface RecordRef {
  record?: ObservationRecord;
}

export class ObservationRegistry {
  readonly #deps: ObservationRegistryDeps;
  readonly #records = new Map<string, ObservationRecord>();
  #closed = false;

  constructor(deps: ObservationRegistryDeps) {
    this.#deps = deps;
  }

  /** Observe or Observe-Composite: sends the registration and keeps the observation. */
  async start(
    reg: Registration,
    device: DeviceContext,
    params: RequestParams,
    paths: readonly Lwm2mPath[],
    format: number,
    composite: boolean,
    options: RequestOptions = {},
  ): Promise<ObserveResponse> {
    const operation = composite ? 'Observe-Composite' : 'Observe';
    const ref: RecordRef = {};
    const decodeAny = (response: CoapResponse) => {
      if (composite) {
        return { compositeContent: decodeCompositeContent(response, paths, device, format) };
      }
      return { content: decodeContent(response, paths[0]!, device, format) as Lwm2mNode };
    };
    const onNotification = this.#listener(ref, device, paths, format, composite);
    try {
      const response = await this.#deps.whenReachable(reg, options, async (current) => {
        const coap = this.#deps.endpoint.observe(
          current.peer,
          {
            ...params,
            ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          },
          onNotification,
        );
        const first = await coap.response;
        if (first.code === Code.Content && first.observe !== undefined && coap.active) {
          ref.record = this.#keep(
            coap.token.toString('hex'),
            current,
            { paths, composite, format, params },
            device.model,
            coap,
            onNotification,
            this.#deps.now(),
          );
        }
        return first;
      });
      // RFC 7641 §3.1: the device accepted (2.05 with Observe): kept for a restart too.
      if (ref.record) await this.#persist(ref.record);
      checkObserveCode(composite, response.code);
      if (response.code !== Code.Content) {
        return new ObserveResponse(
          response.code,
          undefined,
          undefined,
          undefined,
          errorMessageOf(response),
        );
      }
      const decoded = decodeAny(response);
      const observation = ref.record ? { ...ref.record.info } : undefined;
      return new ObserveResponse(
        response.code,
        decoded.content,
        decoded.compositeContent,
        observation,
      );
    } catch (e) {
      if (ref.record) {
        this.#forget(ref.record);
        void ref.record.coap.cancel(false);
      }
      throw fromCoapError(e, operation);
    }
  }

  /**
   * Takes up the observations the store kept of these registrations (the live ones after a
   * restart), without a word to the devices: each listens again for its token at the
   * registration's address, its sequence numbers fresh (RFC 7641 §3.4), its request rebuilt
   * from its paths and format for Cancel Observation and for a move. Returns them.
   */
  async restore(registrations: readonly Registration[]): Promise<Lwm2mObservation[]> {
    const byId = new Map(registrations.map((r) => [r.id, r]));
    const restored: Lwm2mObservation[] = [];
    for (const stored of await this.#deps.store.observations()) {
      const reg = byId.get(stored.registrationId);
      if (this.#closed || !reg || this.#records.has(stored.id)) continue;
      const device = this.#deps.deviceContext(reg);
      let built: { params: RequestParams; paths: readonly Lwm2mPath[] };
      try {
        if (stored.composite) {
          built = buildObserveComposite({ paths: stored.paths, format: stored.format }, device);
        } else {
          const one = buildObserve({ path: stored.paths[0]!, format: stored.format }, device);
          built = { params: one.params, paths: [one.path] };
        }
      } catch (e) {
        if (!(e instanceof Lwm2mError)) throw e;
        // A record this server cannot make a request of again is dropped.
        this.#deps.logger?.warn({ err: e, observation: stored.id }, 'lwm2m: observation dropped');
        await this.#deps.store.removeObservation(stored.id);
        continue;
      }
      const ref: RecordRef = {};
      const listener = this.#listener(ref, device, built.paths, stored.format, stored.composite);
      const coap = this.#deps.endpoint.resumeObservation(
        reg.peer,
        Buffer.from(stored.token, 'hex'),
        built.params,
        listener,
      );
      ref.record = this.#keep(
        stored.id,
        reg,
        { ...built, composite: stored.composite, format: stored.format },
        device.model,
        coap,
        listener,
        stored.createdAt,
      );
      restored.push({ ...ref.record.info });
    }
    return restored;
  }

  /** The listener of an observation's notifications: decodes them into `notification` events. */
  #listener(
    ref: RecordRef,
    device: DeviceContext,
    paths: readonly Lwm2mPath[],
    format: number,
    composite: boolean,
  ): (notification: CoapResponse) => void {
    /** The `notification` event of a 2.05 notification of this observation. */
    const notificationEvent = (
      observation: Lwm2mObservation,
      response: CoapResponse,
    ): NotificationEvent => {
      const code = response.code;
      if (composite) {
        const compositeContent = decodeCompositeContent(response, paths, device, format);
        return { observation, code, compositeContent };
      }
      // LwM2M-TS-Core 1.1 §7.4.4: a SenML notification may carry several timestamped values
      // (notification storing while the server was unreachable, Appendix E.2 resource 6).
      const nodes = decodeTimestampedContent(response, paths[0]!, device, format);
      if (nodes.length === 1 && nodes[0]!.time === undefined) {
        return { observation, code, content: nodes[0]!.node };
      }
      const current = nodes.find((n) => n.time === undefined) ?? nodes[nodes.length - 1]!;
      return { observation, code, content: current.node, timestamped: nodes };
    };
    return (notification: CoapResponse) => {
      const record = ref.record;
      if (!record || this.#records.get(record.info.id) !== record) return;
      if (notification.code >> 5 !== 2 || notification.observe === undefined) {
        // RFC 7641 §3.2: an error or a response without Observe ends the observation.
        this.#forget(record);
      }
      // Listeners see a frozen copy, the same one while the observation is unchanged.
      const observation = record.snapshot();
      if (notification.code !== Code.Content) {
        this.#deps.emit({ observation, code: notification.code });
        return;
      }
      let event: NotificationEvent;
      try {
        event = notificationEvent(observation, notification);
      } catch (e) {
        if (!(e instanceof Lwm2mError)) throw e;
        // A notification that does not decode is reported; the observation goes on.
        this.#deps.emit({ observation, code: notification.code, error: e });
        return;
      }
      this.#deps.emit(event);
    };
  }

  /** Keeps an observation the device accepted, under its ID. */
  #keep(
    id: string,
    reg: Registration,
    request: {
      paths: readonly Lwm2mPath[];
      composite: boolean;
      format: number;
      params: RequestParams;
    },
    model: Lwm2mModel,
    coap: ObservationHandle,
    listener: (notification: CoapResponse) => void,
    createdAt: number,
  ): ObservationRecord {
    const info = {
      id,
      registrationId: reg.id,
      endpoint: reg.endpoint,
      paths: request.paths.map((p) => p.toString()),
      composite: request.composite,
      format: request.format,
      active: true,
    };
    const record: ObservationRecord = {
      info,
      snapshot: snapshotOf(info),
      coap,
      model,
      paths: request.paths,
      params: request.params,
      listener,
      createdAt,
    };
    this.#records.set(id, record);
    return record;
  }

  /** Writes an observation (its current token) to the store. */
  async #persist(record: ObservationRecord): Promise<void> {
    const current = () => this.#records.get(record.info.id) === record;
    // An error notification or a cancel may have ended it already.
    if (!current()) return;
    try {
      const kept = await this.#deps.store.addObservation(storedOf(record));
      if (!kept) {
        // The registration ended meanwhile, and with it the observation (LwM2M-TS-Core 1.2 §6.3).
        if (!current()) return;
        this.#records.delete(record.info.id);
        record.info.active = false;
        void record.coap.cancel(false);
      } else if (!current()) {
        // It ended while being written: its record goes too.
        await this.#deps.store.removeObservation(record.info.id);
      }
    } catch (err) {
      // The observation goes on in this process; only a restart would lose it.
      this.#deps.logger?.warn(
        { err, observation: record.info.id },
        'lwm2m: an observation could not be stored',
      );
    }
  }

  /** The observation ended: forgotten here and in the store. */
  #forget(record: ObservationRecord): void {
    record.info.active = false;
    if (this.#records.get(record.info.id) === record) this.#records.delete(record.info.id);
    this.#deps.store.removeObservation(record.info.id).catch((err: unknown) => {
      this.#deps.logger?.warn(
        { err, observation: record.info.id },
        'lwm2m: an ended observation could not be removed from the store',
      );
    });
  }

  async cancel(
    id: string,
    options: { active?: boolean } = {},
  ): Promise<CancelObservationResponse | undefined> {
    const record = this.#records.get(id);
    if (!record) return undefined;
    // LwM2M-TS-Core 1.2 §6.3.4 (Cancel Observation), passive or active: the record goes.
    this.#forget(record);
    try {
      const response = await record.coap.cancel(options.active ?? false);
      if (!response) return undefined;
      checkCode('Cancel Observation', response.code, READ_CODES);
      if (response.code !== Code.Content || record.info.composite) {
        return new CancelObservationResponse(response.code, undefined, errorMessageOf(response));
      }
      const reg = await this.#deps.store.getById(record.info.registrationId);
      const content = reg
        ? decodeContent(
            response,
            record.paths[0]!,
            { ...this.#deps.deviceContext(reg), model: record.model },
            record.info.format,
          )
        : undefined;
      return new CancelObservationResponse(response.code, content);
    } catch (e) {
      throw fromCoapError(e, 'Cancel Observation');
    }
  }

  /** The active observations of a device (of all devices without an argument). */
  list(endpoint?: string): Lwm2mObservation[] {
    const out: Lwm2mObservation[] = [];
    for (const r of this.#records.values()) {
      if (endpoint === undefined || r.info.endpoint === endpoint) out.push({ ...r.info });
    }
    return out;
  }

  /**
   * The device moved (an Update from a new address, LwM2M-TS-Core 1.1 §6.2.2): its
   * notifications now come from there, and the CoAP layer matches them by address and token
   * (RFC 7252 §5.3.2), so each observation is registered again at the new address under the
   * same observation ID; the old one is forgotten (its notifications get RST, RFC 7641 §3.6).
   */
  followMove(registration: Registration): void {
    if (this.#closed) return;
    for (const record of this.#records.values()) {
      if (record.info.registrationId !== registration.id) continue;
      const old = record.coap;
      void old.cancel(false);
      const coap = this.#deps.endpoint.observe(registration.peer, record.params, record.listener);
      record.coap = coap;
      coap.response.then(
        (first) => {
          if (first.code === Code.Content && first.observe !== undefined) {
            // The notifications now carry the new token: the store keeps that one.
            if (this.#records.get(record.info.id) === record) void this.#persist(record);
            // The answer carries the current value: it is reported like a notification.
            record.listener(first);
            return;
          }
          // The device refused at its new address: the observation ends.
          if (this.#records.get(record.info.id) !== record) return;
          this.#forget(record);
          this.#deps.emit({ observation: { ...record.info }, code: first.code });
        },
        () => {
          if (this.#records.get(record.info.id) !== record) return;
          this.#forget(record);
        },
      );
    }
  }

  /**
   * A registration ended: its observations end passively (RFC 7641 §3.6: RST on the next). The
   * store removed their records with the registration (LwM2M-TS-Core 1.2 §6.3).
   */
  end(registrationId: string): void {
    for (const [id, r] of this.#records) {
      if (r.info.registrationId !== registrationId) continue;
      this.#records.delete(id);
      r.info.active = false;
      void r.coap.cancel(false);
    }
  }

  /** Stops listening; the store keeps the observations for the next start (`restore`). */
  close(): void {
    this.#closed = true;
    for (const r of this.#records.values()) {
      r.info.active = false;
      void r.coap.cancel(false);
    }
    this.#records.clear();
  }
}

function storedOf(record: ObservationRecord): StoredObservation {
  const { info } = record;
  return {
    id: info.id,
    token: record.coap.token.toString('hex'),
    registrationId: info.registrationId,
    endpoint: info.endpoint,
    paths: info.paths,
    composite: info.composite,
    format: info.format,
    createdAt: record.createdAt,
  };
}

/** Frozen copies of an observation's state; only `active` ever changes. */
function snapshotOf(info: Lwm2mObservation): () => Lwm2mObservation {
  let view: Lwm2mObservation | undefined;
  return () => {
    if (view?.active !== info.active) view = Object.freeze({ ...info });
    return view;
  };
}
