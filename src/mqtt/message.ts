import type { UserProperties } from './codec/properties.js';

/** Application Message properties carried from publisher to subscribers (MQTT 5.0 §3.3.2.3). */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  /** Seconds, as published. The remaining interval is computed from `expiresAt` on send. */
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  /** In wire order, duplicates kept [MQTT-3.3.2-18]. */
  userProperties?: UserProperties;
}

/** An Application Message inside the broker. */
export interface MqttMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  properties: MessageProperties;
  /** Epoch ms when the message expires (from Message Expiry Interval), if it does. */
  expiresAt?: number;
  /** Client identifier of the publishing session, for No Local; absent for server messages. */
  origin?: string;
}

/** Seconds left before `message` expires (rounded up), `undefined` if it never expires. */
export function remainingExpiry(message: MqttMessage, now: number): number | undefined {
  if (message.expiresAt === undefined) return undefined;
  return Math.max(0, Math.ceil((message.expiresAt - now) / 1000));
}

/** Whether `message` has expired at `now` [MQTT-3.3.2-5]. */
export function isExpired(message: MqttMessage, now: number): boolean {
  return message.expiresAt !== undefined && message.expiresAt <= now;
}
