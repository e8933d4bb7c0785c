/**
 * The server's observations of devices (LwM2M-TS-Core 1.1 §6.4: Observe, Observe-Composite,
 * Cancel Observation, Notify): each kept under a stable ID with what it takes to decode its
 * notifications with the device's model, and to register it again when the device moves.
 */
import { Code } from '../../coap/code.js';
import type { Observation } from '../../coap/observe-client.js';
import type { CoapResponse, RequestParams } from '../../coap/request.js';
import type { Lwm2mModel } from '../model/object-model.js';
import type { Lwm2mNode } from '../node/lwm2m-node.js';
import type { Lwm2mPath } from '../node/lwm2m-path.js';
import type { ServerCoapPort } from './coap-port.js';
import { fromCoapError, Lwm2mError } from './errors.js';
import type { NotificationEvent } from './events.js';
import type { Registration } from './registration.js';
import type { RegistrationStore } from './registration-store.js';
import { decodeCompositeContent } from './requests/composite.js';
import {
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
}

interface ObservationRecord {
  readonly info: { -readonly [K in keyof Lwm2mObservation]: Lwm2mObservation[K] };
  /** A frozen copy of `info` for events, made again only when `info` changed. */
  readonly snapshot: () => Lwm2mObservation;
  /** The CoAP observation; replaced when the device moves (`followMove`). */
  coap: Observation;
  readonly model: Lwm2mModel;
  readonly paths: readonly Lwm2mPath[];
  /** The registering request and listener, to observe again at a new address. */
  readonly params: RequestParams;
  readonly listener: (notification: CoapResponse) => void;
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
    let record: ObservationRecord | undefined;
    const decodeAny = (response: CoapResponse) => {
      if (composite) {
        return { compositeContent: decodeCompositeContent(response, paths, device, format) };
      }
      return { content: decodeContent(response, paths[0]!, device, format) as Lwm2mNode };
    };
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
    const onNotification = (notification: CoapResponse) => {
      if (!record || this.#records.get(record.info.id) !== record) return;
      const info = record.info;
      if (notification.code >> 5 !== 2 || notification.observe === undefined) {
        // RFC 7641 §3.2: an error or a response without Observe ends the observation.
        info.active = false;
        this.#records.delete(info.id);
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
          const info = {
            id: coap.token.toString('hex'),
            registrationId: current.id,
            endpoint: current.endpoint,
            paths: paths.map((p) => p.toString()),
            composite,
            format,
            active: true,
          };
          record = {
            info,
            snapshot: snapshotOf(info),
            coap,
            model: device.model,
            paths,
            params,
            listener: onNotification,
          };
          this.#records.set(record.info.id, record);
        }
        return first;
      });
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
      const observation = record ? { ...(record as ObservationRecord).info } : undefined;
      return new ObserveResponse(
        response.code,
        decoded.content,
        decoded.compositeContent,
        observation,
      );
    } catch (e) {
      if (record) {
        this.#records.delete((record as ObservationRecord).info.id);
        void (record as ObservationRecord).coap.cancel(false);
      }
      throw fromCoapError(e, operation);
    }
  }

  async cancel(
    id: string,
    options: { active?: boolean } = {},
  ): Promise<CancelObservationResponse | undefined> {
    const record = this.#records.get(id);
    if (!record) return undefined;
    this.#records.delete(id);
    record.info.active = false;
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
            // The answer carries the current value: it is reported like a notification.
            record.listener(first);
            return;
          }
          // The device refused at its new address: the observation ends.
          if (this.#records.get(record.info.id) !== record) return;
          this.#records.delete(record.info.id);
          record.info.active = false;
          this.#deps.emit({ observation: { ...record.info }, code: first.code });
        },
        () => {
          if (this.#records.get(record.info.id) !== record) return;
          this.#records.delete(record.info.id);
          record.info.active = false;
        },
      );
    }
  }

  /** A registration ended: its observations end passively (RFC 7641 §3.6: RST on the next). */
  end(registrationId: string): void {
    for (const [id, r] of this.#records) {
      if (r.info.registrationId !== registrationId) continue;
      this.#records.delete(id);
      r.info.active = false;
      void r.coap.cancel(false);
    }
  }

  close(): void {
    this.#closed = true;
    for (const r of this.#records.values()) {
      r.info.active = false;
      void r.coap.cancel(false);
    }
    this.#records.clear();
  }
}

/** Frozen copies of an observation's state; only `active` ever changes. */
function snapshotOf(info: Lwm2mObservation): () => Lwm2mObservation {
  let view: Lwm2mObservation | undefined;
  return () => {
    if (view?.active !== info.active) view = Object.freeze({ ...info });
    return view;
  };
}
