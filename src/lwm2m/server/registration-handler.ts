/**
 * The Registration interface on the server side (LwM2M-TS-Core 1.1 §6.2; CoAP mapping in
 * LwM2M 1.0 §8.2.3 Table 24 and LwM2M-TS-Transport 1.1 §6.2): Register (POST /rd?ep=...),
 * Update (POST /rd/{id}), De-register (DELETE /rd/{id}), and the expiry of registrations
 * whose lifetime passes without an Update.
 */
import { randomBytes } from 'node:crypto';
import { Code } from '../../coap/code.js';
import { ContentFormat } from '../../coap/content-format.js';
import type { CoapRequest, OutgoingResponse } from '../../coap/request.js';
import type { DatagramPeer } from '../../transport/datagram.js';
import type { Clock } from '../../util/clock.js';
import { Lwm2mError } from './errors.js';
import type { RegisteredEvent, UpdatedEvent } from './events.js';
import { type LongTimer, setLongTimeout } from './long-timeout.js';
import {
  parseObjectLinks,
  parseRegisterQuery,
  parseUpdateQuery,
  type RegisterParams,
  type Registration,
} from './registration.js';
import type { RegistrationPatch, RegistrationStore } from './registration-store.js';

export interface RegistrationHandlerOptions {
  readonly store: RegistrationStore;
  readonly clock: Clock;
  /** New registration IDs; must not repeat (default 12 random base64url characters). */
  readonly generateId?: () => string;
  /** Extra time after the lifetime before a registration expires (default 0). */
  readonly lifetimeGraceMs?: number;
  /** May this peer register under this endpoint name? Default: yes. */
  readonly authorize?: RegistrationAuthorizer;
  readonly onRegistered: (event: RegisteredEvent) => void;
  readonly onUpdated: (event: UpdatedEvent) => void;
  readonly onDeregistered: (registration: Registration) => void;
  readonly onExpired: (registration: Registration) => void;
}

/**
 * Decides whether a Register may proceed (the hub checks the peer's DTLS identity against the
 * device's credentials here). `existing` is the registration the new one would replace.
 */
export type RegistrationAuthorizer = (
  params: RegisterParams,
  peer: DatagramPeer,
  existing: Registration | undefined,
) => boolean | Promise<boolean>;

const defaultId = (): string => randomBytes(9).toString('base64url');

function errorResponse(e: unknown): OutgoingResponse {
  if (e instanceof Lwm2mError) return { code: e.coapCode, payload: e.message };
  throw e;
}

export class RegistrationHandler {
  readonly #o: RegistrationHandlerOptions;
  readonly #generateId: () => string;
  readonly #timers = new Map<string, LongTimer>();
  /** Peer key → registration ID, for requests that name no registration (Send, any message). */
  readonly #byPeer = new Map<string, string>();
  #closed = false;

  constructor(options: RegistrationHandlerOptions) {
    this.#o = options;
    this.#generateId = options.generateId ?? defaultId;
  }

  /** The registration ID of the device that speaks from `peer`, if one registered from it. */
  registrationIdOf(peer: DatagramPeer): string | undefined {
    return this.#byPeer.get(peer.key);
  }

  /** Handles a request under `/rd`. */
  async handle(request: CoapRequest, peer: DatagramPeer): Promise<OutgoingResponse> {
    const [, id, ...rest] = request.path;
    try {
      if (id === undefined) {
        // LwM2M 1.0 §8.2.3 Table 24: Register is a POST on /rd.
        if (request.method !== Code.Post) return { code: Code.MethodNotAllowed };
        return await this.#register(request, peer);
      }
      if (rest.length > 0) return { code: Code.NotFound };
      // LwM2M 1.0 §8.2.3 Table 24: Update is a POST, De-register a DELETE on /rd/{id}.
      if (request.method !== Code.Post && request.method !== Code.Delete) {
        return { code: Code.MethodNotAllowed };
      }
      const current = await this.#o.store.getById(id);
      // LwM2M 1.0 §8.2.3 Table 24: an Update or De-register of an unknown registration is 4.04.
      if (!current) return { code: Code.NotFound };
      // A registration made over a secured transport belongs to that identity: another peer
      // (or a plain one) may not update or remove it (LwM2M-TS-Transport 1.1 §5.2: the
      // security context authenticates the client; 4.03 as for a refused Register).
      if (!sameIdentity(current.peer, peer)) return { code: Code.Forbidden };
      if (request.method === Code.Post) return await this.#update(current, request, peer);
      return await this.#deregister(id);
    } catch (e) {
      return errorResponse(e);
    }
  }

  async #register(request: CoapRequest, peer: DatagramPeer): Promise<OutgoingResponse> {
    const params = parseRegisterQuery(request.query);
    checkLinkFormat(request);
    // LwM2M-TS-Core 1.1 §6.2.1: the Register operation carries the list of Objects.
    if (request.payload.length === 0) {
      throw new Lwm2mError('LWM2M_ERR_BAD_REGISTRATION', 'missing object links');
    }
    const links = parseObjectLinks(request.payload);
    if (this.#o.authorize) {
      const existing = await this.#o.store.getByEndpoint(params.endpoint);
      // LwM2M 1.0 §8.2.3 Table 24: 4.03 Forbidden, the endpoint name is not allowed.
      if (!(await this.#o.authorize(params, peer, existing))) return { code: Code.Forbidden };
    }
    const now = this.#o.clock.now();
    const id = await this.#newId();
    const registration: Registration = {
      id,
      endpoint: params.endpoint,
      lwm2mVersion: params.lwm2mVersion,
      lifetime: params.lifetime,
      binding: params.binding,
      queueMode: params.queueMode,
      ...(params.smsNumber !== undefined ? { smsNumber: params.smsNumber } : {}),
      peer: plainPeer(peer),
      rootPath: links.rootPath,
      objectLinks: links.objectLinks,
      objectVersions: links.objectVersions,
      supportedContentFormats: links.supportedContentFormats,
      additionalParams: params.additionalParams,
      registeredAt: now,
      lastUpdateAt: now,
      expiresAt: now + params.lifetime * 1000,
    };
    // LwM2M-TS-Core 1.1 §6.2.1: a Register of an endpoint name that is registered replaces the
    // old registration (the device rebooted or lost its registration ID).
    const replaced = await this.#o.store.add(registration);
    if (this.#closed) return { code: Code.ServiceUnavailable };
    if (replaced) this.#forget(replaced);
    this.#byPeer.set(peer.key, id);
    this.#schedule(registration);
    this.#o.onRegistered({ registration, ...(replaced ? { replaced } : {}) });
    // LwM2M 1.0 §8.2.3 Table 24: 2.01 Created with Location-Path /rd/{id}.
    return { code: Code.Created, locationPath: ['rd', id] };
  }

  async #update(
    current: Registration,
    request: CoapRequest,
    peer: DatagramPeer,
  ): Promise<OutgoingResponse> {
    const id = current.id;
    const params = parseUpdateQuery(request.query, current.lwm2mVersion);
    checkLinkFormat(request);
    const links = request.payload.length > 0 ? parseObjectLinks(request.payload) : undefined;
    const now = this.#o.clock.now();
    const lifetime = params.lifetime ?? current.lifetime;
    const moved = current.peer.key !== peer.key;
    const patch: RegistrationPatch = {
      lifetime,
      ...(params.binding !== undefined ? { binding: params.binding } : {}),
      ...(params.queueMode !== undefined ? { queueMode: params.queueMode } : {}),
      ...(params.smsNumber !== undefined ? { smsNumber: params.smsNumber } : {}),
      // The device speaks from a new address (NAT rebinding): requests follow it there.
      ...(moved ? { peer: plainPeer(peer) } : {}),
      ...(links
        ? {
            rootPath: links.rootPath,
            objectLinks: links.objectLinks,
            objectVersions: links.objectVersions,
            supportedContentFormats:
              links.supportedContentFormats.length > 0
                ? links.supportedContentFormats
                : current.supportedContentFormats,
          }
        : {}),
      lastUpdateAt: now,
      // LwM2M-TS-Core 1.1 §6.2.2: an Update restarts the lifetime.
      expiresAt: now + lifetime * 1000,
    };
    const result = await this.#o.store.update(id, patch);
    if (!result) return { code: Code.NotFound };
    if (moved) {
      if (this.#byPeer.get(current.peer.key) === id) this.#byPeer.delete(current.peer.key);
    }
    this.#byPeer.set(peer.key, id);
    this.#schedule(result.current);
    this.#o.onUpdated({ ...result, moved });
    // LwM2M 1.0 §8.2.3 Table 24: 2.04 Changed.
    return { code: Code.Changed };
  }

  async #deregister(id: string): Promise<OutgoingResponse> {
    const removed = await this.#o.store.remove(id);
    // LwM2M 1.0 §8.2.3 Table 24: 4.04 for an unknown registration.
    if (!removed) return { code: Code.NotFound };
    this.#forget(removed);
    this.#o.onDeregistered(removed);
    // LwM2M 1.0 §8.2.3 Table 24: 2.02 Deleted.
    return { code: Code.Deleted };
  }

  /** Removes a registration on the server's initiative (an operator); emits de-registered. */
  async remove(id: string): Promise<Registration | undefined> {
    const removed = await this.#o.store.remove(id);
    if (!removed) return undefined;
    this.#forget(removed);
    this.#o.onDeregistered(removed);
    return removed;
  }

  /** Sets or clears a field of a registration that the device does not send (content format). */
  async patch(id: string, patch: RegistrationPatch): Promise<Registration | undefined> {
    return (await this.#o.store.update(id, patch))?.current;
  }

  /**
   * Takes over the registrations a durable store kept across a restart of the server. Each
   * lifetime goes on counting from the registration's last Register or Update (LwM2M-TS-Core
   * 1.1 §6.2.1), so one that ran out while the server was down expires now (`onExpired`); the
   * others are found by their peer again. Returns the registrations that are still alive.
   */
  async restore(): Promise<Registration[]> {
    const grace = this.#o.lifetimeGraceMs ?? 0;
    const alive: Registration[] = [];
    for (const registration of await this.#o.store.all()) {
      // A device that registered or updated since the start has its timer already.
      if (this.#closed || this.#timers.has(registration.id)) continue;
      if (registration.expiresAt + grace <= this.#o.clock.now()) {
        await this.#expire(registration.id, grace);
        continue;
      }
      this.#byPeer.set(registration.peer.key, registration.id);
      this.#schedule(registration);
      alive.push(registration);
    }
    return alive;
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) timer.cancel();
    this.#timers.clear();
    this.#byPeer.clear();
  }

  async #newId(): Promise<string> {
    // LwM2M-TS-Core 1.1 §6.2.1: the registration ID is unique; draw again on a collision.
    for (let i = 0; i < 8; i++) {
      const id = this.#generateId();
      if (!(await this.#o.store.getById(id))) return id;
    }
    throw new Error('cannot draw a free registration ID');
  }

  #schedule(registration: Registration): void {
    this.#timers.get(registration.id)?.cancel();
    const grace = this.#o.lifetimeGraceMs ?? 0;
    const delay = registration.expiresAt + grace - this.#o.clock.now();
    // A lifetime may be up to 2^32-1 s (LwM2M-TS-Core 1.1 Appendix E.2): a long timer.
    const timer = setLongTimeout(
      this.#o.clock,
      () => {
        this.#timers.delete(registration.id);
        void this.#expire(registration.id, grace);
      },
      delay,
    );
    this.#timers.set(registration.id, timer);
  }

  async #expire(id: string, grace: number): Promise<void> {
    // LwM2M-TS-Core 1.1 §6.2.1: without an Update within its lifetime the registration ends.
    const expired = await this.#o.store.removeIfExpired(id, this.#o.clock.now() - grace);
    if (!expired) return;
    this.#forget(expired);
    this.#o.onExpired(expired);
  }

  #forget(registration: Registration): void {
    this.#timers.get(registration.id)?.cancel();
    this.#timers.delete(registration.id);
    if (this.#byPeer.get(registration.peer.key) === registration.id) {
      this.#byPeer.delete(registration.peer.key);
    }
  }
}

/** LwM2M-TS-Core 1.1 §6.2.1: the object links are CoRE link format (RFC 6690, format 40). */
function checkLinkFormat(request: CoapRequest): void {
  const cf = request.contentFormat;
  if (cf !== undefined && cf !== ContentFormat.LinkFormat) {
    throw new Lwm2mError('LWM2M_ERR_BAD_REGISTRATION', `object links in content format ${cf}`);
  }
}

/** True when both peers proved the same identity, or neither proved any. */
export function sameIdentity(a: DatagramPeer, b: DatagramPeer): boolean {
  const x = a.identity;
  const y = b.identity;
  if (!x || !y) return !x && !y;
  if (x.kind === 'psk' && y.kind === 'psk') return x.identity === y.identity;
  if (x.kind === 'rpk' && y.kind === 'rpk')
    return Buffer.from(x.publicKey).equals(Buffer.from(y.publicKey));
  if (x.kind === 'x509' && y.kind === 'x509') return x.subject === y.subject;
  return false;
}

/** A copy of the peer with plain fields only (a store may serialise it). */
function plainPeer(peer: DatagramPeer): DatagramPeer {
  return {
    key: peer.key,
    address: peer.address,
    port: peer.port,
    ...(peer.identity ? { identity: peer.identity } : {}),
  };
}
