/**
 * The LwM2M server's `ServerCoapPort` over the convention (convention.ts): requests to a device
 * are published on its topic and answered by a message with the same token; the device's
 * Register, Update, De-register and Send reach the server's request handler as the CoAP
 * requests they map to; Observe is an observation keyed by its token, fed by Notify.
 */
import type { Logger } from 'pino';
import { Code } from '../../coap/code.js';
import { CoapError, CoapTimeoutError } from '../../coap/errors.js';
import type {
  NotificationListener,
  Observation,
  ObservationHandle,
} from '../../coap/observe-client.js';
import type { CoapResponse, RequestHandler, RequestParams } from '../../coap/request.js';
import type { ServerPublish } from '../../mqtt/broker.js';
import type { DatagramPeer } from '../../transport/datagram.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { ServerCoapPort } from '../server/coap-port.js';
import {
  type ConventionMessage,
  cancelObserveMessage,
  coapRequestOf,
  coapResponseOf,
  contentOf,
  deviceTopic,
  encodeMessage,
  notifyCode,
  Op,
  requestMessage,
  responseFields,
  responseMessage,
  tokenBytes,
} from './convention.js';

const PEER_PREFIX = 'mqtt:';

interface Pending {
  readonly resolve: (response: CoapResponse) => void;
  readonly reject: (error: Error) => void;
  timer: TimerHandle | undefined;
}

interface ObserveRecord {
  readonly listener: NotificationListener;
  seq: number;
  active: boolean;
}

/** What the port knows of a device's MQTT client: its endpoint and registration. */
interface ClientState {
  endpoint: string;
  /** `['rd', id]` once a Register was answered 2.01. */
  registrationPath: readonly string[] | undefined;
}

export interface MqttServerPortOptions {
  readonly publish: (message: ServerPublish) => Promise<void>;
  readonly clock: Clock;
  /** Time to wait for an answer when the request gives none (default 93 s). */
  readonly timeoutMs: number;
  /** QoS of the messages to devices. */
  readonly qos: 0 | 1 | 2;
  readonly logger?: Logger;
}

export class MqttServerPort implements ServerCoapPort {
  readonly #o: MqttServerPortOptions;
  #handler: RequestHandler | undefined;
  /** Requests waiting for their answer, by `peerKey|token`. */
  readonly #pending = new Map<string, Pending>();
  readonly #observations = new Map<string, ObserveRecord>();
  readonly #clients = new Map<string, ClientState>();
  #nextToken = 1;
  #closed = false;

  constructor(options: MqttServerPortOptions) {
    this.#o = options;
  }

  setHandler(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /** The peer key of an MQTT client: `mqtt:<clientId>`. */
  static peerKey(clientId: string): string {
    return `${PEER_PREFIX}${clientId}`;
  }

  /** The MQTT client id of a peer key (undefined for a peer of another transport). */
  static clientIdOf(peerKey: string): string | undefined {
    return peerKey.startsWith(PEER_PREFIX) ? peerKey.slice(PEER_PREFIX.length) : undefined;
  }

  request(peer: DatagramPeer, params: RequestParams): Promise<CoapResponse> {
    const token = this.#token();
    return this.#exchange(peer, token, requestMessage(params, token), params.timeoutMs);
  }

  observe(peer: DatagramPeer, params: RequestParams, listener: NotificationListener): Observation {
    const { handle, send } = this.#track(peer, this.#token(), params, listener);
    return Object.assign(handle, { response: send() });
  }

  /**
   * Listens again for the Notify messages of an observation the device accepted before a
   * restart, without publishing anything; its token is never handed out again.
   */
  resumeObservation(
    peer: DatagramPeer,
    token: Buffer,
    params: RequestParams,
    listener: NotificationListener,
  ): ObservationHandle {
    const value = Number(token.readBigUInt64BE(Math.max(0, token.length - 8)));
    if (value >= this.#nextToken && value < 0xffffffff) this.#nextToken = value + 1;
    return this.#track(peer, value, params, listener).handle;
  }

  #track(peer: DatagramPeer, token: number, params: RequestParams, listener: NotificationListener) {
    const key = `${peer.key}|${token}`;
    const record: ObserveRecord = { listener, seq: 0, active: true };
    this.#observations.set(key, record);
    const send = () =>
      this.#exchange(peer, token, requestMessage(params, token, true), params.timeoutMs).then(
        (first) => {
          // RFC 7641 §3.2: an answer other than 2.05 means no observation.
          if (first.code !== Code.Content) {
            record.active = false;
            this.#observations.delete(key);
            return first;
          }
          return { ...first, observe: record.seq++ };
        },
        (e: unknown) => {
          record.active = false;
          this.#observations.delete(key);
          throw e;
        },
      );
    const handle: ObservationHandle = {
      token: tokenBytes(token),
      peer,
      get active() {
        return record.active;
      },
      cancel: async (active = false) => {
        if (!record.active) return undefined;
        record.active = false;
        this.#observations.delete(key);
        if (!active) return undefined;
        // §8.3.4: Cancel-Observe carries the observation's token.
        return this.#exchange(peer, token, undefined, params.timeoutMs);
      },
      reregister: () => {
        record.active = true;
        this.#observations.set(key, record);
        return send();
      },
    };
    return { handle, send };
  }

  /** A device's message on its topic; answers what needs an answer. */
  async received(
    peer: DatagramPeer,
    endpoint: string,
    message: ConventionMessage,
    kind: { request: number } | { result: number },
    token: number,
  ): Promise<void> {
    let state = this.#clients.get(peer.key);
    if (!state || state.endpoint !== endpoint) {
      state = { endpoint, registrationPath: undefined };
      this.#clients.set(peer.key, state);
    }
    if ('result' in kind) {
      this.#answered(peer, message, token);
      return;
    }
    if (kind.request === Op.notify) {
      this.#notified(peer, endpoint, message, token);
      return;
    }
    const handler = this.#handler;
    if (!handler || this.#closed) {
      await this.#publish(endpoint, responseMessage(token, { code: Code.ServiceUnavailable }));
      return;
    }
    const request = coapRequestOf(message, kind.request, {
      endpoint,
      ...(state.registrationPath ? { registrationPath: state.registrationPath } : {}),
    });
    const response = await handler(request, peer);
    if (kind.request === Op.register && response.code === Code.Created && response.locationPath) {
      state.registrationPath = [...response.locationPath];
    }
    if (kind.request === Op.deregister && response.code === Code.Deleted) {
      state.registrationPath = undefined;
    }
    await this.#publish(endpoint, responseMessage(token, response));
  }

  /** Answers a message that cannot be handled, on the endpoint's topic. */
  async refuse(endpoint: string, token: number | undefined, code: number, text: string) {
    await this.#publish(endpoint, responseMessage(token, { code, payload: text }));
  }

  /**
   * A registration kept across a restart: requests reach its client on its topic, and its
   * Update and De-register name the registration again, before it speaks.
   */
  resume(peerKey: string, endpoint: string, registrationId: string): void {
    this.#clients.set(peerKey, { endpoint, registrationPath: ['rd', registrationId] });
  }

  /** The client is gone for good (its registration ended): forget what the port kept. */
  forget(peerKey: string): void {
    this.#clients.delete(peerKey);
  }

  close(): void {
    this.#closed = true;
    const error = new CoapError('COAP_ERR_CLOSED', 'server closed');
    for (const [key, p] of this.#pending) {
      this.#pending.delete(key);
      if (p.timer) this.#o.clock.clearTimeout(p.timer);
      p.reject(error);
    }
    for (const r of this.#observations.values()) r.active = false;
    this.#observations.clear();
  }

  #token(): number {
    const t = this.#nextToken;
    // Tokens stay unsigned 32-bit integers (§8.3: only unambiguous, no randomness needed).
    this.#nextToken = t >= 0xffffffff ? 1 : t + 1;
    return t;
  }

  /** Publishes a request (or, without `message`, a Cancel-Observe) and waits for its answer. */
  #exchange(
    peer: DatagramPeer,
    token: number,
    message: ConventionMessage | undefined,
    timeoutMs: number | undefined,
  ): Promise<CoapResponse> {
    if (this.#closed) return Promise.reject(new CoapError('COAP_ERR_CLOSED', 'server closed'));
    const endpoint = this.#clients.get(peer.key)?.endpoint;
    if (endpoint === undefined) {
      return Promise.reject(new CoapTimeoutError(`no MQTT client ${peer.key}`));
    }
    const key = `${peer.key}|${token}`;
    return new Promise<CoapResponse>((resolve, reject) => {
      const pending: Pending = { resolve, reject, timer: undefined };
      pending.timer = this.#o.clock.setTimeout(() => {
        if (this.#pending.get(key) !== pending) return;
        this.#pending.delete(key);
        reject(new CoapTimeoutError(`no answer from ${endpoint} (token ${token})`));
      }, timeoutMs ?? this.#o.timeoutMs);
      this.#pending.set(key, pending);
      const bytes = message ? encodeMessage(message) : cancelObserveMessage(token);
      this.#publish(endpoint, bytes).catch((e: unknown) => {
        if (this.#pending.get(key) !== pending) return;
        this.#pending.delete(key);
        if (pending.timer) this.#o.clock.clearTimeout(pending.timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      });
    });
  }

  #answered(peer: DatagramPeer, message: ConventionMessage, token: number): void {
    const key = `${peer.key}|${token}`;
    const pending = this.#pending.get(key);
    if (!pending) {
      // A late answer (after its timeout) or one to nothing: dropped, as CoAP drops it.
      this.#o.logger?.debug({ peer: peer.key, token }, 'lwm2m-mqtt: answer to no request');
      return;
    }
    this.#pending.delete(key);
    if (pending.timer) this.#o.clock.clearTimeout(pending.timer);
    let fields: ReturnType<typeof responseFields>;
    try {
      fields = responseFields(message);
    } catch (e) {
      pending.reject(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    pending.resolve(coapResponseOf(fields, peer));
  }

  #notified(peer: DatagramPeer, endpoint: string, message: ConventionMessage, token: number): void {
    const record = this.#observations.get(`${peer.key}|${token}`);
    if (!record?.active) {
      // RFC 7641 §3.6: a notification nobody waits for is rejected (RST in CoAP); here the
      // device is told with a Cancel-Observe of that token.
      this.#publish(endpoint, cancelObserveMessage(token)).catch(() => undefined);
      return;
    }
    const code = notifyCode(message);
    const ended = code !== Code.Content;
    if (ended) {
      record.active = false;
      this.#observations.delete(`${peer.key}|${token}`);
    }
    record.listener({
      ...coapResponseOf({ code, ...contentOf(message), locationPath: [] }, peer),
      // RFC 7641 §3.2: an error notification (no Observe option) ends the observation.
      observe: ended ? undefined : record.seq++,
    });
  }

  #publish(endpoint: string, payload: Buffer): Promise<void> {
    return this.#o.publish({ topic: deviceTopic(endpoint), payload, qos: this.#o.qos });
  }
}
