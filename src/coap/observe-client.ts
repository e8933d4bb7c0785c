/**
 * Client side of Observe (RFC 7641): the state of one observation and the rule that orders its
 * notifications (§3.4).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { DatagramPeer } from '../transport/datagram.js';
import type { Clock } from '../util/clock.js';
import {
  type BlockwiseClientOptions,
  type Exchange,
  type ExchangeParts,
  fetchRemainingBlocks,
  requestBlockwise,
} from './blockwise-client.js';
import { Code } from './code.js';
import { CoapError } from './errors.js';
import type { CoapMessage } from './message.js';
import {
  getOption,
  getUintOption,
  OptionNumber,
  sortOptions,
  uintOption,
  withoutOptions,
} from './option.js';
import { type CoapResponse, type RequestParams, responseFromMessage, tokenKey } from './request.js';

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

/** An observation this endpoint holds as a client, to cancel or register again. */
export interface ObservationHandle {
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

/** The handle returned by `endpoint.observe()`. */
export interface Observation extends ObservationHandle {
  /** The response to the registration (RFC 7641 §3.1); rejects like `request()`. */
  readonly response: Promise<CoapResponse>;
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
  /** Deliveries waiting in `chain`; while 0, a single-block notification is delivered at once. */
  inFlight: number;
  cancelled: boolean;
}

/** What the observe client needs from its endpoint. */
export interface ObserveClientDeps {
  readonly clock: Clock;
  readonly logger: Logger | undefined;
  readonly stats: { notificationsIn: number };
  /** One exchange (one block) with a given token, queued and timed out like any request. */
  exchange(
    peer: DatagramPeer,
    parts: ExchangeParts,
    timeoutMs: number | undefined,
    token?: Buffer,
  ): Promise<CoapMessage>;
  partsOf(params: RequestParams): ExchangeParts;
  blockOptions(params: RequestParams): BlockwiseClientOptions;
}

/** The observations this endpoint holds as a client, by peer and token. */
export class ObserveClient {
  readonly #deps: ObserveClientDeps;
  readonly #observations = new Map<string, ObservationState>();

  constructor(deps: ObserveClientDeps) {
    this.#deps = deps;
  }

  observe(peer: DatagramPeer, params: RequestParams, listener: NotificationListener): Observation {
    // RFC 7252 §5.3.1: a random 8-byte token; it names the observation (RFC 7641 §3.1).
    const token = randomBytes(8);
    const { key, state, handle, register } = this.#track(peer, token, params, listener);
    const response = register(0);
    response.catch(() => this.#end(key, state));
    return Object.assign(handle, { response });
  }

  /**
   * Takes up an observation that the peer accepted earlier, with its token, without sending
   * anything: its notifications are delivered to `listener` from now on (a server that
   * restarted resumes what it kept). There is no last sequence number to compare with, so the
   * first notification is taken, as after a registration (RFC 7641 §3.4).
   */
  resume(
    peer: DatagramPeer,
    token: Buffer,
    params: RequestParams,
    listener: NotificationListener,
  ): ObservationHandle {
    return this.#track(peer, token, params, listener).handle;
  }

  /** Keeps the state of an observation under its peer and token, and makes its handle. */
  #track(peer: DatagramPeer, token: Buffer, params: RequestParams, listener: NotificationListener) {
    const deps = this.#deps;
    const key = tokenKey(peer.key, token);
    const base = deps.partsOf(params);
    const observeOptions = (value: number) =>
      sortOptions([
        ...withoutOptions(base.options, OptionNumber.Observe),
        uintOption(OptionNumber.Observe, value),
      ]);
    const state: ObservationState = {
      peer,
      token,
      listener,
      request: { ...base, options: observeOptions(0) },
      lastSeq: undefined,
      lastAt: 0,
      chain: Promise.resolve(),
      inFlight: 0,
      cancelled: false,
    };
    const register = async (observeValue: number): Promise<CoapResponse> => {
      let registration: CoapMessage | undefined;
      // The request that carries Observe (every Block1 block of it) uses the observation's
      // token; the later Block2 requests for the response do not (RFC 7959 §2.6).
      const exchange: Exchange = async (parts) => {
        const observing = getOption(parts.options, OptionNumber.Observe) !== undefined;
        const m = await deps.exchange(peer, parts, params.timeoutMs, observing ? token : undefined);
        if (observing && m.code !== Code.Continue) {
          registration = m;
          if (observeValue === 0) this.#registered(key, state, m);
        }
        return m;
      };
      const { message, payload } = await requestBlockwise(
        exchange,
        { ...base, options: observeOptions(observeValue) },
        deps.blockOptions(params),
      );
      // A Block1 transfer that ended early registered nothing (RFC 7641 §3.1).
      if (observeValue === 0 && !registration) this.#end(key, state);
      const options = registration?.options ?? message.options;
      return responseFromMessage({ ...message, options }, peer, payload);
    };
    this.#observations.set(key, state);
    const observations = this.#observations;
    const handle: ObservationHandle = {
      token,
      peer,
      get active() {
        return !state.cancelled && observations.get(key) === state;
      },
      cancel: async (active = false) => {
        this.#end(key, state);
        // RFC 7641 §3.6: active cancellation is a GET with Observe=1 and the same token.
        if (active) return register(1);
        return undefined;
      },
      reregister: () => {
        if (state.cancelled) {
          return Promise.reject(new CoapError('COAP_ERR_CANCELLED', 'observation cancelled'));
        }
        // RFC 7641 §3.3.1: re-registration is the same GET with the same token.
        return register(0);
      },
    };
    return { key, state, handle, register };
  }

  /** The live observation that a response with this peer-and-token key belongs to. */
  get(key: string): ObservationState | undefined {
    const state = this.#observations.get(key);
    return state && !state.cancelled ? state : undefined;
  }

  /** Takes one notification (RFC 7641 §3.2), in order (§3.4), completing Block2 ones first. */
  deliver(key: string, state: ObservationState, message: CoapMessage): void {
    const deps = this.#deps;
    deps.stats.notificationsIn++;
    const seq = getUintOption(message.options, OptionNumber.Observe);
    const now = deps.clock.now();
    if (seq !== undefined && state.lastSeq !== undefined) {
      // RFC 7641 §3.4: a notification older than the last one is dropped.
      if (!isNewerNotification(state.lastSeq, state.lastAt, seq, now)) return;
    }
    // RFC 7641 §3.2: an error or a response without Observe ends the observation.
    const ends = seq === undefined || message.code >> 5 !== 2;
    if (seq !== undefined) {
      state.lastSeq = seq;
      state.lastAt = now;
    }
    if (ends) this.#end(key, state);
    const large = getOption(message.options, OptionNumber.Block2) !== undefined;
    if (!large && state.inFlight === 0) {
      // The common case, without a promise per notification.
      this.#call(state, responseFromMessage(message, state.peer), ends);
      return;
    }
    const run = async () => {
      let payload = message.payload;
      let last = message;
      if (large) {
        // RFC 7959 §2.6, §3.3: the rest of a large notification is fetched with GET and Block2.
        const result = await fetchRemainingBlocks(
          (parts) => deps.exchange(state.peer, parts, undefined),
          state.request,
          message,
          deps.blockOptions({ code: Code.Get }),
        );
        payload = result.payload;
        last = result.message;
        // A newer notification arrived meanwhile: this one is outdated (RFC 7641 §3.4).
        if (seq !== undefined && state.lastSeq !== seq) return;
      }
      this.#call(
        state,
        responseFromMessage({ ...last, options: message.options }, state.peer, payload),
        ends,
      );
    };
    state.inFlight++;
    state.chain = state.chain
      .then(run)
      .catch((err) => {
        deps.logger?.debug({ err, peer: state.peer.key }, 'coap: notification dropped');
      })
      .finally(() => {
        state.inFlight--;
      });
  }

  /** Hands a notification to the listener, whose exceptions stay with us. */
  #call(state: ObservationState, notification: CoapResponse, ends: boolean): void {
    if (state.cancelled && !ends) return;
    try {
      state.listener(notification);
    } catch (err) {
      this.#deps.logger?.warn({ err, peer: state.peer.key }, 'coap: notification listener threw');
    }
  }

  /** Takes the response to a registration (RFC 7641 §3.1). */
  #registered(key: string, state: ObservationState, response: CoapMessage): void {
    const seq = getUintOption(response.options, OptionNumber.Observe);
    // RFC 7641 §3.1: a response without Observe (or an error) means no registration.
    if (seq === undefined || response.code >> 5 !== 2) this.#end(key, state);
    else if (!state.cancelled) {
      state.lastSeq = seq;
      state.lastAt = this.#deps.clock.now();
    }
  }

  #end(key: string, state: ObservationState): void {
    state.cancelled = true;
    if (this.#observations.get(key) === state) this.#observations.delete(key);
  }

  /** Number of live observations. */
  get size(): number {
    return this.#observations.size;
  }

  clear(): void {
    for (const state of this.#observations.values()) state.cancelled = true;
    this.#observations.clear();
  }
}
