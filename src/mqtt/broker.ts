import type { Duplex } from 'node:stream';
import type { TimerHandle } from '../util/clock.js';
import { Connection } from './connection.js';
import { BrokerEngine } from './engine.js';
import type { MessageProperties, MqttMessage } from './message.js';
import type { ConnectionInfo, MqttBrokerOptions, MqttBrokerStats } from './options.js';
import { ReasonCode } from './reason-codes.js';
import { sysTopics } from './sys-topics.js';
import { isValidTopicName } from './topic/validate.js';

/** A message published by the server itself (bridge, API). */
export interface ServerPublish {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain?: boolean;
  properties?: MessageProperties;
}

/**
 * The MQTT broker: hand it connected byte streams (TCP, TLS, WebSocket) and it speaks MQTT 3.1,
 * 3.1.1 and 5.0 on them. It knows nothing of listeners, HTTP or storage engines: storage comes
 * through `options.persistence`, policy through `options.hooks`.
 */
export class MqttBroker {
  readonly #engine: BrokerEngine;
  readonly #ready: Promise<void>;
  #sysTimer: TimerHandle | undefined;
  #closed = false;

  constructor(options: MqttBrokerOptions = {}) {
    this.#engine = new BrokerEngine(options);
    this.#ready = this.#engine.load();
    this.#ready.catch((err: unknown) => options.logger?.error({ err }, 'mqtt restore failed'));
    const interval = options.sysInterval ?? 10;
    if (interval > 0) this.#scheduleSys(interval * 1000);
  }

  /** Settles once persisted state is restored; connections wait for it by themselves. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** Serves MQTT on one connected stream. Never throws; a bad client costs only itself. */
  handleConnection(stream: Duplex, info: ConnectionInfo): void {
    const engine = this.#engine;
    if (this.#closed) {
      stream.destroy();
      return;
    }
    // Counted and listened to from here on, errors included (see Connection's constructor).
    const conn = new Connection(stream, info, engine);
    this.#ready.then(
      () => conn.start(),
      () => stream.destroy(),
    );
  }

  /** Publishes as the server; resolves once the message is durably routed. */
  async publish(message: ServerPublish): Promise<void> {
    await this.#ready;
    if (!isValidTopicName(message.topic)) throw new Error(`invalid topic name ${message.topic}`);
    const engine = this.#engine;
    const m: MqttMessage = {
      topic: message.topic,
      payload: message.payload,
      qos: message.qos,
      retain: message.retain ?? false,
      properties: { ...message.properties },
    };
    const interval = m.properties.messageExpiryInterval;
    if (interval !== undefined) m.expiresAt = engine.clock.now() + interval * 1000;
    await engine.route(m).write;
  }

  /**
   * Closes a client's connection from the server side, e.g. when its credentials are revoked.
   * MQTT 5 clients get DISCONNECT with `reasonCode` (default 0x98 Administrative action) and the
   * optional Server Reference (0x9C/0x9D, MQTT 5.0 §4.11). With `discardSession` the session
   * ends too (its will, if any, is published). Returns whether the client had a session.
   */
  disconnectClient(
    clientId: string,
    reasonCode: number = ReasonCode.AdministrativeAction,
    options: { serverReference?: string; reasonString?: string; discardSession?: boolean } = {},
  ): boolean {
    const engine = this.#engine;
    const session = engine.sessions.get(clientId);
    if (!session) return false;
    const conn = session.outlet as Connection | undefined;
    const props: { serverReference?: string; reasonString?: string } = {};
    if (options.serverReference) props.serverReference = options.serverReference;
    if (options.reasonString) props.reasonString = options.reasonString;
    conn?.disconnect(reasonCode, props);
    if (options.discardSession && engine.sessions.get(clientId) === session) {
      engine.endSession(session);
    }
    return true;
  }

  /** Whether a client with this identifier is connected right now. */
  isConnected(clientId: string): boolean {
    return this.#engine.sessions.get(clientId)?.outlet !== undefined;
  }

  /** Plain counters (a snapshot). */
  get stats(): MqttBrokerStats {
    return this.#engine.snapshot();
  }

  /**
   * Disconnects everyone (MQTT 5 clients get DISCONNECT 0x8B Server shutting down), waits for
   * the sockets to close and flushes persistence.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const engine = this.#engine;
    if (this.#sysTimer) engine.clock.clearTimeout(this.#sysTimer);
    await this.#ready.catch(() => undefined);
    const closing: Promise<void>[] = [];
    for (const conn of engine.connections) {
      closing.push(
        new Promise<void>((resolve) => {
          if (conn.stream.destroyed) resolve();
          else conn.stream.once('close', () => resolve());
        }),
      );
      if (conn.state === 'closed') conn.stream.destroy();
      else conn.disconnect(ReasonCode.ServerShuttingDown);
    }
    await Promise.all(closing);
    engine.stopTimers();
    await engine.persistence.flush?.();
  }

  #scheduleSys(ms: number): void {
    const engine = this.#engine;
    const tick = () => {
      if (this.#closed) return;
      this.publishSys();
      this.#sysTimer = engine.clock.setTimeout(tick, ms);
      this.#sysTimer.unref?.();
    };
    this.#sysTimer = engine.clock.setTimeout(tick, ms);
    this.#sysTimer.unref?.();
  }

  /** Publishes the `$SYS/broker/...` statistics now (also done every `sysInterval`). */
  publishSys(): void {
    const engine = this.#engine;
    const version = engine.options.version ?? 'tandem';
    for (const [topic, value] of sysTopics(engine.snapshot(), version)) {
      engine.route({ topic, payload: Buffer.from(value), qos: 0, retain: true, properties: {} });
    }
  }
}
