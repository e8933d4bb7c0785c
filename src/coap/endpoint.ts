/**
 * The CoAP endpoint (RFC 7252) over one datagram transport: both server (handles requests) and
 * client (sends requests, observes) on the same socket, so that the LwM2M server reaches a device
 * through the address it registered from. Layers as in Californium: message codec and
 * deduplication, reliability (CON retransmission), matching of responses to our requests,
 * congestion control (NSTART, PROBING_RATE), Observe and block-wise. Nothing a peer sends can
 * raise an exception past this class; everything is counted in `stats`.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { DatagramPeer, DatagramTransport } from '../transport/datagram.js';

export type { RequestHandler } from './request.js';

import { type Clock, systemClock, type TimerHandle } from '../util/clock.js';
import { szxOf } from './block-option.js';
import { type BlockwiseLimits, BlockwiseServer, defaultBlockwiseLimits } from './blockwise.js';
import {
  type BlockwiseClientOptions,
  type ExchangeParts,
  requestBlockwise,
} from './blockwise-client.js';
import { Code, isRequestCode, isResponseCode } from './code.js';
import { CongestionControl, type Slot } from './congestion.js';
import { Deduplicator } from './dedup.js';
import { CoapError, CoapResetError, CoapTimeoutError } from './errors.js';
import {
  type CoapMessage,
  decodeMessage,
  describeMessage,
  encodeEmpty,
  encodeMessage,
  MessageType,
} from './message.js';
import { MessageIdProvider } from './message-id.js';
import {
  type NotificationListener,
  type Observation,
  type ObservationHandle,
  ObserveClient,
} from './observe-client.js';
import {
  type ObserverEntry,
  type ServerObservation,
  ServerObserveRegistry,
} from './observe-server.js';
import { findUnrecognisedCritical } from './option.js';
import { defaultTransmissionParameters, type TransmissionParameters } from './parameters.js';
import { ReliabilityLayer } from './reliability.js';
import {
  type CoapRequest,
  type CoapResponse,
  type RequestHandler,
  type RequestParams,
  requestOptions,
  responseFromMessage,
  toBuffer,
  tokenKey,
} from './request.js';
import { handleRequest } from './request-handling.js';
import { type ServerContext, sendNotification } from './server-exchange.js';

export interface CoapEndpointOptions {
  /** Handler of every incoming request; without one, requests get 4.04. */
  readonly handler?: RequestHandler;
  readonly clock?: Clock;
  /** Random numbers in [0, 1) for the retransmission back-off (RFC 7252 §4.2). */
  readonly random?: () => number;
  readonly logger?: Logger;
  readonly params?: Partial<TransmissionParameters>;
  /** Time a handler may take before we send an empty ACK and respond separately (§5.2.2). */
  readonly separateResponseAfterMs?: number;
  /** Preferred block size, 16 to 1024 (RFC 7959 §2.2). Default 1024. */
  readonly blockSize?: number;
  readonly blockwise?: Partial<BlockwiseLimits>;
  /** Bound on remembered message IDs (RFC 7252 §4.5). Default 100,000. */
  readonly maxDedupEntries?: number;
  /** Bound on observers of our resources (RFC 7641 §4); `acceptObserve` refuses beyond. */
  readonly maxObservers?: number;
  /** Critical options the handler understands beyond those of RFC 7252, 7641, 7959. */
  readonly knownOptions?: Iterable<number>;
  /** Called for every well-formed datagram from a peer (queue mode: the device is awake). */
  readonly onPeerSeen?: (peer: DatagramPeer) => void;
}

/** Plain counters; read them at any time. */
export interface CoapStats {
  messagesIn: number;
  messagesOut: number;
  requestsIn: number;
  requestsOut: number;
  responsesIn: number;
  responsesOut: number;
  notificationsIn: number;
  notificationsOut: number;
  duplicates: number;
  retransmissions: number;
  malformed: number;
  timeouts: number;
  rstIn: number;
  rstOut: number;
  badOption: number;
  unmatched: number;
  /** Requests whose handler threw or answered something that cannot be sent (5.00 sent). */
  handlerErrors: number;
  /** Bugs of ours caught at the endpoint's edge (should stay 0). */
  internalErrors: number;
  blockwiseTransfers: number;
  sendErrors: number;
}

/** Sizes of the endpoint's state at one moment. */
export interface CoapGauges {
  /** Our requests waiting for a response (queued under NSTART included). */
  readonly pendingRequests: number;
  /** Our observations of resources on peers (RFC 7641 as client). */
  readonly observations: number;
  /** Observers of our resources (RFC 7641 as server). */
  readonly observers: number;
  /** Remembered message IDs (RFC 7252 §4.5) and the bytes of their cached replies. */
  readonly dedupEntries: number;
  readonly dedupReplyBytes: number;
  /** Our CON messages awaiting ACK (RFC 7252 §4.2). */
  readonly retransmitting: number;
  /** Server-side block-wise transfers in progress and the bytes they hold (RFC 7959). */
  readonly blockwiseTransfers: number;
  readonly blockwiseBytes: number;
}

interface PendingExchange {
  readonly peer: DatagramPeer;
  readonly key: string;
  readonly token: Buffer;
  messageId: number;
  confirmable: boolean;
  slot: Slot | undefined;
  cancelQueued: (() => void) | undefined;
  timer: TimerHandle | undefined;
  readonly resolve: (message: CoapMessage) => void;
  readonly reject: (error: Error) => void;
}

export class CoapEndpoint {
  readonly transport: DatagramTransport;
  readonly stats: CoapStats = {
    messagesIn: 0,
    messagesOut: 0,
    requestsIn: 0,
    requestsOut: 0,
    responsesIn: 0,
    responsesOut: 0,
    notificationsIn: 0,
    notificationsOut: 0,
    duplicates: 0,
    retransmissions: 0,
    malformed: 0,
    timeouts: 0,
    rstIn: 0,
    rstOut: 0,
    badOption: 0,
    unmatched: 0,
    handlerErrors: 0,
    internalErrors: 0,
    blockwiseTransfers: 0,
    sendErrors: 0,
  };
  readonly params: TransmissionParameters;

  #handler: RequestHandler | undefined;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  /** Message tracing costs a string per datagram; only when the logger wants it. */
  readonly #trace: boolean;
  readonly #separateAfterMs: number;
  readonly #szx: number;
  readonly #limits: BlockwiseLimits;
  readonly #knownOptions: ReadonlySet<number>;
  readonly #maxObservers: number;
  readonly #onPeerSeen: ((peer: DatagramPeer) => void) | undefined;
  readonly #dedup: Deduplicator;
  readonly #reliability: ReliabilityLayer;
  readonly #congestion: CongestionControl;
  readonly #blockwise: BlockwiseServer;
  readonly #pending = new Map<string, PendingExchange>();
  /** Request objects handed to handlers, back to their messages (for `acceptObserve`). */
  readonly #requestMessages = new WeakMap<CoapRequest, CoapMessage>();
  readonly #observeClient: ObserveClient;
  readonly #observers: ServerObserveRegistry;
  readonly #ctx: ServerContext;
  readonly #messageIds: MessageIdProvider;
  /** Our NON requests by peer and message ID, to fail them on RST (RFC 7252 §4.3). */
  readonly #nonRequests = new Map<string, PendingExchange>();
  #closed = false;

  constructor(transport: DatagramTransport, options: CoapEndpointOptions = {}) {
    this.transport = transport;
    this.#handler = options.handler;
    this.#clock = options.clock ?? systemClock;
    const random = options.random ?? Math.random;
    this.#logger = options.logger;
    this.#trace = options.logger?.isLevelEnabled('trace') ?? false;
    this.params = { ...defaultTransmissionParameters, ...options.params };
    this.#separateAfterMs = options.separateResponseAfterMs ?? 1000;
    const szx = szxOf(options.blockSize ?? 1024);
    if (szx === undefined) throw new RangeError('blockSize must be a power of two, 16 to 1024');
    this.#szx = szx;
    this.#limits = { ...defaultBlockwiseLimits, ...options.blockwise };
    this.#knownOptions = new Set(options.knownOptions ?? []);
    this.#maxObservers = options.maxObservers ?? 100_000;
    this.#onPeerSeen = options.onPeerSeen;
    this.#messageIds = new MessageIdProvider(this.#clock, this.params.exchangeLifetimeMs, random);
    this.#dedup = new Deduplicator(
      this.#clock,
      this.params.exchangeLifetimeMs,
      options.maxDedupEntries ?? 100_000,
    );
    this.#reliability = new ReliabilityLayer({
      clock: this.#clock,
      random,
      params: this.params,
      send: (peer, data) => this.#sendRaw(peer, data),
      onRetransmit: () => this.stats.retransmissions++,
    });
    this.#congestion = new CongestionControl(this.#clock, this.params);
    this.#blockwise = new BlockwiseServer(this.#clock, this.#limits, szx);
    this.#observers = new ServerObserveRegistry();
    this.#ctx = {
      clock: this.#clock,
      szx,
      blockwise: this.#blockwise,
      dedup: this.#dedup,
      reliability: this.#reliability,
      observers: this.#observers,
      stats: this.stats,
      logger: this.#logger,
      messageId: (peerKey) => this.#messageIds.next(peerKey),
      sendRaw: (peer, data) => this.#sendRaw(peer, data),
      handler: () => this.#handler,
      knownOptions: this.#knownOptions,
      separateAfterMs: this.#separateAfterMs,
      closed: () => this.#closed,
      remember: (request, message) => this.#requestMessages.set(request, message),
    };
    this.#observeClient = new ObserveClient({
      clock: this.#clock,
      logger: this.#logger,
      stats: this.stats,
      exchange: (peer, parts, timeoutMs, token) => this.#exchange(peer, parts, timeoutMs, token),
      partsOf: (params) => this.#partsOf(params),
      blockOptions: (params) => this.#blockOptions(params),
    });
    transport.onReceive((data, peer) => this.#receive(data, peer));
  }

  /** Sets (or replaces) the handler of incoming requests. */
  setHandler(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /** Stops all exchanges, observations and timers and closes the transport. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of [...this.#pending.values()]) {
      this.#finish(p);
      p.reject(new CoapError('COAP_ERR_CLOSED', 'endpoint closed'));
    }
    this.#observeClient.clear();
    this.#observers.clear();
    this.#reliability.cancelAll();
    this.#congestion.clear();
    this.#dedup.clear();
    this.#blockwise.clear();
    this.#messageIds.clear();
    await this.transport.close();
  }

  // ---------------------------------------------------------------- client side

  /**
   * Sends a request and resolves with its response (after block-wise reassembly in both
   * directions). Rejects with `CoapTimeoutError`, `CoapResetError` or `CoapBlockwiseError`.
   */
  async request(peer: DatagramPeer, params: RequestParams): Promise<CoapResponse> {
    const { message, payload } = await requestBlockwise(
      (parts) => this.#exchange(peer, parts, params.timeoutMs),
      this.#partsOf(params),
      this.#blockOptions(params),
    );
    return responseFromMessage(message, peer, payload);
  }

  /** Sends an empty CON (RFC 7252 §4.3 "CoAP ping"); resolves when the peer answers with RST. */
  ping(peer: DatagramPeer, timeoutMs = this.params.maxTransmitWaitMs): Promise<boolean> {
    return new Promise((resolve) => {
      const messageId = this.#messageIds.next(peer.key);
      let timer: TimerHandle | undefined;
      const done = (alive: boolean) => {
        if (timer) this.#clock.clearTimeout(timer);
        resolve(alive);
      };
      timer = this.#clock.setTimeout(() => {
        this.#reliability.cancel(peer.key, messageId);
        done(false);
      }, timeoutMs);
      timer.unref?.();
      this.#reliability.sendConfirmable(
        peer,
        messageId,
        encodeEmpty(MessageType.Con, messageId),
        (outcome) => {
          if (outcome.kind === 'cancelled') return;
          if (outcome.kind === 'timeout') this.stats.timeouts++;
          done(outcome.kind === 'rst' || outcome.kind === 'ack');
        },
      );
    });
  }

  /**
   * Observes a resource (RFC 7641 as client): sends the request with Observe=0 and calls
   * `listener` with every newer notification (§3.4) until cancelled, an error notification or a
   * notification without Observe ends the observation.
   */
  observe(peer: DatagramPeer, params: RequestParams, listener: NotificationListener): Observation {
    return this.#observeClient.observe(peer, params, listener);
  }

  /**
   * Takes up an observation the peer accepted before (with this token, from a request like
   * `params`) without sending anything; see `ObserveClient.resume`.
   */
  resumeObservation(
    peer: DatagramPeer,
    token: Buffer,
    params: RequestParams,
    listener: NotificationListener,
  ): ObservationHandle {
    return this.#observeClient.resume(peer, token, params, listener);
  }

  #partsOf(params: RequestParams): ExchangeParts {
    return {
      code: params.code,
      options: requestOptions(params),
      payload: toBuffer(params.payload),
      confirmable: params.confirmable ?? true,
    };
  }

  #blockOptions(params: RequestParams): BlockwiseClientOptions {
    let szx = this.#szx;
    if (params.blockSize !== undefined) {
      const s = szxOf(params.blockSize);
      if (s === undefined) throw new RangeError('blockSize must be a power of two, 16 to 1024');
      szx = s;
    }
    return {
      szx,
      earlyBlock2: params.earlyBlock2 ?? false,
      maxBodySize: this.#limits.maxBodySize,
      onTransfer: () => this.stats.blockwiseTransfers++,
    };
  }

  /** One request/response exchange (one block): queued under NSTART, timed out as a whole. */
  #exchange(
    peer: DatagramPeer,
    parts: ExchangeParts,
    timeoutMs: number | undefined,
    fixedToken?: Buffer,
  ): Promise<CoapMessage> {
    if (this.#closed) return Promise.reject(new CoapError('COAP_ERR_CLOSED', 'endpoint closed'));
    return new Promise<CoapMessage>((resolve, reject) => {
      // RFC 7252 §5.3.1: our tokens are random, 8 bytes, so they cannot be guessed off-path.
      const token = fixedToken ?? randomBytes(8);
      const key = tokenKey(peer.key, token);
      const pending: PendingExchange = {
        peer,
        key,
        token,
        messageId: -1,
        confirmable: parts.confirmable,
        slot: undefined,
        cancelQueued: undefined,
        timer: undefined,
        resolve,
        reject,
      };
      const previous = this.#pending.get(key);
      if (previous) {
        this.#finish(previous);
        previous.reject(
          new CoapError('COAP_ERR_CANCELLED', 'superseded by a request with the same token'),
        );
      }
      this.#pending.set(key, pending);
      pending.timer = this.#clock.setTimeout(() => {
        if (this.#pending.get(key) !== pending) return;
        this.stats.timeouts++;
        this.#finish(pending);
        reject(new CoapTimeoutError(`no response from ${peer.key} in time`));
      }, timeoutMs ?? this.params.maxTransmitWaitMs);
      pending.timer.unref?.();
      const estimate = 4 + token.length + parts.payload.length + 16 * parts.options.length;
      pending.cancelQueued = this.#congestion.schedule(
        peer.key,
        !parts.confirmable,
        estimate,
        (slot) => {
          pending.cancelQueued = undefined;
          if (this.#pending.get(key) !== pending) {
            slot.release();
            return;
          }
          pending.slot = slot;
          this.#startExchange(pending, parts);
        },
      );
    });
  }

  #startExchange(pending: PendingExchange, parts: ExchangeParts): void {
    const messageId = this.#messageIds.next(pending.peer.key);
    pending.messageId = messageId;
    const message: CoapMessage = {
      type: parts.confirmable ? MessageType.Con : MessageType.Non,
      code: parts.code,
      messageId,
      token: pending.token,
      options: parts.options,
      payload: parts.payload,
    };
    let data: Buffer;
    try {
      data = encodeMessage(message);
    } catch (err) {
      this.#finish(pending);
      pending.reject(err as Error);
      return;
    }
    this.stats.requestsOut++;
    if (this.#trace)
      this.#logger?.trace({ peer: pending.peer.key }, `coap out ${describeMessage(message)}`);
    if (!parts.confirmable) {
      this.#nonRequests.set(`${pending.peer.key}#${messageId}`, pending);
      this.#sendRaw(pending.peer, data);
      return;
    }
    this.#reliability.sendConfirmable(pending.peer, messageId, data, (outcome) => {
      if (this.#pending.get(pending.key) !== pending) return;
      if (outcome.kind === 'cancelled') return;
      if (outcome.kind === 'timeout') {
        // RFC 7252 §4.2: the attempt to transmit is cancelled after MAX_RETRANSMIT.
        this.stats.timeouts++;
        this.#finish(pending);
        pending.reject(new CoapTimeoutError(`no ACK from ${pending.peer.key}`));
      } else if (outcome.kind === 'rst') {
        this.#finish(pending);
        pending.reject(new CoapResetError(outcome.message.messageId));
      } else if (outcome.message.code === Code.Empty) {
        // RFC 7252 §5.2.2: an empty ACK; the response follows separately. The interaction is
        // no longer outstanding for NSTART (RFC 7252 §4.7).
        pending.slot?.release();
        pending.slot = undefined;
      } else if (!this.#rejectsCriticalOption(outcome.message, pending)) {
        // RFC 7252 §5.2.1: the response piggy-backed in the ACK.
        this.#completeExchange(pending, outcome.message);
      }
    });
  }

  /**
   * RFC 7252 §5.4.1: a response carrying a critical option we do not know cannot be used; the
   * exchange waiting for it fails (rather than time out) with the reason.
   */
  #rejectsCriticalOption(message: CoapMessage, pending: PendingExchange | undefined): boolean {
    const bad = findUnrecognisedCritical(message.options, this.#knownOptions);
    if (bad === undefined) return false;
    this.stats.badOption++;
    if (pending && message.token.equals(pending.token)) {
      this.#finish(pending);
      pending.reject(
        new CoapError('COAP_ERR_RESPONSE', `response with unrecognised critical option ${bad}`),
      );
    }
    return true;
  }

  #completeExchange(pending: PendingExchange, message: CoapMessage): void {
    // RFC 7252 §5.3.2: the response must carry the request's token.
    if (!message.token.equals(pending.token)) {
      this.stats.unmatched++;
      return;
    }
    this.stats.responsesIn++;
    this.#finish(pending);
    pending.resolve(message);
  }

  /** Releases everything an exchange holds (timer, queue place, slot, retransmission). */
  #finish(pending: PendingExchange): void {
    if (this.#pending.get(pending.key) === pending) this.#pending.delete(pending.key);
    if (pending.timer) this.#clock.clearTimeout(pending.timer);
    pending.timer = undefined;
    pending.cancelQueued?.();
    pending.cancelQueued = undefined;
    if (pending.confirmable && pending.messageId >= 0) {
      this.#reliability.cancel(pending.peer.key, pending.messageId);
    } else if (pending.messageId >= 0) {
      const k = `${pending.peer.key}#${pending.messageId}`;
      if (this.#nonRequests.get(k) === pending) this.#nonRequests.delete(k);
    }
    pending.slot?.release();
    pending.slot = undefined;
  }

  // ---------------------------------------------------------------- receive path

  #receive(data: Buffer, peer: DatagramPeer): void {
    if (this.#closed) return;
    this.stats.messagesIn++;
    try {
      this.#dispatch(data, peer);
    } catch (err) {
      // Never past the endpoint: a bug of ours is logged, the datagram is lost.
      this.stats.internalErrors++;
      this.#logger?.error({ err, peer: peer.key }, 'coap: error while handling a datagram');
    }
  }

  #dispatch(data: Buffer, peer: DatagramPeer): void {
    const decoded = decodeMessage(data);
    if (!decoded.ok) {
      this.stats.malformed++;
      const e = decoded.error;
      this.#logger?.debug({ peer: peer.key, reason: e.message }, 'coap: malformed datagram');
      // RFC 7252 §4.2: a malformed CON is rejected with RST; §4.3: a malformed NON is dropped.
      if (!e.silent && e.type === MessageType.Con && e.messageId !== undefined) {
        this.#sendRst(peer, e.messageId);
      }
      return;
    }
    const message = decoded.message;
    if (this.#trace) this.#logger?.trace({ peer: peer.key }, `coap in ${describeMessage(message)}`);
    this.#congestion.heard(peer.key);
    this.#onPeerSeen?.(peer);

    if (message.type === MessageType.Ack || message.type === MessageType.Rst) {
      this.#receiveAckOrRst(message, peer);
      return;
    }
    if (message.code === Code.Empty) {
      // RFC 7252 §4.3: an empty CON ("ping") is answered with RST; an empty NON is ignored.
      if (message.type === MessageType.Con) this.#sendRst(peer, message.messageId);
      return;
    }
    // RFC 7252 §4.5: a CON or NON seen before is not processed again; a CON gets the same reply.
    const seen = this.#dedup.seen(peer.key, message.messageId);
    if (seen !== undefined) {
      this.stats.duplicates++;
      if (message.type === MessageType.Con && seen) this.#sendRaw(peer, seen);
      return;
    }
    if (isRequestCode(message.code)) {
      this.stats.requestsIn++;
      handleRequest(this.#ctx, message, peer).catch((err) => {
        this.stats.internalErrors++;
        this.#logger?.error({ err, peer: peer.key }, 'coap: error while handling a request');
      });
    } else if (isResponseCode(message.code)) {
      this.#receiveResponse(message, peer);
    } else {
      // RFC 7252 §12.1: classes 1, 6 and 7 are reserved; such a CON cannot be processed (§4.2).
      this.stats.malformed++;
      if (message.type === MessageType.Con) this.#sendRst(peer, message.messageId);
    }
  }

  #receiveAckOrRst(message: CoapMessage, peer: DatagramPeer): void {
    if (message.type === MessageType.Rst) this.stats.rstIn++;
    // RFC 7252 §4.1: an ACK or RST carrying a request code is a format error, ignored.
    if (message.type === MessageType.Rst && message.code !== Code.Empty) {
      this.stats.malformed++;
      return;
    }
    if (message.type === MessageType.Ack && isRequestCode(message.code)) {
      this.stats.malformed++;
      return;
    }
    if (this.#reliability.settle(peer.key, message)) return;
    if (message.type === MessageType.Rst) {
      // RFC 7252 §4.3: the peer rejected one of our NON requests.
      const non = this.#nonRequests.get(`${peer.key}#${message.messageId}`);
      if (non) {
        this.#finish(non);
        non.reject(new CoapResetError(message.messageId));
        return;
      }
    }
    // An RST may also answer a NON notification of ours (RFC 7641 §3.6).
    if (
      message.type === MessageType.Rst &&
      this.#observers.resetByMessageId(peer.key, message.messageId)
    ) {
      return;
    }
    // A late or duplicate ACK: nothing waits for it any more.
    this.stats.unmatched++;
  }

  #receiveResponse(message: CoapMessage, peer: DatagramPeer): void {
    const key = tokenKey(peer.key, message.token);
    const confirmable = message.type === MessageType.Con;
    const pending = this.#pending.get(key);
    if (this.#rejectsCriticalOption(message, pending)) {
      // RFC 7252 §5.4.1: a response with an unrecognised critical option is rejected (§4.2:
      // RST for a CON, §4.3: ignored or RST for a NON).
      this.#sendRst(peer, message.messageId);
      return;
    }
    if (pending) {
      // RFC 7252 §5.2.2: the separate response also ends the retransmission of the request.
      if (confirmable) this.#sendAck(peer, message.messageId);
      this.#completeExchange(pending, message);
      return;
    }
    const observation = this.#observeClient.get(key);
    if (observation) {
      // RFC 7641 §4.2: a CON notification is acknowledged.
      if (confirmable) this.#sendAck(peer, message.messageId);
      this.#observeClient.deliver(key, observation, message);
      return;
    }
    // RFC 7252 §4.2 / RFC 7641 §3.6: a response we do not expect (such as a notification of a
    // cancelled observation) is rejected with RST, which ends the server's observation.
    this.stats.unmatched++;
    this.#sendRst(peer, message.messageId);
  }

  /**
   * Accepts an Observe registration (RFC 7641 §4.1) for a GET or FETCH with Observe=0; call
   * it from the handler before returning the response, which then carries the Observe option.
   */
  acceptObserve(request: CoapRequest, peer: DatagramPeer): ServerObservation {
    const message: CoapMessage | undefined = this.#requestMessages.get(request);
    // RFC 7641 §2 (GET) and RFC 8132 §2.4 (FETCH, as LwM2M Observe-Composite uses it).
    const observable = request.method === Code.Get || request.method === Code.Fetch;
    if (!message || request.observe !== 0 || !observable) {
      throw new CoapError(
        'COAP_ERR_RESPONSE',
        'only a GET or FETCH with Observe=0 can be observed',
      );
    }
    // RFC 7641 §4.1: a server may decline to add an observer; the response then has no Observe.
    if (
      this.#observers.size >= this.#maxObservers &&
      !this.#observers.get(peer.key, request.token)
    ) {
      throw new CoapError('COAP_ERR_RESPONSE', 'too many observers');
    }
    const ctx = this.#ctx;
    const entry: ObserverEntry = {
      peer,
      token: request.token,
      request: message,
      seq: 2,
      lastConfirmableAt: this.#clock.now(),
      pendingConfirmable: undefined,
      nonMessageIds: [],
      active: true,
      handle: undefined,
    };
    const handle: ServerObservation = {
      peer,
      token: request.token,
      get active() {
        return entry.active;
      },
      notify: (response, options = {}) =>
        sendNotification(ctx, entry, response, options.confirmable ?? false),
      cancel: () => ctx.observers.end(entry),
      onCancel: undefined,
    };
    entry.handle = handle;
    this.#observers.add(entry);
    return handle;
  }

  /** What the endpoint holds right now (for metrics and memory accounting). */
  gauges(): CoapGauges {
    this.#dedup.prune();
    this.#blockwise.prune();
    return {
      pendingRequests: this.#pending.size,
      observations: this.#observeClient.size,
      observers: this.#observers.size,
      dedupEntries: this.#dedup.size,
      dedupReplyBytes: this.#dedup.replyBytes,
      retransmitting: this.#reliability.size,
      blockwiseTransfers: this.#blockwise.activeTransfers,
      blockwiseBytes: this.#blockwise.totalBytes,
    };
  }

  /** Number of observers of our resources (RFC 7641 §4). */
  get observerCount(): number {
    return this.#observers.size;
  }

  // ---------------------------------------------------------------- sending

  #sendAck(peer: DatagramPeer, messageId: number): void {
    const data = encodeEmpty(MessageType.Ack, messageId);
    this.#dedup.setReply(peer.key, messageId, data);
    this.#sendRaw(peer, data);
  }

  #sendRst(peer: DatagramPeer, messageId: number): void {
    this.stats.rstOut++;
    const data = encodeEmpty(MessageType.Rst, messageId);
    this.#dedup.setReply(peer.key, messageId, data);
    this.#sendRaw(peer, data);
  }

  #sendRaw(peer: DatagramPeer, data: Buffer): void {
    if (this.#closed) return;
    this.stats.messagesOut++;
    try {
      this.transport.send(peer, data);
    } catch (err) {
      this.stats.sendErrors++;
      this.#logger?.warn({ err, peer: peer.key }, 'coap: send failed');
    }
  }
}
