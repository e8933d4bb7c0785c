import type { Logger } from 'pino';
import {
  type BootstrapConfigStore,
  BootstrapSessions,
  Lwm2mBootstrapServer,
  MemoryBootstrapConfigStore,
} from '../lwm2m/bootstrap/index.js';
import type { ObjectRegistry } from '../lwm2m/model/object-registry.js';
import { type Clock, systemClock } from '../util/clock.js';
import type { CoapListener, CoapService } from './coap-service.js';
import { checkRegistrationAccess, type RegistrationPolicyOptions } from './lwm2m-security.js';

const BOOTSTRAP_LISTENERS: readonly CoapListener[] = ['bootstrap', 'bootstrapDtls'];

/**
 * The LwM2M Bootstrap-Server on the `bootstrap` and `bootstrapDtls` listeners: one server per
 * listener, so that a client is driven from the endpoint it asked on, over one shared store of
 * bootstrap configurations.
 */
export class BootstrapService {
  readonly configs: BootstrapConfigStore;
  readonly servers = new Map<CoapListener, Lwm2mBootstrapServer>();
  /** The last bootstrap session of each endpoint, for the API. */
  readonly sessions: BootstrapSessions;

  constructor(options: {
    coap: CoapService;
    registry: ObjectRegistry;
    logger: Logger;
    policy: RegistrationPolicyOptions;
    configs?: BootstrapConfigStore;
    clock?: Clock;
  }) {
    this.configs = options.configs ?? new MemoryBootstrapConfigStore();
    const { policy } = options;
    this.sessions = new BootstrapSessions(options.clock ?? systemClock);
    for (const name of BOOTSTRAP_LISTENERS) {
      const listener = options.coap.listeners.get(name);
      if (!listener) continue;
      const server = new Lwm2mBootstrapServer({
        endpoint: listener.endpoint,
        configs: this.configs,
        registry: options.registry,
        logger: options.logger.child({ listener: name }),
      });
      this.servers.set(name, server);
      this.sessions.follow(server, name);
      listener.router.add('bs', async (request, peer) => {
        const refused = await checkRegistrationAccess(request, peer, policy);
        return refused ?? server.handleRequest(request, peer);
      });
    }
  }
}
