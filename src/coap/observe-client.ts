/**
 * Client side of Observe (RFC 7641): the state of one observation and the rule that orders its
 * notifications (§3.4).
 */
import type { DatagramPeer } from '../transport/datagram.js';
import type { ExchangeParts } from './blockwise-client.js';
import type { CoapResponse } from './request.js';

/** RFC 7641 §3.4: notifications more than 128 s apart are always taken as newer. */
export const OBSERVE_FRESHNESS_MS = 128_000;
const HALF = 1 << 23;

/**
 * RFC 7641 §3.4: is a notification (v2 received at t2) newer than the last one (v1 at t1)?
 * Sequence numbers are 24-bit and wrap.
 */
export function isNewerNotification(v1: number, t1: number, v2: number, t2: number): boolean {
  return (
    (v1 < v2 && v2 - v1 < HALF) || (v1 > v2 && v1 - v2 > HALF) || t2 > t1 + OBSERVE_FRESHNESS_MS
  );
}

export type NotificationListener = (notification: CoapResponse) => void;

/** The handle returned by `endpoint.observe()`. */
export interface Observation {
  /** The response to the registration (RFC 7641 §3.1); rejects like `request()`. */
  readonly response: Promise<CoapResponse>;
  /** The token that the server's notifications carry. */
  readonly token: Buffer;
  readonly peer: DatagramPeer;
  /** True while notifications are expected (registered and not cancelled). */
  readonly active: boolean;
  /**
   * Stops the observation. Passive (default): forget it, so that the next notification is
   * answered with RST (RFC 7641 §3.6). Active: also send a GET with Observe=1 and the same token,
   * and resolve with the server's answer.
   */
  cancel(active?: boolean): Promise<CoapResponse | undefined>;
  /** Registers again with the same token (RFC 7641 §3.3.1), e.g. after Max-Age has passed. */
  reregister(): Promise<CoapResponse>;
}

/** Endpoint-internal state of an observation. */
export interface ObservationState {
  readonly peer: DatagramPeer;
  readonly token: Buffer;
  readonly listener: NotificationListener;
  /** The registering request, to fetch the later blocks of a large notification. */
  readonly request: ExchangeParts;
  /** Last accepted sequence number and the local time it arrived (RFC 7641 §3.4). */
  lastSeq: number | undefined;
  lastAt: number;
  /** Notifications delivered in order, one at a time (a Block2 one is fetched to its end first). */
  chain: Promise<void>;
  cancelled: boolean;
}
