/**
 * The LwM2M server of managed MQTT devices (docs/lwm2m-over-mqtt.md): the `Lwm2mServer`
 * (registrations, operations, observations, Send, queue mode) over the convention's topics
 * instead of CoAP, so that the hub runs the same code for both kinds of device. It knows the
 * broker through `publish` and the three calls that the broker's hooks make, all needed:
 * `handlePublish` (from `authorizePublish`, before routing), `clientConnected` (`onConnect`)
 * and `clientDisconnected` (`onDisconnect`).
 *
 * A device is reachable while its MQTT connection is open. A request to a registered device
 * that is not connected (it disconnected, cleanly or by keep-alive loss, and its registration
 * lives on) waits in a queue with a time-to-live until the device is back: connected with its
 * session (its subscription) present, or speaking again.
 */
import type { Logger } from 'pino';
import { Code } from '../../coap/code.js';
import type { ServerPublish } from '../../mqtt/broker.js';
import type { MqttMessage } from '../../mqtt/message.js';
import type { ClientInfo } from '../../mqtt/options.js';
import { ReasonCode } from '../../mqtt/reason-codes.js';
import type { DatagramPeer } from '../../transport/datagram.js';
import { systemClock } from '../../util/clock.js';
import { Lwm2mError } from '../server/errors.js';
import type { Registration } from '../server/registration.js';
import { RequestQueue } from '../server/request-queue.js';
import type { CreateRequest, CreateResponse } from '../server/requests/create.js';
import type { DeleteRequest, DeleteResponse } from '../server/requests/delete.js';
import type { DiscoverRequest, DiscoverResponse } from '../server/requests/discover.js';
import type { ExecuteRequest, ExecuteResponse } from '../server/requests/execute.js';
import type {
  ObserveCompositeRequest,
  ObserveRequest,
  ObserveResponse,
} from '../server/requests/observe.js';
import type { RequestOptions } from '../server/requests/operation.js';
import type { ReadRequest, ReadResponse } from '../server/requests/read.js';
import type {
  ReadCompositeRequest,
  ReadCompositeResponse,
} from '../server/requests/read-composite.js';
import type { WriteRequest, WriteResponse } from '../server/requests/write.js';
import type {
  WriteAttributesRequest,
  WriteAttributesResponse,
} from '../server/requests/write-attributes.js';
import type {
  WriteCompositeRequest,
  WriteCompositeResponse,
} from '../server/requests/write-composite.js';
import { type DeviceTarget, Lwm2mServer, type Lwm2mServerOptions } from '../server/server.js';
import {
  ConventionError,
  type ConventionMessage,
  codeOfResult,
  decodeMessage,
  Key,
  kindOf,
  parseTopic,
  tokenOf,
} from './convention.js';
import { MqttServerPort } from './server-port.js';

export interface MqttLwm2mServerOptions
  extends Omit<Lwm2mServerOptions, 'endpoint' | 'attachHandler' | 'authorize'> {
  /** Publishes as the server (`MqttBroker.publish`). */
  readonly publish: (message: ServerPublish) => Promise<void>;
  /**
   * May this MQTT client speak for this endpoint (the hub: its login owns the device)?
   * Default: every client.
   */
  readonly authorize?: (client: ClientInfo, endpoint: string) => boolean;
  /** Largest message accepted from a device (default 256 KiB); a larger one is answered 4.13. */
  readonly maxMessageBytes?: number;
  /** Time to wait for a device's answer when the request gives none (default 93,000 ms). */
  readonly requestTimeoutMs?: number;
  /** QoS of the messages to devices (default 1: a persistent session keeps them). */
  readonly qos?: 0 | 1 | 2;
}

/** MQTT 5.0 §3.4.2.1: 0x90 Topic Name invalid. */
const TOPIC_NAME_INVALID = 0x90;

export class MqttLwm2mServer extends Lwm2mServer {
  readonly #port: MqttServerPort;
  readonly #authorize: ((client: ClientInfo, endpoint: string) => boolean) | undefined;
  readonly #maxBytes: number;
  readonly #logger: Logger | undefined;
  /** Devices not connected: their requests wait here (awake = connected). */
  readonly #offline: RequestQueue;
  /** The connections the broker has accepted (onConnect), by `connectionKey`. */
  readonly #connected = new Set<string>();
  /** The will on its device topic of each connected client. */
  readonly #wills = new Map<string, { endpoint: string; payload: Buffer }>();
  /** Each client's messages still being handled, the last one's promise. */
  readonly #chains = new Map<string, Promise<void>>();
  /** MQTT client id → the endpoint it speaks for. */
  readonly #endpointOf = new Map<string, string>();

  constructor(options: MqttLwm2mServerOptions) {
    const clock = options.clock ?? systemClock;
    const port = new MqttServerPort({
      publish: options.publish,
      clock,
      timeoutMs: options.requestTimeoutMs ?? 93_000,
      qos: options.qos ?? 1,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    const { publish: _p, authorize: _a, maxMessageBytes: _m, ...lwm2m } = options;
    super({ ...lwm2m, endpoint: port });
    this.#port = port;
    this.#authorize = options.authorize;
    this.#maxBytes = options.maxMessageBytes ?? 256 * 1024;
    this.#logger = options.logger;
    this.#offline = new RequestQueue({
      clock,
      awakeMs: Number.POSITIVE_INFINITY,
      ttlMs: options.queueTtlMs ?? 600_000,
      maxPerDevice: options.queueMaxPerDevice ?? 64,
    });
    const ended = (registration: Registration) => {
      this.#offline.drop(
        registration.endpoint,
        new Lwm2mError('LWM2M_ERR_CANCELLED', `${registration.endpoint} is no longer registered`),
      );
      this.#port.forget(registration.peer.key);
      const clientId = MqttServerPort.clientIdOf(registration.peer.key);
      if (clientId !== undefined && this.#endpointOf.get(clientId) === registration.endpoint) {
        this.#endpointOf.delete(clientId);
      }
    };
    this.on('deregistered', ended);
    this.on('expired', ended);
  }

  // ------------------------------------------------------------------ broker hooks

  /**
   * For the broker's `authorizePublish`: `undefined` for a topic outside the convention;
   * otherwise the message is taken here and never routed: 0x10 (accepted, MQTT 5.0 §3.4.2.1)
   * for a device's message on its own topic, 0x87 when the client may not speak for the
   * endpoint, 0x90 for another topic under `devices/{id}/lwm2m/`.
   *
   * The broker also asks here about a CONNECT's will, before the connection is up: a will on
   * the device's topic is accepted and kept, and taken as the device's message when the
   * connection ends without DISCONNECT (MQTT-3.1.2-8), e.g. a De-register.
   */
  handlePublish(client: ClientInfo, message: MqttMessage): boolean | number | undefined {
    const topic = parseTopic(message.topic);
    if (!topic) return undefined;
    if (topic.kind === 'invalid') return TOPIC_NAME_INVALID;
    const endpoint = topic.endpoint;
    if (this.#authorize && !this.#authorize(client, endpoint)) {
      // LwM2M 1.0 §8.2.3 Table 24: 4.03, the endpoint name is not this client's. The device
      // hears it on its own topic when it has one; MQTT 5 clients also in the PUBACK.
      const own = (client.context as { deviceId?: string } | undefined)?.deviceId;
      if (own !== undefined && own !== endpoint) {
        void this.#port
          .refuse(own, safeToken(message.payload), Code.Forbidden, `not the owner of ${endpoint}`)
          .catch(() => undefined);
      }
      return false;
    }
    if (!this.#connected.has(connectionKey(client))) {
      this.#wills.set(client.clientId, { endpoint, payload: message.payload });
      return true;
    }
    this.#inOrder(client, endpoint, message.payload);
    return ReasonCode.NoMatchingSubscribers;
  }

  /** For the broker's `onConnect`: with its session present, the device can be reached. */
  clientConnected(client: ClientInfo, info: { sessionPresent: boolean }): void {
    this.#connected.add(connectionKey(client));
    const endpoint = this.#endpointOf.get(client.clientId);
    if (info.sessionPresent && endpoint !== undefined) this.#seen(endpoint, client);
  }

  /**
   * For the broker's `onDisconnect`: the device cannot be reached until it is back; its
   * registration lives on until it de-registers or its lifetime ends (LwM2M-TS-Core 1.1 §6.2),
   * or its will says otherwise.
   */
  clientDisconnected(client: ClientInfo, info: { graceful: boolean }): void {
    this.#connected.delete(connectionKey(client));
    const will = this.#wills.get(client.clientId);
    this.#wills.delete(client.clientId);
    // MQTT-3.1.2-8: the will is due when the connection ends without DISCONNECT 0x00.
    if (will && !info.graceful) this.#inOrder(client, will.endpoint, will.payload);
    const endpoint = this.#endpointOf.get(client.clientId);
    if (endpoint !== undefined) this.#offline.asleep(endpoint);
  }

  // ------------------------------------------------------------------ operations

  override read(
    target: DeviceTarget,
    request: ReadRequest,
    options?: RequestOptions,
  ): Promise<ReadResponse> {
    return this.#whenOnline(target, options, () => super.read(target, request, options));
  }

  override discover(
    target: DeviceTarget,
    request: DiscoverRequest,
    options?: RequestOptions,
  ): Promise<DiscoverResponse> {
    return this.#whenOnline(target, options, () => super.discover(target, request, options));
  }

  override write(
    target: DeviceTarget,
    request: WriteRequest,
    options?: RequestOptions,
  ): Promise<WriteResponse> {
    return this.#whenOnline(target, options, () => super.write(target, request, options));
  }

  override writeAttributes(
    target: DeviceTarget,
    request: WriteAttributesRequest,
    options?: RequestOptions,
  ): Promise<WriteAttributesResponse> {
    return this.#whenOnline(target, options, () => super.writeAttributes(target, request, options));
  }

  override execute(
    target: DeviceTarget,
    request: ExecuteRequest,
    options?: RequestOptions,
  ): Promise<ExecuteResponse> {
    return this.#whenOnline(target, options, () => super.execute(target, request, options));
  }

  override create(
    target: DeviceTarget,
    request: CreateRequest,
    options?: RequestOptions,
  ): Promise<CreateResponse> {
    return this.#whenOnline(target, options, () => super.create(target, request, options));
  }

  override delete(
    target: DeviceTarget,
    request: DeleteRequest,
    options?: RequestOptions,
  ): Promise<DeleteResponse> {
    return this.#whenOnline(target, options, () => super.delete(target, request, options));
  }

  override readComposite(
    target: DeviceTarget,
    request: ReadCompositeRequest,
    options?: RequestOptions,
  ): Promise<ReadCompositeResponse> {
    return this.#whenOnline(target, options, () => super.readComposite(target, request, options));
  }

  override writeComposite(
    target: DeviceTarget,
    request: WriteCompositeRequest,
    options?: RequestOptions,
  ): Promise<WriteCompositeResponse> {
    return this.#whenOnline(target, options, () => super.writeComposite(target, request, options));
  }

  override observe(
    target: DeviceTarget,
    request: ObserveRequest,
    options?: RequestOptions,
  ): Promise<ObserveResponse> {
    return this.#whenOnline(target, options, () => super.observe(target, request, options));
  }

  override observeComposite(
    target: DeviceTarget,
    request: ObserveCompositeRequest,
    options?: RequestOptions,
  ): Promise<ObserveResponse> {
    return this.#whenOnline(target, options, () =>
      super.observeComposite(target, request, options),
    );
  }

  /**
   * Resumes the registrations and observations a durable store kept (`Lwm2mServer.restore`):
   * the port knows each device's topic and registration again, so its Update (LwM2M-TS-Core
   * 1.1 §6.2.2) is accepted, requests reach it, and its Notify messages are taken instead of
   * answered Cancel-Observe (RFC 7641 §3.6). A device counts as connected once it reconnects
   * with its session, or speaks.
   */
  override async restore(): Promise<Registration[]> {
    const alive = await super.restore();
    for (const registration of alive) {
      const { peer, endpoint, id } = registration;
      this.#port.resume(peer.key, endpoint, id);
      const clientId = MqttServerPort.clientIdOf(peer.key);
      if (clientId !== undefined) this.#endpointOf.set(clientId, endpoint);
    }
    return alive;
  }

  /** Requests waiting for a device: while it is offline, and (queue mode) asleep. */
  override queuedRequests(endpoint: string): number {
    return super.queuedRequests(endpoint) + this.#offline.pending(endpoint);
  }

  override async close(): Promise<void> {
    this.#offline.clear(new Lwm2mError('LWM2M_ERR_CLOSED', 'server closed'));
    this.#port.close();
    await super.close();
  }

  // ------------------------------------------------------------------ internals

  /**
   * Handles a client's messages one after the other, in the order they came (MQTT 5.0 §4.6):
   * a Register and the Update right behind it must not overtake each other.
   */
  #inOrder(client: ClientInfo, endpoint: string, payload: Buffer): void {
    const id = client.clientId;
    const previous = this.#chains.get(id);
    const next = previous
      ? previous.then(() => this.#uplink(client, endpoint, payload))
      : this.#uplink(client, endpoint, payload);
    this.#chains.set(id, next);
    void next.then(() => {
      if (this.#chains.get(id) === next) this.#chains.delete(id);
    });
  }

  async #uplink(client: ClientInfo, endpoint: string, payload: Buffer): Promise<void> {
    let token: number | undefined;
    try {
      if (payload.length > this.#maxBytes) {
        throw new ConventionError(
          413,
          `message of ${payload.length} bytes, most ${this.#maxBytes}`,
        );
      }
      const message: ConventionMessage = decodeMessage(payload);
      token = tokenOf(message);
      const kind = kindOf(message);
      const peer = peerOf(client);
      this.#seen(endpoint, client);
      this.peerSeen(peer);
      await this.#port.received(peer, endpoint, message, kind, token);
    } catch (e) {
      if (!(e instanceof ConventionError)) {
        this.#logger?.error({ err: e, endpoint }, 'lwm2m-mqtt: a device message failed');
        return;
      }
      // A message that does not follow the convention is answered (4.00, 4.13, 5.01) with
      // its token when it had a readable one.
      await this.#port
        .refuse(endpoint, token, codeOfResult(e.result) ?? Code.BadRequest, e.message)
        .catch(() => undefined);
    }
  }

  /** The device spoke or came back with its session: it is reachable, its requests go. */
  #seen(endpoint: string, client: ClientInfo): void {
    this.#endpointOf.set(client.clientId, endpoint);
    this.#offline.seen(endpoint);
  }

  #whenOnline<T>(
    target: DeviceTarget,
    options: RequestOptions | undefined,
    run: () => Promise<T>,
  ): Promise<T> {
    const endpoint = typeof target === 'string' ? target : target.endpoint;
    if (this.#offline.isAwake(endpoint)) return run();
    return this.getRegistration(endpoint).then((reg) => {
      // Not registered: the server's own answer (LWM2M_ERR_NOT_REGISTERED).
      if (!reg) return run();
      return new Promise<T>((resolve, reject) => {
        this.#offline.submit(
          endpoint,
          () => run().then(resolve, reject),
          reject,
          options?.queueTtlMs,
        );
      });
    });
  }
}

/** The peer of an MQTT client as the LwM2M server keys it. */
function peerOf(client: ClientInfo): DatagramPeer {
  return {
    key: MqttServerPort.peerKey(client.clientId),
    address: client.remoteAddress,
    port: client.remotePort,
  };
}

/** One connection of a client (an address and port is one open connection at a time). */
function connectionKey(client: ClientInfo): string {
  return `${client.clientId} ${client.transport} ${client.remoteAddress} ${client.remotePort}`;
}

/** The token of a message that may be no message at all. */
function safeToken(payload: Buffer): number | undefined {
  try {
    const token = decodeMessage(payload).get(Key.token);
    return typeof token === 'number' ? token : undefined;
  } catch {
    return undefined;
  }
}
