import type { Logger } from 'pino';
import { type Clock, systemClock } from '../util/clock.js';
import type { Connection } from './connection.js';
import type { AttachRequest, BrokerCore } from './core.js';
import { DeadlineSweep } from './deadlines.js';
import { isExpired, type MqttMessage } from './message.js';
import {
  type ClientInfo,
  DEFAULT_LIMITS,
  type MqttBrokerOptions,
  type MqttBrokerStats,
  type MqttHooks,
  type MqttLimits,
} from './options.js';
import { MemoryPersistence } from './persistence/memory.js';
import type {
  MqttPersistence,
  StoredDelivery,
  StoredSession,
  StoredWill,
} from './persistence/types.js';
import { background, Session } from './session.js';
import { RetainedStore } from './topic/retained-store.js';
import type { Subscription } from './topic/subscription.js';
import { type SharedGroup, TopicTrie } from './topic/trie.js';

const NEVER = 0xffffffff;

function newStats(): MqttBrokerStats {
  return {
    connections: { current: 0, total: 0, rejected: 0 },
    sessions: { total: 0, online: 0 },
    messages: { received: 0, sent: 0, retained: 0, queued: 0, inflight: 0 },
    bytes: { received: 0, sent: 0 },
    subscriptions: 0,
    dropped: { queueFull: 0, packetTooLarge: 0, expired: 0, offlineQos0: 0, sessionEnded: 0 },
    uptimeSeconds: 0,
  };
}

/**
 * The broker's shared state and the rules that span sessions: session lifecycle (takeover,
 * expiry, wills), routing through the topic trie, retained messages and shared subscriptions.
 */
export class BrokerEngine implements BrokerCore {
  readonly clock: Clock;
  readonly persistence: MqttPersistence;
  readonly limits: MqttLimits;
  readonly stats: MqttBrokerStats = newStats();
  readonly logger: Logger | undefined;
  readonly hooks: MqttHooks;
  readonly options: MqttBrokerOptions;
  readonly sessions = new Map<string, Session>();
  readonly connections = new Set<Connection>();
  readonly retained = new RetainedStore();
  readonly trie = new TopicTrie();
  readonly startedAt: number;
  readonly deadlines: DeadlineSweep;

  constructor(options: MqttBrokerOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.deadlines = new DeadlineSweep(this.clock, this.connections);
    this.persistence = options.persistence ?? new MemoryPersistence();
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.logger = options.logger;
    this.hooks = options.hooks ?? {};
    this.startedAt = this.clock.now();
  }

  /** Restores sessions, subscriptions, deliveries and retained messages from persistence. */
  async load(): Promise<void> {
    const p = this.persistence;
    for (const m of await p.listRetained()) {
      if (!isExpired(m, this.clock.now())) this.retained.set(m.topic, m);
      // [MQTT-3.3.2-5] an expired retained message is gone: from the store too, or its rows pile up.
      else background(this, p.deleteRetained(m.topic));
    }
    const restored: Array<[Session, StoredSession]> = [];
    for (const stored of await p.listSessions()) {
      const session = new Session(stored.clientId, this);
      session.protocolVersion = stored.protocolVersion;
      session.expiryInterval = stored.expiryInterval;
      session.persisted = true;
      for (const sub of await p.listSubscriptions(stored.clientId)) {
        session.putSubscription(sub);
        this.trie.add(sub);
      }
      session.restore(
        await p.listDeliveries(stored.clientId),
        await p.listIncomingQos2(stored.clientId),
      );
      this.sessions.set(stored.clientId, session);
      restored.push([session, stored]);
    }
    // Wills and expiries only once every session and subscription is back, so a will routes to
    // all its subscribers. No disconnectedAt: the process stopped while the client was
    // connected, an abnormal end of that connection (its will is due).
    for (const [session, stored] of restored) {
      this.#scheduleOffline(session, stored.disconnectedAt ?? this.clock.now(), stored.will);
    }
  }

  notify<K extends 'onConnect' | 'onDisconnect' | 'onMessage'>(
    hook: K,
    ...args: Parameters<NonNullable<MqttHooks[K]>>
  ): void {
    const fn = this.hooks[hook] as ((...a: typeof args) => void) | undefined;
    if (!fn) return;
    try {
      fn.apply(this.hooks, args);
    } catch (err) {
      this.logger?.error({ err, hook }, 'mqtt observer hook failed');
    }
  }

  clientInfo(conn: Connection): ClientInfo {
    const info: ClientInfo = {
      ...conn.info,
      clientId: conn.clientId,
      protocolVersion: conn.protocolVersion,
    };
    if (conn.username !== undefined) info.username = conn.username;
    if (conn.context !== undefined) info.context = conn.context;
    return info;
  }

  async attach(
    conn: Connection,
    req: AttachRequest,
  ): Promise<{ session: Session; present: boolean }> {
    let existing = this.sessions.get(req.clientId);
    const old = existing?.outlet as Connection | undefined;
    // [MQTT-3.1.4-3] the existing connection of this client is closed (DISCONNECT 0x8E in v5);
    // that close is an abnormal one for its will.
    if (old && old !== conn) old.takeOver();
    existing = this.sessions.get(req.clientId); // it may have ended with that connection
    if (existing && req.cleanStart) {
      // [MQTT-3.1.2-4] Clean Start discards the existing session (its pending will is due).
      this.endSession(existing);
      existing = undefined;
    } else if (existing) {
      // [MQTT-3.1.3-9] a new connection to the session before the will delay: no will.
      this.#clearTimers(existing);
      existing.pendingWill = undefined;
    }
    const present = existing !== undefined; // [MQTT-3.2.2-2] [MQTT-3.2.2-3]
    const session = existing ?? new Session(req.clientId, this);
    this.sessions.set(req.clientId, session);
    session.expiryInterval = req.expiryInterval;
    session.protocolVersion = req.protocolVersion;
    session.outlet = conn;
    conn.session = session;
    this.stats.sessions.online++;
    const wasPersisted = session.persisted;
    session.persisted = req.expiryInterval > 0;
    const writes: unknown[] = [];
    if (session.persisted) {
      writes.push(this.persistence.saveSession(this.#stored(session, conn.will)));
      if (!wasPersisted) {
        for (const sub of session.subscriptions.values()) {
          writes.push(this.persistence.putSubscription(session.clientId, sub));
        }
        for (const d of [...session.inflight.values(), ...session.queue]) {
          if (d.qos > 0) writes.push(this.persistence.putDelivery(session.clientId, d));
        }
      }
    } else if (wasPersisted) {
      writes.push(this.persistence.deleteSession(session.clientId));
    }
    await Promise.all(writes);
    return { session, present };
  }

  #stored(session: Session, will?: StoredWill, disconnectedAt?: number): StoredSession {
    const s: StoredSession = {
      clientId: session.clientId,
      protocolVersion: session.protocolVersion,
      expiryInterval: session.expiryInterval,
    };
    if (disconnectedAt !== undefined) s.disconnectedAt = disconnectedAt;
    if (will) s.will = will;
    return s;
  }

  detach(conn: Connection, graceful: boolean): void {
    const session = conn.session;
    if (!session || session.outlet !== conn) return;
    session.outlet = undefined;
    session.releaseWaiters(); // nobody will drain this queue now: publishers must not wait
    this.stats.sessions.online--;
    for (const d of session.takeSharedForRedelivery()) this.#redeliverShared(d, session.clientId);
    // [MQTT-3.1.2-8] the will is published when the connection closes without DISCONNECT 0x00
    // (0x04 and every server-side close included); [MQTT-3.1.2-10] 0x00 discards it.
    const will = graceful ? undefined : conn.will;
    conn.will = undefined;
    if (conn.wasEstablished && this.hooks.onDisconnect) {
      this.notify('onDisconnect', this.clientInfo(conn), { graceful });
    }
    this.#scheduleOffline(session, this.clock.now(), will);
  }

  /** Starts the will delay and session expiry of a session that has no connection. */
  #scheduleOffline(session: Session, disconnectedAt: number, will: StoredWill | undefined): void {
    const now = this.clock.now();
    const expiryMs =
      session.expiryInterval === NEVER
        ? Number.POSITIVE_INFINITY
        : disconnectedAt + session.expiryInterval * 1000 - now;
    if (will) {
      // MQTT 5.0 §3.1.2.5: the will waits for the Will Delay Interval or the end of the session,
      // whichever comes first.
      const delayMs = Math.min(disconnectedAt + will.delayInterval * 1000 - now, expiryMs);
      if (delayMs <= 0) {
        this.publishWill(will);
      } else {
        session.pendingWill = will;
        session.willTimer = this.clock.setTimeout(() => {
          session.willTimer = undefined;
          const pending = session.pendingWill;
          session.pendingWill = undefined;
          if (pending) this.publishWill(pending);
          if (session.persisted && this.sessions.get(session.clientId) === session) {
            background(
              this,
              this.persistence.saveSession(this.#stored(session, undefined, disconnectedAt)),
            );
          }
        }, delayMs);
        session.willTimer.unref?.();
      }
    }
    if (expiryMs <= 0) {
      this.endSession(session);
      return;
    }
    if (expiryMs !== Number.POSITIVE_INFINITY) {
      session.expiryTimer = this.clock.setTimeout(() => this.endSession(session), expiryMs);
      session.expiryTimer.unref?.();
    }
    if (session.persisted) {
      background(
        this,
        this.persistence.saveSession(this.#stored(session, session.pendingWill, disconnectedAt)),
      );
    }
  }

  #clearTimers(session: Session): void {
    if (session.willTimer) this.clock.clearTimeout(session.willTimer);
    if (session.expiryTimer) this.clock.clearTimeout(session.expiryTimer);
    session.willTimer = undefined;
    session.expiryTimer = undefined;
  }

  /** Ends a session: publishes its pending will, drops its subscriptions and state. */
  endSession(session: Session): void {
    this.#clearTimers(session);
    const will = session.pendingWill;
    session.pendingWill = undefined;
    if (will) this.publishWill(will);
    for (const sub of session.subscriptions.values()) {
      this.trie.remove(session.clientId, sub.topicFilter, sub.group);
    }
    session.clearSubscriptions();
    session.dispose();
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    if (session.persisted) {
      session.persisted = false;
      background(this, this.persistence.deleteSession(session.clientId));
    }
  }

  publishWill(will: StoredWill): void {
    const message: MqttMessage = { ...will.message, properties: { ...will.message.properties } };
    const interval = message.properties.messageExpiryInterval;
    // The will's Message Expiry Interval counts from its publication.
    if (interval !== undefined) message.expiresAt = this.clock.now() + interval * 1000;
    else delete message.expiresAt;
    background(this, this.route(message).write);
  }

  route(message: MqttMessage): { delivered: number; write: unknown } {
    const writes: Promise<unknown>[] = [];
    const keep = (w: unknown) => {
      if (w instanceof Promise) writes.push(w);
    };
    if (message.retain) keep(this.#retain(message));
    const targets = new Map<string, { qos: 0 | 1 | 2; ids?: number[]; rap: boolean }>();
    const groups: SharedGroup[] = [];
    this.trie.match(
      message.topic,
      (sub) => {
        // [MQTT-3.8.3-3] No Local: not sent back to the connection that published it.
        if (sub.noLocal && sub.clientId === message.origin) return;
        const qos = Math.min(message.qos, sub.qos) as 0 | 1 | 2;
        const t = targets.get(sub.clientId);
        if (!t) {
          const entry: { qos: 0 | 1 | 2; ids?: number[]; rap: boolean } = {
            qos,
            rap: sub.retainAsPublished,
          };
          if (sub.subscriptionIdentifier !== undefined) entry.ids = [sub.subscriptionIdentifier];
          targets.set(sub.clientId, entry);
          return;
        }
        // [MQTT-3.3.4-2] overlapping subscriptions: one copy at the highest granted QoS,
        // [MQTT-3.3.4-3] carrying every matching Subscription Identifier.
        if (qos > t.qos) t.qos = qos;
        if (sub.subscriptionIdentifier !== undefined) {
          if (t.ids) t.ids.push(sub.subscriptionIdentifier);
          else t.ids = [sub.subscriptionIdentifier];
        }
        t.rap ||= sub.retainAsPublished;
      },
      (group) => groups.push(group),
    );
    let delivered = 0;
    for (const [clientId, t] of targets) {
      const session = this.sessions.get(clientId);
      if (!session) continue;
      delivered++;
      // [MQTT-3.3.1-12] Retain As Published 0 clears RETAIN on forwarded messages;
      // [MQTT-3.3.1-13] 1 keeps it. 3.1.1 always clears it [MQTT-3.3.1-9 (3.1.1)].
      keep(session.deliver(message, t.qos, t.rap && message.retain, t.ids));
    }
    for (const group of groups) {
      const member = this.#pickMember(group, undefined);
      if (!member) continue;
      const session = this.sessions.get(member.clientId)!;
      delivered++;
      const ids =
        member.subscriptionIdentifier !== undefined ? [member.subscriptionIdentifier] : undefined;
      const qos = Math.min(message.qos, member.qos) as 0 | 1 | 2;
      keep(
        session.deliver(message, qos, member.retainAsPublished && message.retain, ids, group.name),
      );
    }
    return { delivered, write: writes.length > 0 ? Promise.all(writes) : undefined };
  }

  /**
   * Round-robin over the group's members, starting after the last one chosen: the first member
   * with a connection that is writable wins; failing that the first one connected; failing that
   * the next in turn (its session queues the message).
   */
  #pickMember(group: SharedGroup, exclude: string | undefined): Subscription | undefined {
    const n = group.members.length;
    let connected: number | undefined;
    let any: number | undefined;
    for (let k = 0; k < n; k++) {
      const i = (group.next + k) % n;
      const m = group.members[i]!;
      if (m.clientId === exclude) continue;
      const session = this.sessions.get(m.clientId);
      if (!session) continue;
      any ??= i;
      if (!session.outlet) continue;
      connected ??= i;
      if (session.outlet.writable) {
        group.next = (i + 1) % n;
        return m;
      }
    }
    const chosen = connected ?? any;
    if (chosen === undefined) return undefined;
    group.next = (chosen + 1) % n;
    return group.members[chosen];
  }

  /** Gives a shared-subscription delivery of a client that left to another group member. */
  #redeliverShared(d: StoredDelivery, from: string): void {
    const group = this.#findGroup(d);
    const member = group && this.#pickMember(group, from);
    const target = member ? this.sessions.get(member.clientId) : undefined;
    if (!target?.outlet) {
      // Nobody else is connected: keep it with the session it was meant for.
      const own = this.sessions.get(from);
      if (own) background(this, own.accept(d));
      return;
    }
    if (member) {
      d.qos = Math.min(d.message.qos, member.qos) as 0 | 1 | 2;
      if (member.subscriptionIdentifier !== undefined)
        d.subscriptionIds = [member.subscriptionIdentifier];
      else delete d.subscriptionIds;
    }
    background(this, target.accept(d));
  }

  #findGroup(d: StoredDelivery): SharedGroup | undefined {
    let found: SharedGroup | undefined;
    this.trie.match(
      d.message.topic,
      () => {},
      (g) => {
        if (g.name === d.group) found ??= g;
      },
    );
    return found;
  }

  #retain(message: MqttMessage): unknown {
    const sys = message.topic.startsWith('$SYS/');
    if (message.payload.length === 0) {
      // [MQTT-3.3.1-6] an empty retained message deletes the retained message of the topic;
      // [MQTT-3.3.1-7] and is not stored itself.
      const existed = this.retained.delete(message.topic);
      return existed && !sys ? this.persistence.deleteRetained(message.topic) : undefined;
    }
    // [MQTT-3.3.1-5] the message replaces any retained message of the topic.
    const stored: MqttMessage = { ...message };
    delete stored.origin;
    this.retained.set(message.topic, stored);
    return sys ? undefined : this.persistence.putRetained(stored);
  }

  sendRetained(session: Session, sub: Subscription): void {
    const now = this.clock.now();
    for (const message of this.retained.match(sub.topicFilter)) {
      const topic = message.topic;
      if (isExpired(message, now)) {
        this.retained.delete(topic);
        this.stats.dropped.expired++;
        if (!topic.startsWith('$SYS/')) background(this, this.persistence.deleteRetained(topic));
        continue;
      }
      const ids =
        sub.subscriptionIdentifier !== undefined ? [sub.subscriptionIdentifier] : undefined;
      const qos = Math.min(message.qos, sub.qos) as 0 | 1 | 2;
      // [MQTT-3.3.1-9 (3.1.1: -8)] retained messages sent on subscribe carry RETAIN 1.
      background(this, session.deliver(message, qos, true, ids));
    }
  }

  addSubscription(session: Session, sub: Subscription): { existed: boolean; write: unknown } {
    const previous = session.subscriptions.get(sub.filter);
    if (previous) this.trie.remove(session.clientId, previous.topicFilter, previous.group);
    session.putSubscription(sub);
    this.trie.add(sub);
    const write = session.persisted
      ? this.persistence.putSubscription(session.clientId, sub)
      : undefined;
    return { existed: previous !== undefined, write };
  }

  removeSubscription(session: Session, filter: string): { existed: boolean; write: unknown } {
    const sub = session.subscriptions.get(filter);
    if (!sub) return { existed: false, write: undefined };
    session.dropSubscription(filter);
    this.trie.remove(session.clientId, sub.topicFilter, sub.group);
    const write = session.persisted
      ? this.persistence.deleteSubscription(session.clientId, filter)
      : undefined;
    return { existed: true, write };
  }

  /** A snapshot of the counters with the derived ones filled in. */
  snapshot(): MqttBrokerStats {
    const s = this.stats;
    return {
      connections: { ...s.connections },
      sessions: { total: this.sessions.size, online: s.sessions.online },
      messages: { ...s.messages, retained: this.retained.size },
      bytes: { ...s.bytes },
      subscriptions: this.trie.size,
      dropped: { ...s.dropped },
      uptimeSeconds: Math.floor((this.clock.now() - this.startedAt) / 1000),
    };
  }

  /** Stops every timer of every session (broker close). */
  stopTimers(): void {
    this.deadlines.stop();
    for (const session of this.sessions.values()) this.#clearTimers(session);
  }
}
