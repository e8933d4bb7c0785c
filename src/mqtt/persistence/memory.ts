import type { MqttMessage } from '../message.js';
import type { Subscription } from '../topic/subscription.js';
import type { MqttPersistence, StoredDelivery, StoredSession } from './types.js';

/** Copies a message so that stored state never aliases the broker's live objects. */
export function cloneMessage(m: MqttMessage): MqttMessage {
  const properties = { ...m.properties };
  if (properties.correlationData)
    properties.correlationData = Buffer.from(properties.correlationData);
  if (properties.userProperties) {
    properties.userProperties = properties.userProperties.map(([k, v]) => [k, v]);
  }
  const out: MqttMessage = {
    topic: m.topic,
    payload: Buffer.from(m.payload),
    qos: m.qos,
    retain: m.retain,
    properties,
  };
  if (m.expiresAt !== undefined) out.expiresAt = m.expiresAt;
  if (m.origin !== undefined) out.origin = m.origin;
  return out;
}

function cloneDelivery(d: StoredDelivery): StoredDelivery {
  const out: StoredDelivery = { ...d, message: cloneMessage(d.message) };
  if (d.subscriptionIds) out.subscriptionIds = [...d.subscriptionIds];
  return out;
}

function cloneSession(s: StoredSession): StoredSession {
  const out: StoredSession = { ...s };
  if (s.will)
    out.will = { delayInterval: s.will.delayInterval, message: cloneMessage(s.will.message) };
  return out;
}

interface ClientState {
  subs: Map<string, Subscription>;
  deliveries: Map<number, StoredDelivery>;
  incoming: Set<number>;
}

/** In-memory `MqttPersistence`: the default, and the reference for the contract suite. */
export class MemoryPersistence implements MqttPersistence {
  #sessions = new Map<string, StoredSession>();
  #clients = new Map<string, ClientState>();
  #retained = new Map<string, MqttMessage>();

  #client(clientId: string): ClientState {
    let c = this.#clients.get(clientId);
    if (!c) {
      c = { subs: new Map(), deliveries: new Map(), incoming: new Set() };
      this.#clients.set(clientId, c);
    }
    return c;
  }

  saveSession(session: StoredSession): void {
    this.#sessions.set(session.clientId, cloneSession(session));
  }
  getSession(clientId: string): StoredSession | undefined {
    const s = this.#sessions.get(clientId);
    return s && cloneSession(s);
  }
  deleteSession(clientId: string): void {
    this.#sessions.delete(clientId);
    this.#clients.delete(clientId);
  }
  listSessions(): StoredSession[] {
    return [...this.#sessions.values()].map(cloneSession);
  }

  putSubscription(clientId: string, sub: Subscription): void {
    this.#client(clientId).subs.set(sub.filter, { ...sub });
  }
  deleteSubscription(clientId: string, filter: string): void {
    this.#clients.get(clientId)?.subs.delete(filter);
  }
  listSubscriptions(clientId: string): Subscription[] {
    return [...(this.#clients.get(clientId)?.subs.values() ?? [])].map((s) => ({ ...s }));
  }

  putRetained(message: MqttMessage): void {
    this.#retained.set(message.topic, cloneMessage(message));
  }
  deleteRetained(topic: string): void {
    this.#retained.delete(topic);
  }
  listRetained(): MqttMessage[] {
    return [...this.#retained.values()].map(cloneMessage);
  }

  putDelivery(clientId: string, delivery: StoredDelivery): void {
    this.#client(clientId).deliveries.set(delivery.seq, cloneDelivery(delivery));
  }
  deleteDelivery(clientId: string, seq: number): void {
    this.#clients.get(clientId)?.deliveries.delete(seq);
  }
  listDeliveries(clientId: string): StoredDelivery[] {
    const all = [...(this.#clients.get(clientId)?.deliveries.values() ?? [])];
    return all.sort((a, b) => a.seq - b.seq).map(cloneDelivery);
  }

  addIncomingQos2(clientId: string, packetId: number): void {
    this.#client(clientId).incoming.add(packetId);
  }
  deleteIncomingQos2(clientId: string, packetId: number): void {
    this.#clients.get(clientId)?.incoming.delete(packetId);
  }
  listIncomingQos2(clientId: string): number[] {
    return [...(this.#clients.get(clientId)?.incoming ?? [])].sort((a, b) => a - b);
  }

  flush(): void {}
}
