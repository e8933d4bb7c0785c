import type { Logger } from 'pino';
import type { CoapEndpoint } from '../coap/endpoint.js';
import type { ObjectRegistry } from '../lwm2m/model/object-registry.js';
import type { ServerCoapPort } from '../lwm2m/server/coap-port.js';
import type { Registration } from '../lwm2m/server/registration.js';
import type { RegistrationStore } from '../lwm2m/server/registration-store.js';
import type { ExecuteResponse } from '../lwm2m/server/requests/execute.js';
import { Lwm2mServer } from '../lwm2m/server/server.js';
import type { DatagramPeer } from '../transport/datagram.js';
import type { Clock } from '../util/clock.js';
import type { CoapListener, CoapService } from './coap-service.js';
import { checkRegistrationAccess, type RegistrationPolicyOptions } from './lwm2m-security.js';

/** The listeners that carry the LwM2M server's interfaces (the bootstrap ones have their own). */
const SERVER_LISTENERS: readonly CoapListener[] = ['coap', 'coaps'];

/**
 * The LwM2M server of a Tandem instance, reachable on the `coap` and `coaps` listeners at once.
 * Requests to a device leave from the endpoint it last spoke to (devices sit behind NAT, and a
 * DTLS device can only be reached through its session).
 */
export class Lwm2mService {
  readonly server: Lwm2mServer;
  /** The endpoint each peer last spoke to, by peer key. */
  readonly #endpointOf = new Map<string, CoapEndpoint>();
  readonly #endpoints = new Map<CoapListener, CoapEndpoint>();

  constructor(options: {
    coap: CoapService;
    registry: ObjectRegistry;
    clock: Clock;
    logger: Logger;
    policy: RegistrationPolicyOptions;
    /** Where registrations live (default: memory, gone with the process). */
    registrations?: RegistrationStore;
  }) {
    for (const name of SERVER_LISTENERS) {
      const listener = options.coap.listeners.get(name);
      if (listener) this.#endpoints.set(name, listener.endpoint);
    }
    this.server = new Lwm2mServer({
      endpoint: this.#port(),
      registry: options.registry,
      clock: options.clock,
      logger: options.logger,
      attachHandler: false,
      ...(options.registrations ? { store: options.registrations } : {}),
    });
    const { policy } = options;
    for (const name of SERVER_LISTENERS) {
      const listener = options.coap.listeners.get(name);
      if (!listener) continue;
      listener.router.add('', async (request, peer) => {
        this.#endpointOf.set(peer.key, listener.endpoint);
        const refused = await checkRegistrationAccess(request, peer, policy);
        return refused ?? this.server.handleRequest(request, peer);
      });
    }
    options.coap.onPeerSeen((peer, name) => {
      const endpoint = this.#endpoints.get(name);
      if (!endpoint) return;
      this.#endpointOf.set(peer.key, endpoint);
      this.server.peerSeen(peer);
    });
    this.server.on('deregistered', (r) => this.#endpointOf.delete(r.peer.key));
    this.server.on('expired', (r) => this.#endpointOf.delete(r.peer.key));
  }

  /**
   * Resumes the registrations its store kept across a restart, and their observations (see
   * `Lwm2mServer.restore`): the plain CoAP ones are reached through the `coap` listener at their
   * stored address; a DTLS device's session is gone, so it is reached again (and its
   * notifications arrive) after its next handshake.
   */
  restore(): Promise<Registration[]> {
    return this.server.restore();
  }

  /**
   * Server-initiated bootstrap (TS-Core 1.1 §6.1.4): executes Bootstrap-Request Trigger
   * (/1/x/9, LwM2M 1.1) on the device's Server object instance, after which the device asks its
   * Bootstrap-Server. Undefined when the device is not registered or has no Server instance.
   */
  async requestBootstrap(endpoint: string): Promise<ExecuteResponse | undefined> {
    const registration = await this.server.getRegistration(endpoint);
    const instance = registration?.objectLinks
      .map((l) => /^\/1\/(\d+)$/.exec(l.path)?.[1])
      .find((id) => id !== undefined);
    if (!registration || instance === undefined) return undefined;
    return this.server.execute(registration, { path: `/1/${instance}/9` });
  }

  async stop(): Promise<void> {
    await this.server.close();
    this.#endpointOf.clear();
  }

  /** One CoAP port over several endpoints, choosing the one each peer is reached through. */
  #port(): ServerCoapPort {
    const pick = (peer: DatagramPeer): CoapEndpoint => {
      const endpoint =
        this.#endpointOf.get(peer.key) ??
        (peer.identity ? this.#endpoints.get('coaps') : this.#endpoints.get('coap'));
      if (!endpoint) throw new Error(`no CoAP listener reaches ${peer.key}`);
      return endpoint;
    };
    return {
      // Each listener's router hands requests to the server (see the constructor).
      setHandler: () => undefined,
      request: (peer, params) => pick(peer).request(peer, params),
      observe: (peer, params, listener) => pick(peer).observe(peer, params, listener),
      resumeObservation: (peer, token, params, listener) =>
        pick(peer).resumeObservation(peer, token, params, listener),
    };
  }
}
