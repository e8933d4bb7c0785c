import type Database from 'better-sqlite3';
import type { MqttMessage } from '../../mqtt/message.js';
import type {
  MqttPersistence,
  StoredDelivery,
  StoredSession,
} from '../../mqtt/persistence/types.js';
import type { Subscription } from '../../mqtt/topic/subscription.js';
import {
  DELIVERY_COLUMNS,
  type DeliveryRow,
  deliveryFromRow,
  deliveryParams,
  RETAINED_COLUMNS,
  type RetainedRow,
  retainedFromRow,
  retainedParams,
  SESSION_COLUMNS,
  type SessionRow,
  SUBSCRIPTION_COLUMNS,
  type SubscriptionRow,
  sessionFromRow,
  sessionParams,
  subscriptionFromRow,
  subscriptionParams,
  upsertSql,
} from './mqtt-rows.js';

type Params = unknown[];
/** A queued write is two entries: the statement, then its parameters. */
type Op = Database.Statement | Params;

export interface SqliteMqttPersistenceOptions {
  /** Told about a failed commit that nobody awaited (only lazy deletions were in it). */
  onError?: (err: unknown) => void;
}

interface Batch {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers that drop the promise (deletions run in the background) must not turn a failed
  // commit into an unhandled rejection; those that await it still see the error.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * The broker's `MqttPersistence` on the SQLite database of `SqliteStore` (tables of migration 2).
 *
 * Durability: writes are queued and committed together, in one transaction, once the current
 * synchronous run ends (a microtask): the writes one PUBLISH causes (a delivery per persistent
 * subscriber, the retained message, the incoming QoS 2 identifier) share one commit, and the ack
 * leaves in the same event-loop turn. (Committing at the end of the turn instead, to share
 * commits between connections, measured more CPU per message: every PUBLISH then waits a turn,
 * as the broker handles one packet of a connection at a time.) The writes the broker must await
 * before it acknowledges
 * (sessions, subscriptions, retained messages, deliveries, incoming QoS 2, and every deletion
 * but `deleteDelivery`) return the promise of that commit, so PUBACK/PUBREC, SUBACK, CONNACK and
 * PUBCOMP leave only once their state is in the WAL [MQTT-4.3.2-2, MQTT-4.3.3-2, MQTT-4.1.0-1].
 * The database runs in WAL mode with synchronous=NORMAL: a committed transaction survives a
 * process crash (`kill -9`); a power loss may lose the last ones.
 *
 * `deleteDelivery` (the PUBACK/PUBCOMP of a subscriber, the hot path) is lazy: it rides with the
 * next commit (at the latest at the end of the event-loop turn) and returns nothing to await. Lost by a crash, it costs a redelivery with DUP,
 * which QoS 1 and 2 allow. Reads commit what is queued first, so they see every earlier write.
 */
export class SqliteMqttPersistence implements MqttPersistence {
  readonly #db: Database.Database;
  /**
   * Told about a failed commit that nobody awaited (only lazy deletions were in it: at worst
   * those deliveries are sent again after a restart).
   */
  onError: ((err: unknown) => void) | undefined;
  readonly #s;
  readonly #run: (ops: Op[]) => void;
  /** Queued writes: statement and parameters, flattened in pairs. */
  #ops: Op[] = [];
  #batch: Batch | undefined;
  /** A microtask will commit (durable writes queued). */
  #soon = false;
  /** The end of the turn will commit (only lazy writes queued). */
  #scheduled: NodeJS.Immediate | undefined;
  #closed = false;

  constructor(db: Database.Database, options: SqliteMqttPersistenceOptions = {}) {
    this.#db = db;
    this.onError = options.onError;
    const q = (sql: string) => db.prepare(sql);
    this.#s = {
      putSession: q(upsertSql('mqtt_sessions', SESSION_COLUMNS)),
      getSession: q('SELECT * FROM mqtt_sessions WHERE client_id = ?'),
      listSessions: q('SELECT * FROM mqtt_sessions ORDER BY client_id'),
      deleteSession: q('DELETE FROM mqtt_sessions WHERE client_id = ?'),
      deleteSubscriptions: q('DELETE FROM mqtt_subscriptions WHERE client_id = ?'),
      deleteDeliveries: q('DELETE FROM mqtt_deliveries WHERE client_id = ?'),
      deleteIncomings: q('DELETE FROM mqtt_incoming_qos2 WHERE client_id = ?'),
      putSubscription: q(upsertSql('mqtt_subscriptions', SUBSCRIPTION_COLUMNS)),
      deleteSubscription: q('DELETE FROM mqtt_subscriptions WHERE client_id = ? AND filter = ?'),
      listSubscriptions: q('SELECT * FROM mqtt_subscriptions WHERE client_id = ? ORDER BY filter'),
      putRetained: q(upsertSql('mqtt_retained', RETAINED_COLUMNS)),
      deleteRetained: q('DELETE FROM mqtt_retained WHERE topic = ?'),
      listRetained: q('SELECT * FROM mqtt_retained ORDER BY topic'),
      putDelivery: q(upsertSql('mqtt_deliveries', DELIVERY_COLUMNS)),
      deleteDelivery: q('DELETE FROM mqtt_deliveries WHERE client_id = ? AND seq = ?'),
      listDeliveries: q('SELECT * FROM mqtt_deliveries WHERE client_id = ? ORDER BY seq'),
      addIncoming: q('INSERT OR IGNORE INTO mqtt_incoming_qos2 VALUES (?, ?)'),
      deleteIncoming: q('DELETE FROM mqtt_incoming_qos2 WHERE client_id = ? AND packet_id = ?'),
      listIncomings: q(
        'SELECT packet_id FROM mqtt_incoming_qos2 WHERE client_id = ? ORDER BY packet_id',
      ),
    };
    this.#run = db.transaction((ops: Op[]) => {
      for (let i = 0; i < ops.length; i += 2) {
        (ops[i] as Database.Statement).run(ops[i + 1] as Params);
      }
    });
  }

  /** Writes queued and not yet committed (for metrics and tests). */
  get pending(): number {
    return this.#ops.length / 2;
  }

  readonly #commitSoon = (): void => {
    this.#soon = false;
    this.#tryCommit();
  };

  readonly #commitLate = (): void => {
    this.#scheduled = undefined;
    this.#tryCommit();
  };

  #tryCommit(): void {
    try {
      this.#commit();
    } catch {
      // Reported through the batch promise or onError by #commit.
    }
  }

  /** Queues a write and returns the promise of the commit that will hold it. */
  #durable(stmt: Database.Statement, params: Params): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the MQTT store is closed'));
    this.#ops.push(stmt, params);
    if (!this.#soon) {
      this.#soon = true;
      queueMicrotask(this.#commitSoon);
    }
    this.#batch ??= newBatch();
    return this.#batch.promise;
  }

  /** Queues a write nobody waits for: it goes with the next commit. */
  #lazy(stmt: Database.Statement, params: Params): void {
    if (this.#closed) return;
    this.#ops.push(stmt, params);
    if (!this.#soon) this.#scheduled ??= setImmediate(this.#commitLate);
  }

  /** Commits every queued write now, in one transaction; throws when that fails. */
  #commit(): void {
    if (this.#scheduled) {
      clearImmediate(this.#scheduled);
      this.#scheduled = undefined;
    }
    const ops = this.#ops;
    const batch = this.#batch;
    this.#ops = [];
    this.#batch = undefined;
    if (ops.length > 0) {
      try {
        this.#run(ops);
      } catch (err) {
        if (batch) batch.reject(err);
        else this.onError?.(err);
        throw err;
      }
    }
    batch?.resolve();
  }

  #read(): void {
    if (this.#closed) throw new Error('the MQTT store is closed');
    if (this.#ops.length > 0) this.#commit();
  }

  saveSession(session: StoredSession): Promise<void> {
    return this.#durable(this.#s.putSession, sessionParams(session));
  }

  getSession(clientId: string): StoredSession | undefined {
    this.#read();
    const row = this.#s.getSession.get(clientId) as SessionRow | undefined;
    return row && sessionFromRow(row);
  }

  deleteSession(clientId: string): Promise<void> {
    const s = this.#s;
    this.#durable(s.deleteSubscriptions, [clientId]);
    this.#durable(s.deleteDeliveries, [clientId]);
    this.#durable(s.deleteIncomings, [clientId]);
    return this.#durable(s.deleteSession, [clientId]);
  }

  listSessions(): StoredSession[] {
    this.#read();
    return (this.#s.listSessions.all() as SessionRow[]).map(sessionFromRow);
  }

  putSubscription(clientId: string, sub: Subscription): Promise<void> {
    return this.#durable(this.#s.putSubscription, subscriptionParams(clientId, sub));
  }

  /** Durable before UNSUBACK: a lost deletion would bring the subscription back. */
  deleteSubscription(clientId: string, filter: string): Promise<void> {
    return this.#durable(this.#s.deleteSubscription, [clientId, filter]);
  }

  listSubscriptions(clientId: string): Subscription[] {
    this.#read();
    return (this.#s.listSubscriptions.all(clientId) as SubscriptionRow[]).map(subscriptionFromRow);
  }

  putRetained(message: MqttMessage): Promise<void> {
    return this.#durable(this.#s.putRetained, retainedParams(message));
  }

  /** Durable before the ack of the empty retained PUBLISH [MQTT-3.3.1-6]. */
  deleteRetained(topic: string): Promise<void> {
    return this.#durable(this.#s.deleteRetained, [topic]);
  }

  listRetained(): MqttMessage[] {
    this.#read();
    return (this.#s.listRetained.all() as RetainedRow[]).map(retainedFromRow);
  }

  putDelivery(clientId: string, delivery: StoredDelivery): Promise<void> {
    // The parameters are taken now: the broker goes on mutating the delivery (state, packetId).
    return this.#durable(this.#s.putDelivery, deliveryParams(clientId, delivery));
  }

  deleteDelivery(clientId: string, seq: number): void {
    this.#lazy(this.#s.deleteDelivery, [clientId, seq]);
  }

  listDeliveries(clientId: string): StoredDelivery[] {
    this.#read();
    return (this.#s.listDeliveries.all(clientId) as DeliveryRow[]).map(deliveryFromRow);
  }

  addIncomingQos2(clientId: string, packetId: number): Promise<void> {
    return this.#durable(this.#s.addIncoming, [clientId, packetId]);
  }

  /**
   * Durable before PUBCOMP: a deletion lost in a crash would make the broker take the client's
   * next QoS 2 PUBLISH with this identifier for a duplicate and drop it [MQTT-4.3.3-9].
   */
  deleteIncomingQos2(clientId: string, packetId: number): Promise<void> {
    return this.#durable(this.#s.deleteIncoming, [clientId, packetId]);
  }

  listIncomingQos2(clientId: string): number[] {
    this.#read();
    return (this.#s.listIncomings.all(clientId) as { packet_id: number }[]).map((r) => r.packet_id);
  }

  /** Commits every queued write now (`MqttBroker.close()`). */
  flush(): void {
    if (!this.#closed) this.#commit();
  }

  /** Commits what is queued and refuses further work; the database stays open (its owner's). */
  close(): void {
    if (this.#closed) return;
    try {
      if (this.#db.open) this.#commit();
    } finally {
      this.#closed = true;
    }
  }
}
