import type { Connection } from './connection.js';
import type { DeadlineSweep } from './deadlines.js';
import type { MqttMessage } from './message.js';
import type { ClientInfo, MqttBrokerOptions, MqttHooks } from './options.js';
import type { StoredWill } from './persistence/types.js';
import type { Session, SessionHost } from './session.js';
import type { Subscription } from './topic/subscription.js';

/** What a new connection asks of the broker once it is authenticated. */
export interface AttachRequest {
  clientId: string;
  cleanStart: boolean;
  expiryInterval: number;
  protocolVersion: 3 | 4 | 5;
  will?: StoredWill;
}

/**
 * The broker as connections and handlers see it. Implemented by `MqttBroker`; kept as an
 * interface so handlers depend on behaviour, not on the broker's fields.
 */
export interface BrokerCore extends SessionHost {
  readonly hooks: MqttHooks;
  readonly options: MqttBrokerOptions;
  /** Every open connection (counted from accept to close). */
  readonly connections: Set<Connection>;
  /** CONNECT timeouts and Keep Alive of all connections, on one timer. */
  readonly deadlines: DeadlineSweep;
  /** Binds the connection to its session (taking over an existing one) [MQTT-3.1.4-3]. */
  attach(conn: Connection, request: AttachRequest): Promise<{ session: Session; present: boolean }>;
  /** The connection closed; `graceful` when the client sent DISCONNECT 0x00 [MQTT-3.1.2-10]. */
  detach(conn: Connection, graceful: boolean): void;
  /**
   * Routes an Application Message to matching sessions and the retained store. `write` is what
   * must settle before the PUBLISH is acknowledged (a Promise, or nothing when all was sync).
   */
  route(message: MqttMessage): { delivered: number; write: unknown };
  /** Adds or replaces a subscription; returns whether it existed before. */
  addSubscription(session: Session, sub: Subscription): { existed: boolean; write: unknown };
  removeSubscription(session: Session, filter: string): { existed: boolean; write: unknown };
  /** Sends the retained messages matching a new subscription [MQTT-3.3.1-9]. */
  sendRetained(session: Session, sub: Subscription): void;
  clientInfo(conn: Connection): ClientInfo;
  /** Calls an observer hook, logging instead of throwing. */
  notify<K extends 'onConnect' | 'onDisconnect' | 'onMessage'>(
    hook: K,
    ...args: Parameters<NonNullable<MqttHooks[K]>>
  ): void;
}
