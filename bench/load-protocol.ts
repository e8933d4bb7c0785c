/** Messages between the harness and its load workers (worker threads or child processes). */
import type { Qos } from './mqtt-wire.js';

export interface ClientSpec {
  role: 'pub' | 'sub' | 'idle';
  clientId: string;
  /** Source address to bind (127.0.0.x) when one address has too few ephemeral ports. */
  localAddress?: string;
  /** Topic for a publisher, topic filter for a subscriber. */
  topic?: string;
  qos: Qos;
  payloadSize: number;
  /** Most QoS 1/2 PUBLISH packets a publisher leaves unacknowledged. */
  window: number;
  /** Messages per second a publisher sends at most (0 or absent: as fast as the windows allow). */
  rate?: number;
}

/**
 * End-to-end flow control for QoS 0, which has no acknowledgements: every worker mirrors its sent
 * and received counts into a shared array, and publishers hold back while more than `window`
 * messages are on their way (sent minus received / subscribers, over all workers). This keeps the
 * broker saturated without letting socket buffers grow, so latency measures the broker rather
 * than the depth of the kernel's buffers.
 */
export interface FlowControl {
  /** Float64 pairs (sent, received), one pair per worker. */
  buffer: SharedArrayBuffer;
  slot: number;
  subscribers: number;
  window: number;
}

export type ToWorker =
  | {
      type: 'connect';
      host: string;
      port: number;
      clients: ClientSpec[];
      concurrency: number;
      timeoutMs: number;
    }
  | { type: 'start'; durationMs: number; settleMs: number; flow?: FlowControl }
  | { type: 'stats' }
  /** Zeroes the counters and the histogram: the end of a warm-up. */
  | { type: 'reset' }
  | { type: 'finish' };

export interface Counters {
  /** PUBLISH packets written (QoS 0) or sent for the first time (QoS 1/2). */
  sent: number;
  /** PUBLISH packets the broker completed: PUBACK (QoS 1) or PUBCOMP (QoS 2); 0 for QoS 0. */
  acked: number;
  /** QoS 1/2 PUBLISH packets still waiting for their acknowledgement. */
  unacked: number;
  /** PUBLISH packets received by subscribers. */
  received: number;
  /** Monotonic µs of the first PUBLISH written, or 0. */
  firstSendAt: number;
  /** Monotonic µs of the last chunk holding a PUBLISH received, or 0. */
  lastReceiveAt: number;
  /** Socket errors and unexpected closes after setup. */
  dropped: number;
}

export type FromWorker =
  | { type: 'connected'; ok: number; failed: number; errors: string[]; seconds: number }
  | ({ type: 'published' } & Counters)
  | ({ type: 'stats' } & Counters)
  | ({ type: 'final'; histogram: number[]; latencyMax: number; errors: string[] } & Counters)
  | { type: 'error'; message: string };
