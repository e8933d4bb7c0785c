/**
 * The delivery of one webhook's events: a bounded in-memory queue, one POST at a time (so the
 * receiver gets them in order), retries with exponential back-off and jitter.
 *
 * Each POST follows Standard Webhooks 1.0 (https://www.standardwebhooks.com): the body is the
 * event's JSON; `webhook-id` identifies the event (the same on every retry, an idempotency
 * key); `webhook-timestamp` is the attempt's time in Unix seconds; with a secret,
 * `webhook-signature` is `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { WebhookRecord } from '../store/ports.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { DeviceEvent } from './device-events.js';

export interface DeliveryPolicy {
  /** One attempt may take this long (connect, send, answer headers). */
  timeoutMs: number;
  /** Attempts per event, the first included. */
  maxAttempts: number;
  /** Back-off before the second attempt; doubles with each further one. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A longer Retry-After than this is cut to it. */
  maxRetryAfterMs: number;
  /** Events waiting per webhook, the one in flight included; more are dropped and counted. */
  queueLimit: number;
}

export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = {
  timeoutMs: 10_000,
  maxAttempts: 8,
  baseDelayMs: 1_000,
  maxDelayMs: 5 * 60_000,
  maxRetryAfterMs: 60 * 60_000,
  queueLimit: 1_000,
};

/** What happened to events, for metrics; every event ends in exactly one of these. */
export interface DeliveryObserver {
  /** The receiver answered 2xx. */
  delivered(webhookId: string, attempts: number): void;
  /** Given up: `rejected` (a 3xx or 4xx other than 429) or `exhausted` (every attempt failed). */
  failed(webhookId: string, reason: 'rejected' | 'exhausted'): void;
  /** Never attempted (or cut short): the queue was full, or the server stopped. */
  dropped(webhookId: string, reason: 'overflow' | 'shutdown', count: number): void;
  /** A failed attempt will be retried after `delayMs`. */
  retrying(webhookId: string, attempt: number, delayMs: number): void;
}

export interface DeliveryContext {
  clock: Clock;
  logger: Logger;
  policy: DeliveryPolicy;
  observer: Partial<DeliveryObserver>;
  userAgent: string;
  /** Jitter source, [0, 1). */
  random: () => number;
  fetch: typeof fetch;
}

type Outcome =
  | { kind: 'ok' }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  | { kind: 'fail'; reason: string };

/** The HMAC key of a `whsec_` secret: its base64 payload (Standard Webhooks 1.0, signature scheme). */
export function signingKey(secret: string): Buffer {
  return Buffer.from(secret.slice('whsec_'.length), 'base64');
}

/** `v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}` (Standard Webhooks 1.0). */
export function sign(key: Buffer, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/**
 * RFC 9110 §10.2.3: Retry-After is delay-seconds or an HTTP-date; undefined when absent or
 * neither.
 */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export class WebhookDelivery {
  readonly #hook: WebhookRecord;
  readonly #c: DeliveryContext;
  readonly #key: Buffer | undefined;
  readonly #queue: DeviceEvent[] = [];
  #running: Promise<void> | undefined;
  #closed = false;
  /** Cancels what the loop is waiting for: the back-off timer or the request. */
  #cancel: (() => void) | undefined;
  /** Events dropped since the queue last had room, for one log line per overflow. */
  #overflowed = 0;

  constructor(hook: WebhookRecord, context: DeliveryContext) {
    this.#hook = hook;
    this.#c = context;
    this.#key = hook.secret === undefined ? undefined : signingKey(hook.secret);
  }

  /** Events waiting, the one in flight included. */
  get queued(): number {
    return this.#queue.length;
  }

  enqueue(event: DeviceEvent): void {
    if (this.#closed) return;
    const { id } = this.#hook;
    if (this.#queue.length >= this.#c.policy.queueLimit) {
      if (this.#overflowed++ === 0) {
        this.#c.logger.warn(
          { webhook: id, queueLimit: this.#c.policy.queueLimit },
          'webhook queue full: dropping events until the receiver catches up',
        );
      }
      this.#c.observer.dropped?.(id, 'overflow', 1);
      return;
    }
    if (this.#overflowed > 0) {
      this.#c.logger.warn(
        { webhook: id, dropped: this.#overflowed },
        'webhook queue has room again; events were dropped',
      );
      this.#overflowed = 0;
    }
    this.#queue.push(event);
    this.#running ??= this.#run();
  }

  /** Stops: the request in flight is cut, what waits is dropped (counted and logged). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancel?.();
    await this.#running;
    const left = this.#queue.splice(0).length;
    if (left > 0) {
      this.#c.logger.warn(
        { webhook: this.#hook.id, dropped: left },
        'webhook events not delivered: stopping',
      );
      this.#c.observer.dropped?.(this.#hook.id, 'shutdown', left);
    }
  }

  async #run(): Promise<void> {
    while (!this.#closed && this.#queue.length > 0) {
      const done = await this.#deliver(this.#queue[0]!);
      if (!done) break;
      this.#queue.shift();
    }
    this.#running = undefined;
  }

  /** One event, with its retries; false when stopped before it was settled. */
  async #deliver(event: DeviceEvent): Promise<boolean> {
    const { id } = this.#hook;
    const { policy, observer, logger } = this.#c;
    const body = JSON.stringify(event);
    const deliveryId = `msg_${randomUUID()}`;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attempt(deliveryId, body, event, attempt);
      if (this.#closed) return false;
      if (outcome.kind === 'ok') {
        observer.delivered?.(id, attempt);
        return true;
      }
      const log = { webhook: id, delivery: deliveryId, attempt, reason: outcome.reason };
      if (outcome.kind === 'fail') {
        logger.warn(log, 'webhook delivery rejected by the receiver: not retried');
        observer.failed?.(id, 'rejected');
        return true;
      }
      if (attempt >= policy.maxAttempts) {
        logger.warn(log, 'webhook delivery failed: no attempts left');
        observer.failed?.(id, 'exhausted');
        return true;
      }
      const delay =
        outcome.retryAfterMs !== undefined
          ? Math.min(outcome.retryAfterMs, policy.maxRetryAfterMs)
          : this.#backoff(attempt);
      logger.debug({ ...log, delayMs: delay }, 'webhook delivery failed: retrying');
      observer.retrying?.(id, attempt, delay);
      if (!(await this.#sleep(delay))) return false;
    }
  }

  /**
   * Exponential back-off with "equal jitter": half the doubled delay, plus a random part of
   * the other half, so that receivers coming back are not hit by every sender at once.
   */
  #backoff(attempt: number): number {
    const { baseDelayMs, maxDelayMs } = this.#c.policy;
    const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    return Math.round(cap / 2 + this.#c.random() * (cap / 2));
  }

  #sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = this.#c.clock.setTimeout(() => {
        this.#cancel = undefined;
        resolve(true);
      }, ms);
      this.#cancel = () => {
        this.#c.clock.clearTimeout(timer);
        resolve(false);
      };
    });
  }

  async #attempt(
    deliveryId: string,
    body: string,
    event: DeviceEvent,
    attempt: number,
  ): Promise<Outcome> {
    const { clock, policy } = this.#c;
    const timestamp = Math.floor(clock.now() / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': this.#c.userAgent,
      'webhook-id': deliveryId,
      'webhook-timestamp': String(timestamp),
      'x-tandem-webhook': this.#hook.id,
      'x-tandem-event': event.type,
      'x-tandem-attempt': String(attempt),
    };
    if (this.#key) headers['webhook-signature'] = sign(this.#key, deliveryId, timestamp, body);
    const abort = new AbortController();
    let timedOut = false;
    const timer: TimerHandle = clock.setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, policy.timeoutMs);
    this.#cancel = () => abort.abort();
    try {
      const res = await this.#c.fetch(this.#hook.url, {
        method: 'POST',
        headers,
        body,
        // A redirected POST would become a GET (RFC 9110 §15.4): the URL is wrong, say so.
        redirect: 'manual',
        signal: abort.signal,
      });
      // The answer's body is not read: free the connection.
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { kind: 'ok' };
      const reason = `HTTP ${res.status}`;
      // RFC 9110 §15.6 (5xx: the server failed) and RFC 6585 §4 (429 Too Many Requests) are
      // worth another try, after the Retry-After the server may give (RFC 9110 §10.2.3).
      if (res.status === 429 || res.status >= 500) {
        const after = retryAfterMs(res.headers.get('retry-after'), clock.now());
        return { kind: 'retry', reason, ...(after !== undefined ? { retryAfterMs: after } : {}) };
      }
      return { kind: 'fail', reason };
    } catch (err) {
      const reason = timedOut
        ? `no answer within ${policy.timeoutMs} ms`
        : ((err as { cause?: Error }).cause?.message ?? (err as Error).message);
      return { kind: 'retry', reason };
    } finally {
      clock.clearTimeout(timer);
      this.#cancel = undefined;
    }
  }
}
