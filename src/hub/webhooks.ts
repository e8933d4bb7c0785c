/**
 * Webhooks: URLs that device events are POSTed to (docs/webhooks-and-streams.md). The hub's
 * API for them: it checks and stores their definitions, and feeds each one's matching events
 * to its delivery (src/hub/webhook-delivery.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { WebhookRecord, WebhookStore } from '../store/ports.js';
import { StoreConflictError } from '../store/ports.js';
import type { Clock } from '../util/clock.js';
import { checkEventFilter, type DeviceEventFeed, type DeviceEventType } from './device-events.js';
import { invalid } from './errors.js';
import {
  DEFAULT_DELIVERY_POLICY,
  type DeliveryObserver,
  type DeliveryPolicy,
  WebhookDelivery,
} from './webhook-delivery.js';

export interface WebhookInput {
  url: string;
  events?: readonly string[];
  devices?: readonly string[];
  paths?: readonly string[];
  /** A `whsec_` secret, or true to have one made (and shown once). */
  secret?: string | true;
  description?: string;
}

/** A webhook as the API shows it: whether it signs, never its secret. */
export interface WebhookView {
  id: string;
  url: string;
  events: readonly string[];
  devices: readonly string[];
  paths: readonly string[];
  signed: boolean;
  description: string;
  createdAt: number;
  /** Events waiting on this node, the one in flight included. */
  queued: number;
}

export interface WebhooksOptions {
  store: WebhookStore;
  events: DeviceEventFeed;
  clock: Clock;
  logger: Logger;
  /** `Tandem/<version>`, the User-Agent of deliveries. */
  userAgent: string;
  policy?: Partial<DeliveryPolicy>;
  observer?: Partial<DeliveryObserver>;
  random?: () => number;
  fetch?: typeof fetch;
}

/** Standard Webhooks 1.0: symmetric secrets are 24 to 64 random bytes, base64, `whsec_` first. */
const SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]+={0,2}$/;
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
const MAX_URL_LENGTH = 2048;

export class WebhookError extends Error {
  readonly code = 'TANDEM_ERR_WEBHOOK_NOT_FOUND';
}

export class Webhooks {
  readonly #o: WebhooksOptions;
  readonly #policy: DeliveryPolicy;
  readonly #live = new Map<string, { delivery: WebhookDelivery; unsubscribe: () => void }>();
  #closed = false;

  constructor(options: WebhooksOptions) {
    this.#o = options;
    this.#policy = { ...DEFAULT_DELIVERY_POLICY, ...options.policy };
  }

  /** Starts delivering to every stored webhook. */
  async start(): Promise<void> {
    for (const hook of await this.#o.store.list()) this.#attach(hook);
  }

  /** Checks and stores a webhook; with `secret: true`, the answer holds the made secret. */
  async create(input: WebhookInput): Promise<WebhookView & { secret?: string }> {
    const url = checkUrl(input.url);
    const filter = checkEventFilter(
      { types: input.events, devices: input.devices, paths: input.paths },
      { types: 'events', devices: 'devices', paths: 'paths' },
    );
    const secret =
      input.secret === true
        ? `whsec_${randomBytes(32).toString('base64')}`
        : input.secret === undefined
          ? undefined
          : checkSecret(input.secret);
    const description = input.description ?? '';
    if (typeof description !== 'string' || description.length > 200) {
      throw invalid('description', 'at most 200 characters');
    }
    let record: WebhookRecord;
    try {
      record = await this.#o.store.create({
        id: `wh_${randomBytes(6).toString('hex')}`,
        url,
        events: filter.types ?? [],
        devices: filter.devices ?? [],
        paths: filter.paths ?? [],
        ...(secret !== undefined ? { secret } : {}),
        description,
      });
    } catch (err) {
      // Twelve random hex digits: a clash is the store's fault, not the caller's.
      if (err instanceof StoreConflictError) throw new Error('webhook id clash: try again');
      throw err;
    }
    this.#attach(record);
    return { ...this.#view(record), ...(input.secret === true ? { secret: secret! } : {}) };
  }

  async list(): Promise<WebhookView[]> {
    return (await this.#o.store.list()).map((h) => this.#view(h));
  }

  async get(id: string): Promise<WebhookView> {
    const hook = await this.#o.store.get(id);
    if (!hook) throw new WebhookError(`no webhook ${id}`);
    return this.#view(hook);
  }

  /** Deletes it; events still queued for it are dropped (counted as at shutdown). */
  async delete(id: string): Promise<void> {
    if (!(await this.#o.store.delete(id))) throw new WebhookError(`no webhook ${id}`);
    const live = this.#live.get(id);
    this.#live.delete(id);
    live?.unsubscribe();
    await live?.delivery.close();
  }

  /** Events waiting per webhook on this node. */
  queued(): [string, number][] {
    return [...this.#live].map(([id, l]) => [id, l.delivery.queued]);
  }

  /** Stops taking events, cuts requests in flight, and counts what was left undelivered. */
  async close(): Promise<void> {
    this.#closed = true;
    const live = [...this.#live.values()];
    this.#live.clear();
    for (const l of live) l.unsubscribe();
    await Promise.all(live.map((l) => l.delivery.close()));
  }

  #attach(hook: WebhookRecord): void {
    if (this.#closed) return;
    const delivery = new WebhookDelivery(hook, {
      clock: this.#o.clock,
      logger: this.#o.logger,
      policy: this.#policy,
      observer: this.#o.observer ?? {},
      userAgent: this.#o.userAgent,
      random: this.#o.random ?? Math.random,
      fetch: this.#o.fetch ?? fetch,
    });
    // Checked when the webhook was created.
    const filter = {
      types: hook.events as DeviceEventType[],
      devices: hook.devices,
      paths: hook.paths,
    };
    const unsubscribe = this.#o.events.subscribe(filter, (e) => delivery.enqueue(e));
    this.#live.set(hook.id, { delivery, unsubscribe });
  }

  #view(h: WebhookRecord): WebhookView {
    return {
      id: h.id,
      url: h.url,
      events: h.events,
      devices: h.devices,
      paths: h.paths,
      signed: h.secret !== undefined,
      description: h.description,
      createdAt: h.createdAt,
      queued: this.#live.get(h.id)?.delivery.queued ?? 0,
    };
  }
}

function checkUrl(text: unknown): string {
  if (typeof text !== 'string' || text.length > MAX_URL_LENGTH) {
    throw invalid('url', `must be a URL of at most ${MAX_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid('url', 'is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid('url', 'must be http: or https:');
  }
  // A password in the URL would be shown by every GET of the webhook.
  if (url.username !== '' || url.password !== '') {
    throw invalid('url', 'must not hold a user name or password: sign deliveries with a secret');
  }
  return url.href;
}

function checkSecret(secret: unknown): string {
  if (typeof secret !== 'string' || !SECRET_PATTERN.test(secret)) {
    throw invalid(
      'secret',
      'must be whsec_ followed by base64 (Standard Webhooks), or true to make one',
    );
  }
  const bytes = Buffer.from(secret.slice('whsec_'.length), 'base64').length;
  if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
    throw invalid('secret', `must hold ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes`);
  }
  return secret;
}
