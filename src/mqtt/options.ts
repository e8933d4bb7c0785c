import type { PeerCertificate } from 'node:tls';
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.js';
import type { UserProperties } from './codec/properties.js';
import type { MqttMessage } from './message.js';
import type { MqttPersistence } from './persistence/types.js';

export type MaybePromise<T> = T | Promise<T>;

/** Where a network connection comes from, given by the listener to `handleConnection`. */
export interface ConnectionInfo {
  remoteAddress: string;
  remotePort: number;
  transport: 'tcp' | 'tls' | 'ws' | 'wss';
  peerCertificate?: PeerCertificate;
}

/** A connected (or connecting) client as hooks see it. */
export interface ClientInfo extends ConnectionInfo {
  clientId: string;
  username?: string;
  protocolVersion: 3 | 4 | 5;
  /** What `authenticate` or `enhancedAuth` returned as `context` (namespace, ACL...). */
  context?: unknown;
}

export interface AuthenticateRequest extends ConnectionInfo {
  clientId: string;
  /** True when the broker assigned the identifier (the client sent an empty one). */
  clientIdAssigned: boolean;
  username?: string;
  password?: Buffer;
  protocolVersion: 3 | 4 | 5;
  userProperties?: UserProperties;
}

/**
 * Answer of `authenticate`/`enhancedAuth`. A refusal carries an MQTT 5 reason code (mapped to a
 * 3.x return code for older clients) and, for 0x9C/0x9D, a Server Reference (MQTT 5.0 §4.11).
 */
export type AuthenticateResult =
  | { accept: true; context?: unknown }
  | { accept: false; reasonCode: number; serverReference?: string; reasonString?: string };

/** One step of enhanced authentication (MQTT 5.0 §4.12). */
export interface EnhancedAuthRequest extends ConnectionInfo {
  clientId: string;
  username?: string;
  method: string;
  data?: Buffer;
  /** 0 for the data in CONNECT (or in the AUTH 0x19 starting re-authentication). */
  step: number;
  /** True for re-authentication of an established connection. */
  reauthenticate: boolean;
}

export type EnhancedAuthResult =
  | { result: 'success'; data?: Buffer; context?: unknown }
  | { result: 'continue'; data?: Buffer }
  | { result: 'fail'; reasonCode: number; serverReference?: string; reasonString?: string };

/**
 * Policy hooks. Each may answer synchronously or with a Promise. Without a hook the broker
 * accepts. `authorizePublish`/`authorizeSubscribe` answer `true` (allow), `false` (0x87 Not
 * authorized) or a reason code; `authorizeSubscribe` may also answer 0, 1 or 2 to grant a lower
 * QoS.
 */
export interface MqttHooks {
  authenticate?(request: AuthenticateRequest): MaybePromise<AuthenticateResult>;
  enhancedAuth?(request: EnhancedAuthRequest): MaybePromise<EnhancedAuthResult>;
  authorizePublish?(client: ClientInfo, message: MqttMessage): MaybePromise<boolean | number>;
  authorizeSubscribe?(
    client: ClientInfo,
    subscription: { filter: string; qos: 0 | 1 | 2 },
  ): MaybePromise<boolean | number>;
  /** Observer: a client's CONNACK 0x00 was sent. Errors are logged, never sent to the client. */
  onConnect?(client: ClientInfo, info: { sessionPresent: boolean }): void;
  /** Observer: a connected client's network connection ended (`graceful`: DISCONNECT 0x00). */
  onDisconnect?(client: ClientInfo, info: { graceful: boolean }): void;
  /**
   * Observer: a client's PUBLISH was authorized and routed (called once per message, QoS 2
   * included, before its acknowledgement). Use it to feed the hub; it must not block.
   */
  onMessage?(client: ClientInfo, message: MqttMessage): void;
}

export interface MqttLimits {
  /** Largest packet accepted and announced (bytes, fixed header included). Default 1 MiB. */
  maxPacketSize: number;
  /**
   * Our Receive Maximum: QoS 1/2 PUBLISH a client may have unacknowledged; more is 0x93.
   * Default 1024 (generous: some clients, MQTT.js among them, pipeline without reading it).
   */
  receiveMaximum: number;
  /** Our Topic Alias Maximum for inbound aliases. Default 32. */
  topicAliasMaximum: number;
  /** Outbound aliases we assign at most (capped by the client's maximum). Default 32. */
  outboundTopicAliases: number;
  /** Bound of each session's outgoing queue (tail drop beyond, counted). Default 10000. */
  maxQueuedMessages: number;
  /**
   * What happens when a connected subscriber's queue is full. `drop` (default): the new message
   * is dropped for that subscriber and counted, so a slow subscriber never slows anyone else.
   * `backpressure`: the message is queued anyway (up to twice the bound) and the publisher's
   * PUBLISH is not acknowledged, nor its next packet read, until the queue is below the bound
   * again: no loss, but a slow subscriber slows its publishers. Offline sessions always drop.
   */
  queueFullPolicy: 'drop' | 'backpressure';
  /** Upper bound on outbound in-flight messages, under the client's Receive Maximum. Default 1000. */
  maxInflightMessages: number;
  /** Longest keep-alive accepted (s); a larger or zero one is replaced by Server Keep Alive. 0: none. */
  maxKeepAlive: number;
  /** Upper bound on Session Expiry Interval (s). Default 0xFFFFFFFF (none). */
  maxSessionExpiryInterval: number;
  retainAvailable: boolean;
  maximumQoS: 0 | 1 | 2;
  wildcardSubscriptionAvailable: boolean;
  subscriptionIdentifiersAvailable: boolean;
  sharedSubscriptionAvailable: boolean;
}

export const DEFAULT_LIMITS: MqttLimits = {
  maxPacketSize: 1024 * 1024,
  receiveMaximum: 1024,
  topicAliasMaximum: 32,
  outboundTopicAliases: 32,
  maxQueuedMessages: 10_000,
  queueFullPolicy: 'drop',
  maxInflightMessages: 1000,
  maxKeepAlive: 0,
  maxSessionExpiryInterval: 0xffffffff,
  retainAvailable: true,
  maximumQoS: 2,
  wildcardSubscriptionAvailable: true,
  subscriptionIdentifiersAvailable: true,
  sharedSubscriptionAvailable: true,
};

export interface MqttBrokerOptions {
  logger?: Logger;
  clock?: Clock;
  /** Defaults to a fresh `MemoryPersistence`. */
  persistence?: MqttPersistence;
  hooks?: MqttHooks;
  limits?: Partial<MqttLimits>;
  /** Period of `$SYS/broker/...` statistics in seconds; 0 disables. Default 10. */
  sysInterval?: number;
  /** Response Information for clients that request it (MQTT 5.0 §3.1.2.11.7). */
  responseInformation?: (client: ClientInfo) => string | undefined;
  /** Reported in `$SYS/broker/version`. */
  version?: string;
}

/** Plain counters; see `MqttBroker.stats`. */
export interface MqttBrokerStats {
  connections: { current: number; total: number; rejected: number };
  sessions: { total: number; online: number };
  messages: { received: number; sent: number; retained: number; queued: number; inflight: number };
  bytes: { received: number; sent: number };
  subscriptions: number;
  /**
   * Messages not delivered to one subscriber, by reason: `queueFull` (outgoing queue at
   * `maxQueuedMessages`, the newest message is dropped), `packetTooLarge` (over the client's
   * Maximum Packet Size [MQTT-3.1.2-25]), `expired` (Message Expiry passed [MQTT-3.3.2-5]),
   * `offlineQos0` (QoS 0 for a session without a connection, which keeps only QoS 1/2
   * (MQTT 5.0 §4.1)), `sessionEnded` (queued, or in flight without PUBACK/PUBREC, when its
   * session ended: expiry, Clean Start, or ended by the server (MQTT 5.0 §4.1)).
   */
  dropped: {
    queueFull: number;
    packetTooLarge: number;
    expired: number;
    offlineQos0: number;
    sessionEnded: number;
  };
  uptimeSeconds: number;
}
