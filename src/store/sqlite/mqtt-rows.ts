import type { MessageProperties, MqttMessage } from '../../mqtt/message.js';
import type { StoredDelivery, StoredSession } from '../../mqtt/persistence/types.js';
import type { Subscription } from '../../mqtt/topic/subscription.js';

/**
 * Rows of the MQTT tables (migration 2) and their mapping to the broker's persistence types.
 * Each `*Params` function returns the values of its `*_COLUMNS`, in that order.
 */

type SqlValue = string | number | bigint | Buffer | null;

const MESSAGE_COLUMNS = ['topic', 'payload', 'qos', 'retain', 'properties', 'expires_at', 'origin'];

export const SESSION_COLUMNS = [
  'client_id',
  'protocol_version',
  'expiry_interval',
  'disconnected_at',
  'will_delay',
  ...MESSAGE_COLUMNS.map((c) => `will_${c}`),
];

export const SUBSCRIPTION_COLUMNS = [
  'client_id',
  'filter',
  'topic_filter',
  'qos',
  'no_local',
  'retain_as_published',
  'retain_handling',
  'subscription_identifier',
  'share_group',
];

export const RETAINED_COLUMNS = MESSAGE_COLUMNS;

export const DELIVERY_COLUMNS = [
  'client_id',
  'seq',
  'state',
  'packet_id',
  'qos',
  'retain',
  'subscription_ids',
  'share_group',
  'topic',
  'payload',
  'message_qos',
  'message_retain',
  'properties',
  'expires_at',
  'origin',
];

/** `INSERT OR REPLACE` naming its columns, so that a later migration may add some. */
export function upsertSql(table: string, columns: readonly string[]): string {
  return `INSERT OR REPLACE INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
}

/** A message as stored: payload BLOB, properties JSON. */
interface MessageColumns {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: number;
  properties: string | null;
  expires_at: number | null;
  origin: string | null;
}

export interface SessionRow {
  client_id: string;
  protocol_version: number;
  expiry_interval: number;
  disconnected_at: number | null;
  will_delay: number | null;
  will_topic: string | null;
  will_payload: Buffer | null;
  will_qos: number | null;
  will_retain: number | null;
  will_properties: string | null;
  will_expires_at: number | null;
  will_origin: string | null;
}

export interface SubscriptionRow {
  client_id: string;
  filter: string;
  topic_filter: string;
  qos: number;
  no_local: number;
  retain_as_published: number;
  retain_handling: number;
  subscription_identifier: number | null;
  share_group: string | null;
}

export type RetainedRow = MessageColumns;

export interface DeliveryRow {
  client_id: string;
  seq: number;
  state: StoredDelivery['state'];
  packet_id: number | null;
  qos: number;
  retain: number;
  subscription_ids: string | null;
  share_group: string | null;
  topic: string;
  payload: Buffer;
  message_qos: number;
  message_retain: number;
  properties: string | null;
  expires_at: number | null;
  origin: string | null;
}

/** Marker of a Buffer inside properties JSON (correlation data is binary, MQTT 5.0 §3.3.2.3.6). */
const B64 = '$b64';

/**
 * Properties as JSON, `null` when there are none (the common case, kept free of JSON work).
 * Buffers become `{"$b64": "..."}` explicitly, whatever property holds them.
 */
export function encodeProperties(p: MessageProperties): string | null {
  let out: Record<string, unknown> | undefined;
  for (const key in p) {
    const value = (p as Record<string, unknown>)[key];
    if (value === undefined) continue;
    out ??= {};
    out[key] = Buffer.isBuffer(value) ? { [B64]: value.toString('base64') } : value;
  }
  return out === undefined ? null : JSON.stringify(out);
}

export function decodeProperties(json: string | null): MessageProperties {
  if (json === null) return {};
  return JSON.parse(json, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const keys = Object.keys(value);
      const encoded = (value as Record<string, unknown>)[B64];
      if (keys.length === 1 && typeof encoded === 'string') return Buffer.from(encoded, 'base64');
    }
    return value;
  }) as MessageProperties;
}

function messageParams(m: MqttMessage): SqlValue[] {
  return [
    m.topic,
    m.payload,
    m.qos,
    m.retain ? 1 : 0,
    encodeProperties(m.properties),
    m.expiresAt ?? null,
    m.origin ?? null,
  ];
}

function message(c: MessageColumns): MqttMessage {
  const m: MqttMessage = {
    topic: c.topic,
    payload: c.payload,
    qos: c.qos as 0 | 1 | 2,
    retain: c.retain === 1,
    properties: decodeProperties(c.properties),
  };
  if (c.expires_at !== null) m.expiresAt = c.expires_at;
  if (c.origin !== null) m.origin = c.origin;
  return m;
}

export function sessionParams(s: StoredSession): SqlValue[] {
  const head: SqlValue[] = [
    s.clientId,
    s.protocolVersion,
    s.expiryInterval,
    s.disconnectedAt ?? null,
  ];
  if (!s.will) return [...head, null, null, null, null, null, null, null, null];
  return [...head, s.will.delayInterval, ...messageParams(s.will.message)];
}

export function sessionFromRow(r: SessionRow): StoredSession {
  const s: StoredSession = {
    clientId: r.client_id,
    protocolVersion: r.protocol_version as 3 | 4 | 5,
    expiryInterval: r.expiry_interval,
  };
  if (r.disconnected_at !== null) s.disconnectedAt = r.disconnected_at;
  if (r.will_delay !== null && r.will_topic !== null && r.will_payload !== null) {
    s.will = {
      delayInterval: r.will_delay,
      message: message({
        topic: r.will_topic,
        payload: r.will_payload,
        qos: r.will_qos ?? 0,
        retain: r.will_retain ?? 0,
        properties: r.will_properties,
        expires_at: r.will_expires_at,
        origin: r.will_origin,
      }),
    };
  }
  return s;
}

export function subscriptionParams(clientId: string, sub: Subscription): SqlValue[] {
  return [
    clientId,
    sub.filter,
    sub.topicFilter,
    sub.qos,
    sub.noLocal ? 1 : 0,
    sub.retainAsPublished ? 1 : 0,
    sub.retainHandling,
    sub.subscriptionIdentifier ?? null,
    sub.group ?? null,
  ];
}

export function subscriptionFromRow(r: SubscriptionRow): Subscription {
  const sub: Subscription = {
    clientId: r.client_id,
    filter: r.filter,
    topicFilter: r.topic_filter,
    qos: r.qos as 0 | 1 | 2,
    noLocal: r.no_local === 1,
    retainAsPublished: r.retain_as_published === 1,
    retainHandling: r.retain_handling as 0 | 1 | 2,
  };
  if (r.subscription_identifier !== null) sub.subscriptionIdentifier = r.subscription_identifier;
  if (r.share_group !== null) sub.group = r.share_group;
  return sub;
}

export function retainedParams(m: MqttMessage): SqlValue[] {
  return messageParams(m);
}

export function retainedFromRow(r: RetainedRow): MqttMessage {
  return message(r);
}

export function deliveryParams(clientId: string, d: StoredDelivery): SqlValue[] {
  const m = d.message;
  return [
    clientId,
    d.seq,
    d.state,
    d.packetId ?? null,
    d.qos,
    d.retain ? 1 : 0,
    d.subscriptionIds ? d.subscriptionIds.join(',') : null,
    d.group ?? null,
    ...messageParams(m),
  ];
}

export function deliveryFromRow(r: DeliveryRow): StoredDelivery {
  const d: StoredDelivery = {
    seq: r.seq,
    state: r.state,
    qos: r.qos as 0 | 1 | 2,
    retain: r.retain === 1,
    message: message({
      topic: r.topic,
      payload: r.payload,
      qos: r.message_qos,
      retain: r.message_retain,
      properties: r.properties,
      expires_at: r.expires_at,
      origin: r.origin,
    }),
  };
  if (r.packet_id !== null) d.packetId = r.packet_id;
  if (r.subscription_ids !== null) {
    d.subscriptionIds = r.subscription_ids === '' ? [] : r.subscription_ids.split(',').map(Number);
  }
  if (r.share_group !== null) d.group = r.share_group;
  return d;
}
