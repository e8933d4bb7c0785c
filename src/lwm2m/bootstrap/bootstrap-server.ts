/**
 * The LwM2M Bootstrap-Server (LwM2M 1.0 §5.2.7, TS-Core 1.1 §6.1, TS-Transport 1.1 §6.1): a
 * client sends Bootstrap-Request (POST /bs?ep=name[&pct=format]); we answer 2.04 and then drive
 * the client from the same endpoint: Bootstrap-Discover of /0 (1.1, to avoid the instance ids in
 * use), Bootstrap-Delete of / (optional), Bootstrap-Write of one Security and one Server
 * instance per account, and Bootstrap-Finish (POST /bs). Each answer is checked against the
 * codes the specification allows; the first wrong one ends the sequence with a `failed` event.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { Code, codeString } from '../../coap/code.js';
import { parseLinkFormat } from '../../coap/link-format.js';
import type {
  CoapRequest,
  CoapResponse,
  OutgoingResponse,
  RequestParams,
} from '../../coap/request.js';
import type { DatagramPeer } from '../../transport/datagram.js';
import { ContentFormat } from '../codec/content-format.js';
import { canEncode, encode } from '../codec/lwm2m-codec.js';
import type { ObjectRegistry } from '../model/object-registry.js';
import { omaRegistry } from '../model/object-registry.js';
import { type Lwm2mObjectInstance, objectInstance, singleResource } from '../node/lwm2m-node.js';
import { Lwm2mPath } from '../node/lwm2m-path.js';
import { Value } from '../node/lwm2m-value.js';
import {
  type BootstrapConfig,
  type BootstrapConfigStore,
  SECURITY_MODE_VALUE,
  type ServerAccount,
} from './config.js';

/** What the Bootstrap-Server needs of a CoAP endpoint (CoapEndpoint has this shape). */
export interface BootstrapCoapPort {
  request(peer: DatagramPeer, params: RequestParams): Promise<CoapResponse>;
}

export interface BootstrapStep {
  readonly operation: 'discover' | 'delete' | 'write' | 'finish';
  readonly path: string;
}

export interface BootstrapServerEvents {
  started: [{ endpoint: string; peer: DatagramPeer }];
  finished: [{ endpoint: string; steps: readonly BootstrapStep[] }];
  failed: [{ endpoint: string; step?: BootstrapStep; code?: number; reason: string }];
}

export interface BootstrapServerOptions {
  readonly endpoint: BootstrapCoapPort;
  readonly configs: BootstrapConfigStore;
  readonly registry?: ObjectRegistry;
  readonly logger?: Logger;
  /** Time to wait for each answer of the client (default: the endpoint's). */
  readonly timeoutMs?: number;
}

class StepFailed extends Error {
  constructor(
    readonly step: BootstrapStep,
    readonly code: number | undefined,
    reason: string,
  ) {
    super(reason);
  }
}

export class Lwm2mBootstrapServer extends EventEmitter<BootstrapServerEvents> {
  readonly #o: BootstrapServerOptions;
  readonly #registry: ObjectRegistry;
  /** The sequence running per endpoint name; a new Bootstrap-Request supersedes it. */
  readonly #running = new Map<string, symbol>();

  constructor(options: BootstrapServerOptions) {
    super();
    this.#o = options;
    this.#registry = options.registry ?? omaRegistry();
  }

  /** The CoAP handler of `/bs`; mount it on the bootstrap listener's router. */
  readonly handleRequest = async (
    request: CoapRequest,
    peer: DatagramPeer,
  ): Promise<OutgoingResponse> => {
    if (request.path.length !== 1 || request.path[0] !== 'bs') return { code: Code.NotFound };
    // TS-Transport 1.1 §6.1: Bootstrap-Request is POST /bs?ep={Endpoint Client Name}.
    if (request.method !== Code.Post) return { code: Code.MethodNotAllowed };
    const params = new Map(
      request.query.map((q) => {
        const eq = q.indexOf('=');
        return eq < 0 ? [q, ''] : [q.slice(0, eq), q.slice(eq + 1)];
      }),
    );
    const endpoint = params.get('ep');
    if (!endpoint) return badRequest('Bootstrap-Request needs the ep parameter');
    const pct = params.get('pct');
    const preferred = pct === undefined ? undefined : Number(pct);
    if (preferred !== undefined && !Number.isInteger(preferred)) {
      return badRequest('pct must be a content format number');
    }
    const config = await this.#o.configs.get(endpoint);
    if (!config) return badRequest(`no bootstrap configuration for ${endpoint}`);
    const run = Symbol(endpoint);
    this.#running.set(endpoint, run);
    // Answer first: the sequence starts once the client has its 2.04 (TS-Core 1.1 §6.1.3).
    setImmediate(() => void this.#bootstrap(endpoint, peer, config, preferred, run));
    return { code: Code.Changed };
  };

  async #bootstrap(
    endpoint: string,
    peer: DatagramPeer,
    config: BootstrapConfig,
    preferred: number | undefined,
    run: symbol,
  ): Promise<void> {
    this.emit('started', { endpoint, peer });
    const format =
      preferred !== undefined && preferred !== ContentFormat.LINK && canEncode(preferred)
        ? preferred
        : ContentFormat.TLV;
    const done: BootstrapStep[] = [];
    const step = async (s: BootstrapStep, params: RequestParams, allowed: readonly number[]) => {
      if (this.#running.get(endpoint) !== run) throw new StepFailed(s, undefined, 'superseded');
      let response: CoapResponse;
      try {
        response = await this.#o.endpoint.request(peer, {
          ...params,
          path: s.path,
          ...(this.#o.timeoutMs ? { timeoutMs: this.#o.timeoutMs } : {}),
        });
      } catch (err) {
        throw new StepFailed(s, undefined, (err as Error).message);
      }
      if (!allowed.includes(response.code)) {
        throw new StepFailed(
          s,
          response.code,
          `${s.operation} ${s.path}: ${codeString(response.code)}`,
        );
      }
      done.push(s);
      return response;
    };
    try {
      const used = new Set<number>();
      // Bootstrap-Discover is LwM2M 1.1; a 1.0 client answers 4.04/4.05 and we carry on.
      const discover = await step(
        { operation: 'discover', path: '/0' },
        { code: Code.Get, accept: ContentFormat.LINK },
        [Code.Content, Code.NotFound, Code.MethodNotAllowed, Code.BadRequest],
      );
      if (discover.code === Code.Content) {
        const links = parseLinkFormat(discover.payload);
        if (links.ok) {
          for (const l of links.links) {
            const m = /^\/0\/(\d+)$/.exec(l.uri);
            // After a Delete of / only the Bootstrap-Server account stays (LwM2M 1.0 §5.2.7.5);
            // without one, every listed instance stays.
            if (m && (config.deleteFirst === false || l.attributes.ssid === undefined)) {
              used.add(Number(m[1]));
            }
          }
        }
      }
      if (config.deleteFirst !== false) {
        // LwM2M 1.0 §5.2.7.5: Delete of / removes every instance but the Bootstrap-Server
        // account and the Device object.
        await step({ operation: 'delete', path: '/' }, { code: Code.Delete }, [Code.Deleted]);
      }
      const model = this.#registry.modelFor();
      let next = 0;
      for (const account of config.servers) {
        while (used.has(next)) next++;
        const id = next++;
        const security = securityInstance(id, account);
        const server = serverInstance(id, account);
        for (const [objectId, node] of [
          [0, security],
          [1, server],
        ] as const) {
          const path = new Lwm2mPath(objectId, id);
          const payload = encode(node, format, path, model);
          // LwM2M 1.0 §5.2.7.4: Bootstrap-Write answers 2.04 Changed.
          await step(
            { operation: 'write', path: path.toString() },
            { code: Code.Put, contentFormat: format, payload },
            [Code.Changed],
          );
        }
      }
      // LwM2M 1.0 §5.2.7.6 / TS-Core 1.1 §6.1.7.3: Bootstrap-Finish; 4.06 means the client
      // found the configuration inconsistent.
      await step({ operation: 'finish', path: '/bs' }, { code: Code.Post }, [Code.Changed]);
      this.emit('finished', { endpoint, steps: done });
    } catch (err) {
      const failure =
        err instanceof StepFailed
          ? {
              endpoint,
              step: err.step,
              ...(err.code ? { code: err.code } : {}),
              reason: err.message,
            }
          : { endpoint, reason: (err as Error).message };
      this.#o.logger?.warn(failure, 'bootstrap failed');
      this.emit('failed', failure);
    } finally {
      if (this.#running.get(endpoint) === run) this.#running.delete(endpoint);
    }
  }
}

function badRequest(reason: string): OutgoingResponse {
  return { code: Code.BadRequest, payload: Buffer.from(reason) };
}

/** The Security object instance of an account (LwM2M 1.0 Appendix E.1). */
function securityInstance(id: number, a: ServerAccount): Lwm2mObjectInstance {
  return objectInstance(id, [
    singleResource(0, Value.string(a.uri)),
    singleResource(1, Value.boolean(false)),
    singleResource(2, Value.integer(SECURITY_MODE_VALUE[a.securityMode])),
    singleResource(3, Value.opaque(a.publicKeyOrIdentity ?? Buffer.alloc(0))),
    singleResource(4, Value.opaque(a.serverPublicKey ?? Buffer.alloc(0))),
    singleResource(5, Value.opaque(a.secretKey ?? Buffer.alloc(0))),
    singleResource(10, Value.integer(a.shortServerId)),
  ]);
}

/** The Server object instance of an account (LwM2M 1.0 Appendix E.2). */
function serverInstance(id: number, a: ServerAccount): Lwm2mObjectInstance {
  return objectInstance(id, [
    singleResource(0, Value.integer(a.shortServerId)),
    singleResource(1, Value.integer(a.lifetime)),
    singleResource(6, Value.boolean(a.notificationStoring ?? true)),
    singleResource(7, Value.string(a.binding ?? 'U')),
  ]);
}
