import type { MqttMessage } from '../message.js';
import type { Subscription } from '../topic/subscription.js';

/** A value or a promise of it: every port method may answer synchronously or asynchronously. */
export type MaybePromise<T> = T | Promise<T>;

/** The will of a session, kept until published or discarded (MQTT 5.0 §3.1.2.5). */
export interface StoredWill {
  message: MqttMessage;
  /** Will Delay Interval in seconds. */
  delayInterval: number;
}

/** A session's own state (MQTT 5.0 §4.1). */
export interface StoredSession {
  clientId: string;
  protocolVersion: 3 | 4 | 5;
  /** Session Expiry Interval in seconds; 0xFFFFFFFF never expires. */
  expiryInterval: number;
  /** Epoch ms of the end of the last network connection; absent while connected. */
  disconnectedAt?: number;
  /** A will still pending (connection lost, will delay not elapsed). */
  will?: StoredWill;
}

/**
 * One outgoing message for one session: queued, or in flight (PUBLISH sent, awaiting PUBACK or
 * PUBREC: state `publish`; PUBREL sent, awaiting PUBCOMP: state `pubrel`).
 */
export interface StoredDelivery {
  /** Unique per session and increasing in enqueue order; the key of the delivery. */
  seq: number;
  state: 'queued' | 'publish' | 'pubrel';
  packetId?: number;
  qos: 0 | 1 | 2;
  /** Retain flag to send (after Retain As Published). */
  retain: boolean;
  subscriptionIds?: number[];
  /** Share name when delivered through a shared subscription. */
  group?: string;
  message: MqttMessage;
}

/**
 * The broker's storage port. Every method may return a value or a Promise; the broker awaits a
 * Promise before it acknowledges anything that depends on it.
 *
 * Durability contract (what must be durable when the returned value/Promise settles):
 * - `putDelivery` for every persistent subscriber and `putRetained` before the broker sends the
 *   PUBACK (QoS 1) or PUBREC (QoS 2) of the PUBLISH that caused them; `addIncomingQos2` before
 *   PUBREC. A crash after the ack then loses nothing [MQTT-4.3.2-2, MQTT-4.3.3-2 intent].
 * - `putDelivery` with state `pubrel` before PUBREL is sent; `deleteDelivery` may be lazy.
 * - `saveSession`/`putSubscription` before CONNACK/SUBACK.
 * - `deleteIncomingQos2` before PUBCOMP: a lost deletion would make a new PUBLISH that reuses
 *   the identifier look like a duplicate and be dropped [MQTT-4.3.3-9]; `deleteSubscription`
 *   before UNSUBACK and `deleteRetained` before the ack of the empty retained PUBLISH, or they
 *   come back after a crash; `deleteSession` before the CONNACK of a clean start.
 * Only `deleteDelivery` may be lazy (at worst a message is redelivered with DUP, which QoS 1/2
 * permit).
 * Only sessions that outlive their connection (expiry > 0) are written; others stay in memory.
 */
export interface MqttPersistence {
  saveSession(session: StoredSession): MaybePromise<void>;
  getSession(clientId: string): MaybePromise<StoredSession | undefined>;
  /** Removes the session and everything it owns: subscriptions, deliveries, incoming QoS 2. */
  deleteSession(clientId: string): MaybePromise<void>;
  listSessions(): MaybePromise<StoredSession[]>;

  /** Adds or replaces by `sub.filter`. */
  putSubscription(clientId: string, sub: Subscription): MaybePromise<void>;
  deleteSubscription(clientId: string, filter: string): MaybePromise<void>;
  listSubscriptions(clientId: string): MaybePromise<Subscription[]>;

  /** Stores or replaces the retained message of `message.topic`. */
  putRetained(message: MqttMessage): MaybePromise<void>;
  deleteRetained(topic: string): MaybePromise<void>;
  listRetained(): MaybePromise<MqttMessage[]>;

  /** Adds or replaces the delivery with this `seq`. */
  putDelivery(clientId: string, delivery: StoredDelivery): MaybePromise<void>;
  deleteDelivery(clientId: string, seq: number): MaybePromise<void>;
  /** Deliveries of the session ordered by `seq`. */
  listDeliveries(clientId: string): MaybePromise<StoredDelivery[]>;

  /** QoS 2 packet identifiers received (PUBREC sent) and not yet released by PUBREL. */
  addIncomingQos2(clientId: string, packetId: number): MaybePromise<void>;
  deleteIncomingQos2(clientId: string, packetId: number): MaybePromise<void>;
  listIncomingQos2(clientId: string): MaybePromise<number[]>;

  /** Makes every earlier write durable; called by `MqttBroker.close()`. */
  flush?(): MaybePromise<void>;
}
