import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../util/clock.js';
import { isExpired } from './message.js';
import type { MqttBrokerStats, MqttLimits } from './options.js';
import type { MqttPersistence, StoredDelivery, StoredWill } from './persistence/types.js';
import type { Subscription } from './topic/subscription.js';

export type Delivery = StoredDelivery;

const EMPTY_MAP: ReadonlyMap<never, never> = new Map<never, never>();
const EMPTY_SET: ReadonlySet<never> = new Set<never>();

/** The connection a session currently talks through (implemented by `Connection`). */
export interface SessionOutlet {
  readonly protocolVersion: 3 | 4 | 5;
  /** False while the stream pushes back; the session then queues instead of writing. */
  readonly writable: boolean;
  /** The client's Receive Maximum [MQTT-3.3.4-9]. */
  readonly clientReceiveMaximum: number;
  /** Writes a PUBLISH; `too-large` when over the client's Maximum Packet Size [MQTT-3.1.2-25]. */
  sendPublish(delivery: Delivery, dup: boolean): 'sent' | 'too-large';
  sendPubrel(packetId: number, reasonCode: number): void;
}

/** What a session needs from its broker. */
export interface SessionHost {
  readonly clock: Clock;
  readonly persistence: MqttPersistence;
  readonly limits: MqttLimits;
  readonly stats: MqttBrokerStats;
  readonly logger: Logger | undefined;
}

/** Runs a persistence call whose result nobody waits for, logging a failure. */
export function background(host: SessionHost, result: unknown): void {
  if (result instanceof Promise) {
    result.catch((err: unknown) => host.logger?.error({ err }, 'mqtt persistence write failed'));
  }
}

/**
 * Session state (MQTT 5.0 §4.1): subscriptions, outgoing deliveries (queued and in flight) and
 * incoming QoS 2 identifiers. The outgoing side enforces the client's Receive Maximum and the
 * bounded queue; it writes only while its outlet is writable, so one slow subscriber only fills
 * its own queue.
 *
 * Queue overflow policy: when `maxQueuedMessages` deliveries wait, a new delivery is dropped
 * (tail drop) and counted in `stats.dropped.queueFull`; deliveries already queued or in flight
 * are kept, so what the broker accepted earlier is never displaced.
 */
export class Session {
  readonly clientId: string;
  protocolVersion: 3 | 4 | 5 = 4;
  /** Session Expiry Interval (s); 0 ends with the connection, 0xFFFFFFFF never expires. */
  expiryInterval = 0;
  readonly queue: Delivery[] = [];
  // Created on first use: an idle connection's session holds none of them.
  #subscriptions: Map<string, Subscription> | undefined;
  #inflight: Map<number, Delivery> | undefined;
  #incoming: Set<number> | undefined;
  outlet: SessionOutlet | undefined;
  /** A will waiting for its delay (connection lost) [MQTT-3.1.3-9]. */
  pendingWill: StoredWill | undefined;
  willTimer: TimerHandle | undefined;
  expiryTimer: TimerHandle | undefined;
  /** Whether the session's state is written to persistence (it outlives its connection). */
  persisted = false;
  #seq = 0;
  #nextPacketId = 1;
  #host: SessionHost;

  constructor(clientId: string, host: SessionHost) {
    this.clientId = clientId;
    this.#host = host;
  }

  /** Subscriptions by filter as sent (`$share/...` included). */
  get subscriptions(): ReadonlyMap<string, Subscription> {
    return this.#subscriptions ?? EMPTY_MAP;
  }

  /** Outgoing QoS 1/2 deliveries in flight, by packet identifier, in send order. */
  get inflight(): ReadonlyMap<number, Delivery> {
    return this.#inflight ?? EMPTY_MAP;
  }

  /** Incoming QoS 2 identifiers acknowledged with PUBREC and not yet released. */
  get incomingQos2(): ReadonlySet<number> {
    return this.#incoming ?? EMPTY_SET;
  }

  putSubscription(sub: Subscription): void {
    this.#subscriptions ??= new Map();
    this.#subscriptions.set(sub.filter, sub);
  }

  dropSubscription(filter: string): boolean {
    return this.#subscriptions?.delete(filter) ?? false;
  }

  clearSubscriptions(): void {
    this.#subscriptions = undefined;
  }

  addIncomingQos2(packetId: number): void {
    this.#incoming ??= new Set();
    this.#incoming.add(packetId);
  }

  releaseIncomingQos2(packetId: number): boolean {
    return this.#incoming?.delete(packetId) ?? false;
  }

  #setInflight(packetId: number, d: Delivery): void {
    this.#inflight ??= new Map();
    this.#inflight.set(packetId, d);
  }

  /** Restores persisted deliveries (broker start). */
  restore(deliveries: StoredDelivery[], incoming: number[]): void {
    for (const d of deliveries) {
      if (d.seq > this.#seq) this.#seq = d.seq;
      if (d.state !== 'queued' && d.packetId !== undefined) {
        this.#setInflight(d.packetId, d);
        this.#host.stats.messages.inflight++;
      } else {
        this.queue.push(d);
        this.#host.stats.messages.queued++;
      }
    }
    for (const id of incoming) this.addIncomingQos2(id);
  }

  get #window(): number {
    const clientMax = this.outlet?.clientReceiveMaximum ?? 65535;
    return Math.min(clientMax, this.#host.limits.maxInflightMessages);
  }

  /**
   * Accepts one delivery for this session. Returns the persistence write the caller must await
   * before acknowledging the inbound PUBLISH, if any.
   */
  deliver(
    message: Delivery['message'],
    qos: 0 | 1 | 2,
    retain: boolean,
    subscriptionIds: number[] | undefined,
    group?: string,
  ): unknown {
    const d: Delivery = { seq: 0, state: 'queued', qos, retain, message };
    if (subscriptionIds && subscriptionIds.length > 0) d.subscriptionIds = subscriptionIds;
    if (group !== undefined) d.group = group;
    return this.accept(d);
  }

  /** Enqueues or sends an already built delivery (used for shared-subscription redelivery). */
  accept(d: Delivery): unknown {
    d.seq = ++this.#seq;
    d.state = 'queued';
    delete d.packetId;
    const stats = this.#host.stats;
    if (isExpired(d.message, this.#host.clock.now())) {
      stats.dropped.expired++;
      return undefined;
    }
    if (!this.outlet && d.qos === 0) {
      // MQTT 5.0 §4.1: the session state keeps QoS 1/2 messages; QoS 0 ones are not kept.
      stats.dropped.offlineQos0++;
      return undefined;
    }
    if (this.queue.length === 0 && this.outlet?.writable && (d.qos === 0 || this.#hasRoom())) {
      return this.#send(d);
    }
    const limits = this.#host.limits;
    let room: Promise<void> | undefined;
    if (this.queue.length >= limits.maxQueuedMessages) {
      const hold =
        limits.queueFullPolicy === 'backpressure' &&
        this.outlet !== undefined &&
        this.queue.length < limits.maxQueuedMessages * 2;
      if (!hold) {
        stats.dropped.queueFull++;
        return undefined;
      }
      // Backpressure policy: keep it, and make the publisher wait until there is room again.
      room = new Promise<void>((resolve) => {
        this.#roomWaiters ??= [];
        this.#roomWaiters.push(resolve);
      });
    }
    d.state = 'queued';
    this.queue.push(d);
    stats.messages.queued++;
    const write =
      this.persisted && d.qos > 0
        ? this.#host.persistence.putDelivery(this.clientId, d)
        : undefined;
    return room ? Promise.all([room, write]) : write;
  }

  /** Publishers waiting for room in this queue (backpressure policy). */
  #roomWaiters: Array<() => void> | undefined;

  /** Lets waiting publishers go: the queue has room again, or its subscriber left. */
  releaseWaiters(): void {
    const waiters = this.#roomWaiters;
    this.#roomWaiters = undefined;
    if (waiters) for (const w of waiters) w();
  }

  #hasRoom(): boolean {
    return this.inflight.size < this.#window;
  }

  #allocatePacketId(): number {
    // [MQTT-2.2.1-3] a new identifier is one not in use by an unacknowledged outgoing PUBLISH.
    for (let i = 0; i < 65535; i++) {
      const id = this.#nextPacketId;
      this.#nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
    throw new Error('no packet identifier available');
  }

  #send(d: Delivery): unknown {
    const host = this.#host;
    const outlet = this.outlet!;
    if (isExpired(d.message, host.clock.now())) {
      // [MQTT-3.3.2-5] an expired message is not delivered.
      host.stats.dropped.expired++;
      return d.state === 'queued' && this.persisted ? this.#forget(d) : undefined;
    }
    if (d.qos > 0) {
      d.packetId = this.#allocatePacketId();
      d.state = 'publish';
      this.#setInflight(d.packetId, d);
      host.stats.messages.inflight++;
    }
    const result = outlet.sendPublish(d, false);
    if (result === 'too-large') {
      // [MQTT-3.1.2-25] discard without sending, as if delivery completed.
      host.stats.dropped.packetTooLarge++;
      if (d.packetId !== undefined) {
        this.#inflight?.delete(d.packetId);
        host.stats.messages.inflight--;
      }
      return this.persisted && d.qos > 0 ? this.#forget(d) : undefined;
    }
    if (d.qos > 0 && this.persisted) return host.persistence.putDelivery(this.clientId, d);
    return undefined;
  }

  #forget(d: Delivery): unknown {
    return this.#host.persistence.deleteDelivery(this.clientId, d.seq);
  }

  /** Sends queued deliveries while the outlet is writable and the window has room. */
  pump(): void {
    const outlet = this.outlet;
    while (this.queue.length > 0 && outlet && outlet.writable && this.outlet === outlet) {
      const head = this.queue[0]!;
      if (head.qos > 0 && !this.#hasRoom()) return;
      this.queue.shift();
      this.#host.stats.messages.queued--;
      background(this.#host, this.#send(head));
      if (this.#roomWaiters && this.queue.length < this.#host.limits.maxQueuedMessages) {
        this.releaseWaiters();
      }
    }
  }

  /** Re-sends every in-flight message after a reconnect, PUBLISH with DUP [MQTT-4.4.0-1]. */
  resend(): void {
    const outlet = this.outlet;
    if (!outlet) return;
    for (const d of [...this.inflight.values()]) {
      if (d.state === 'pubrel') outlet.sendPubrel(d.packetId!, 0);
      else if (outlet.sendPublish(d, true) === 'too-large') {
        this.#host.stats.dropped.packetTooLarge++;
        this.#complete(d);
      }
    }
    this.pump();
  }

  #complete(d: Delivery): void {
    this.#inflight?.delete(d.packetId!);
    this.#host.stats.messages.inflight--;
    if (this.persisted) background(this.#host, this.#forget(d));
  }

  /** PUBACK from the client [MQTT-4.3.2]. Unknown identifiers are ignored. */
  onPuback(packetId: number): void {
    const d = this.inflight.get(packetId);
    if (d?.qos !== 1) return;
    this.#complete(d);
    this.pump();
  }

  /** PUBREC from the client; answers PUBREL [MQTT-4.3.3-4] or PUBREL 0x92 when unknown. */
  onPubrec(packetId: number, reasonCode: number): void {
    const d = this.inflight.get(packetId);
    if (d?.qos !== 2 || d.state !== 'publish') {
      if (!d)
        this.outlet?.sendPubrel(packetId, 0x92); // Packet Identifier not found
      else if (d.state === 'pubrel') this.outlet?.sendPubrel(packetId, 0);
      return;
    }
    if (reasonCode >= 0x80) {
      // MQTT 5.0 §4.3.3: a failure PUBREC ends the flow; the identifier is free again.
      this.#complete(d);
      this.pump();
      return;
    }
    d.state = 'pubrel';
    const sendPubrel = () => {
      if (this.inflight.get(packetId) === d) this.outlet?.sendPubrel(packetId, 0);
    };
    // [MQTT-4.3.3] The 'pubrel' state is durable before PUBREL leaves: were the server to crash
    // between the two, it would resend the PUBLISH after restart to a client that may already
    // have completed the flow, which would take it for a new message (a QoS 2 duplicate).
    const written = this.persisted
      ? this.#host.persistence.putDelivery(this.clientId, d)
      : undefined;
    if (!(written instanceof Promise)) {
      sendPubrel();
      return;
    }
    written.then(sendPubrel, (err: unknown) =>
      this.#host.logger?.error({ err }, 'mqtt persistence write failed; PUBREL held back'),
    );
  }

  /** PUBCOMP from the client ends a QoS 2 flow. */
  onPubcomp(packetId: number): void {
    const d = this.inflight.get(packetId);
    if (d?.state !== 'pubrel') return;
    this.#complete(d);
    this.pump();
  }

  /**
   * Takes out the deliveries made through shared subscriptions that the client has not taken
   * responsibility for: queued ones and QoS 1 in flight. QoS 2 in flight stays: the client may
   * already have passed it on, and sending it elsewhere would break exactly-once.
   */
  takeSharedForRedelivery(): Delivery[] {
    const out: Delivery[] = [];
    for (const [id, d] of this.inflight) {
      if (d.group !== undefined && d.qos === 1) {
        this.#inflight?.delete(id);
        this.#host.stats.messages.inflight--;
        out.push(d);
      }
    }
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const d = this.queue[i]!;
      if (d.group !== undefined) {
        this.queue.splice(i, 1);
        this.#host.stats.messages.queued--;
        out.unshift(d);
      }
    }
    if (this.persisted) for (const d of out) background(this.#host, this.#forget(d));
    return out;
  }

  /**
   * Releases counters when the session ends. What it still held counts as dropped: queued, and
   * in flight without PUBACK/PUBREC; a QoS 2 message waiting for PUBCOMP was received.
   */
  dispose(): void {
    this.releaseWaiters();
    const stats = this.#host.stats;
    stats.messages.inflight -= this.inflight.size;
    stats.messages.queued -= this.queue.length;
    let undelivered = this.queue.length;
    for (const d of this.inflight.values()) if (d.state !== 'pubrel') undelivered++;
    stats.dropped.sessionEnded += undelivered;
    this.#inflight = undefined;
    this.queue.length = 0;
  }
}
