/**
 * The LwM2M client's port (`ClientCoapPort`) over the convention (convention.ts), on an MQTT.js
 * client: `Lwm2mClient` with its object enablers, observations and Send then is a managed MQTT
 * device. Register, Update, De-register and Send go out on the device's topic and wait for the
 * answer with their token; the server's requests arrive there and are answered by the client's
 * request handler; an accepted Observe notifies with Notify messages.
 */
import { Code } from '../../coap/code.js';
import { CoapError, CoapTimeoutError } from '../../coap/errors.js';
import type { ServerObservation } from '../../coap/observe-server.js';
import type {
  CoapRequest,
  CoapResponse,
  OutgoingResponse,
  RequestHandler,
  RequestParams,
} from '../../coap/request.js';
import type { DatagramPeer } from '../../transport/datagram.js';
import { type Clock, systemClock, type TimerHandle } from '../../util/clock.js';
import type { ClientCoapPort } from '../client/client.js';
import {
  ConventionError,
  type ConventionMessage,
  coapRequestOf,
  coapResponseOf,
  codeOfResult,
  decodeMessage,
  deviceTopic,
  encodeMessage,
  kindOf,
  notifyMessage,
  Op,
  requestMessage,
  responseFields,
  responseMessage,
  tokenOf,
} from './convention.js';

/** What the port uses of an MQTT.js client. */
export interface MqttClientLike {
  publishAsync(topic: string, payload: Buffer, options: { qos: 0 | 1 | 2 }): Promise<unknown>;
  subscribeAsync(topic: string, options: { qos: 0 | 1 | 2 }): Promise<unknown>;
  on(event: 'message', listener: (topic: string, payload: Buffer) => void): unknown;
  removeListener(event: 'message', listener: (topic: string, payload: Buffer) => void): unknown;
}

export interface MqttClientPortOptions {
  readonly mqtt: MqttClientLike;
  /** The endpoint client name: the topic is `devices/{endpoint}/lwm2m/rd/{endpoint}`. */
  readonly endpoint: string;
  readonly clock?: Clock;
  /** Time to wait for the server's answers (default 93,000 ms). */
  readonly timeoutMs?: number;
  /** QoS of the device's messages (default 1). */
  readonly qos?: 0 | 1 | 2;
}

/** The server as the client sees it: the broker, one peer. */
export const MQTT_SERVER_PEER: DatagramPeer = { key: 'mqtt:server', address: 'mqtt', port: 0 };

/** What the device sends, never the server: nothing to answer when one arrives. */
const DEVICE_OPERATIONS = new Set<number>([
  Op.register,
  Op.update,
  Op.deregister,
  Op.notify,
  Op.send,
]);

interface Pending {
  readonly resolve: (response: CoapResponse) => void;
  readonly reject: (error: Error) => void;
  readonly timer: TimerHandle;
  readonly register: boolean;
}

interface Observed {
  readonly sink: ServerObservation & { active: boolean };
  readonly request: CoapRequest;
}

export class MqttClientPort implements ClientCoapPort {
  readonly #o: MqttClientPortOptions;
  readonly #topic: string;
  readonly #clock: Clock;
  #handler: RequestHandler | undefined;
  readonly #pending = new Map<number, Pending>();
  readonly #observed = new Map<number, Observed>();
  #nextToken = 1;
  #closed = false;
  readonly #onMessage = (topic: string, payload: Buffer) => {
    if (topic !== this.#topic) return;
    this.#received(payload).catch(() => undefined);
  };

  constructor(options: MqttClientPortOptions) {
    this.#o = options;
    this.#topic = deviceTopic(options.endpoint);
    this.#clock = options.clock ?? systemClock;
  }

  /** Subscribes to the device's topic (its requests and answers come there). */
  async start(): Promise<void> {
    this.#o.mqtt.on('message', this.#onMessage);
    await this.#o.mqtt.subscribeAsync(this.#topic, { qos: this.#o.qos ?? 1 });
  }

  setHandler(handler: RequestHandler): void {
    this.#handler = handler;
  }

  request(_server: DatagramPeer, params: RequestParams): Promise<CoapResponse> {
    if (this.#closed) return Promise.reject(new CoapError('COAP_ERR_CLOSED', 'port closed'));
    const token = this.#nextToken;
    this.#nextToken = token >= 0xffffffff ? 1 : token + 1;
    const bytes = encodeMessage(requestMessage(params, token));
    const register =
      params.code === Code.Post && String(params.path ?? '').replace(/^\//, '') === 'rd';
    return new Promise<CoapResponse>((resolve, reject) => {
      const timer = this.#clock.setTimeout(
        () => {
          if (this.#pending.delete(token)) reject(new CoapTimeoutError());
        },
        params.timeoutMs ?? this.#o.timeoutMs ?? 93_000,
      );
      this.#pending.set(token, { resolve, reject, timer, register });
      this.#publish(bytes).catch((e: unknown) => {
        if (!this.#pending.delete(token)) return;
        this.#clock.clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      });
    });
  }

  acceptObserve(request: CoapRequest, peer: DatagramPeer): ServerObservation {
    const token = Number(request.token.readBigUInt64BE());
    const observed = this.#observed;
    const publish = (bytes: Buffer) => this.#publish(bytes).catch(() => undefined);
    const sink = {
      peer,
      token: request.token,
      active: true,
      onCancel: undefined as (() => void) | undefined,
      notify(response: OutgoingResponse) {
        if (!sink.active) return;
        void publish(notifyMessage(token, response));
        // RFC 7641 §4.2: a notification with an error code ends the observation.
        if (response.code >> 5 !== 2) sink.cancel();
      },
      cancel() {
        if (!sink.active) return;
        sink.active = false;
        if (observed.get(token)?.sink === sink) observed.delete(token);
        sink.onCancel?.();
      },
    };
    this.#observed.get(token)?.sink.cancel();
    this.#observed.set(token, { sink, request });
    return sink;
  }

  close(): void {
    this.#closed = true;
    this.#o.mqtt.removeListener('message', this.#onMessage);
    for (const [token, p] of this.#pending) {
      this.#pending.delete(token);
      this.#clock.clearTimeout(p.timer);
      p.reject(new CoapError('COAP_ERR_CLOSED', 'port closed'));
    }
    for (const { sink } of [...this.#observed.values()]) sink.cancel();
  }

  async #received(payload: Buffer): Promise<void> {
    let token: number | undefined;
    try {
      const message = decodeMessage(payload);
      token = tokenOf(message);
      const kind = kindOf(message);
      if ('result' in kind) {
        this.#answered(token, responseFields(message));
        return;
      }
      // The device's own operations come back only as its will, delivered by the broker.
      if (DEVICE_OPERATIONS.has(kind.request)) return;
      const response = await this.#handle(kind.request, message, token);
      await this.#publish(responseMessage(token, response));
    } catch (e) {
      if (!(e instanceof ConventionError) || this.#closed) return;
      await this.#publish(
        responseMessage(token, {
          code: codeOfResult(e.result) ?? Code.BadRequest,
          payload: e.message,
        }),
      );
    }
  }

  async #handle(op: number, message: ConventionMessage, token: number): Promise<OutgoingResponse> {
    const handler = this.#handler;
    if (!handler) return { code: Code.ServiceUnavailable };
    if (op === Op.cancelObserve) {
      // §8.3.4: Cancel-Observe names the observation by its token; like a GET with Observe=1
      // (RFC 7641 §3.6) it is answered with the current value.
      const observed = this.#observed.get(token);
      if (!observed) return { code: Code.NotFound };
      observed.sink.cancel();
      return handler({ ...observed.request, observe: undefined }, MQTT_SERVER_PEER);
    }
    const request = coapRequestOf(message, op, { endpoint: this.#o.endpoint });
    return handler(request, MQTT_SERVER_PEER);
  }

  #answered(token: number, fields: ReturnType<typeof responseFields>): void {
    const pending = this.#pending.get(token);
    if (!pending) return;
    this.#pending.delete(token);
    this.#clock.clearTimeout(pending.timer);
    // The client keeps the registration's location for its Update and De-register; the
    // topic names the registration, so the location is the endpoint's own.
    const locationPath =
      pending.register && fields.code === Code.Created
        ? ['rd', this.#o.endpoint]
        : fields.locationPath;
    pending.resolve(coapResponseOf({ ...fields, locationPath }, MQTT_SERVER_PEER));
  }

  #publish(bytes: Buffer): Promise<unknown> {
    return this.#o.mqtt.publishAsync(this.#topic, bytes, { qos: this.#o.qos ?? 1 });
  }
}
