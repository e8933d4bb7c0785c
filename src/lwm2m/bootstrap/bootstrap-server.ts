/**
 * The LwM2M Bootstrap-Server (LwM2M 1.0 §5.2.7, TS-Core 1.1 §6.1, TS-Transport 1.1 §6.1): a
 * client sends Bootstrap-Request (POST /bs?ep=name[&pct=format]); we answer 2.04 and then drive
 * the client from the same endpoint, checking each answer against the codes the specification
 * allows (the first wrong one ends the sequence with a `failed` event):
 *
 * 1. Bootstrap-Discover of `/` (TS-Core 1.1 §5.2.7.3): the client's enabler version
 *    (`</>;lwm2m="1.1"`), its objects and instances, and the `ssid` of its accounts. A 1.0
 *    client may refuse it (4.00/4.04/4.05): it is then a 1.0 client of which nothing is known.
 * 2. LwM2M 1.1 and later only: Bootstrap-Read of /1 (§5.2.7.4 allows it on the Server and
 *    Access Control objects only, never on Security), and of /2 when the client listed Access
 *    Control instances: the accounts the device has, reported in the outcome, and used to
 *    replace an account of the same Short Server ID in place when nothing is deleted.
 * 3. Bootstrap-Delete of `/` unless the configuration says `deleteFirst: false`.
 * 4. Bootstrap-Write per account: its OSCORE instance (/21, 1.1 and later, when configured),
 *    its Security instance (/0, resource 17 linking the OSCORE instance), its Server instance.
 * 5. LwM2M 1.1 and later, when the first read worked: Bootstrap-Read of /1 again, to verify
 *    that every account is there with the Short Server ID, lifetime and binding written.
 * 6. Bootstrap-Finish (POST /bs).
 *
 * The outcome (`finished`), each read (`read`) and a failure (`failed`) are events and log lines;
 * the reads carry no secret (Security and OSCORE instances are never read).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { Code, codeString } from '../../coap/code.js';
import type {
  CoapRequest,
  CoapResponse,
  OutgoingResponse,
  RequestParams,
} from '../../coap/request.js';
import type { DatagramPeer } from '../../transport/datagram.js';
import { ContentFormat } from '../codec/content-format.js';
import { canDecode, canEncode, decode, encode } from '../codec/lwm2m-codec.js';
import type { ObjectRegistry } from '../model/object-registry.js';
import { omaRegistry } from '../model/object-registry.js';
import {
  type Lwm2mNode,
  type Lwm2mObjectInstance,
  objectInstance,
  singleResource,
} from '../node/lwm2m-node.js';
import { Lwm2mPath } from '../node/lwm2m-path.js';
import { Value } from '../node/lwm2m-value.js';
import { READ_CODES } from '../server/requests/read.js';
import {
  ACL_OBJECT,
  type DiscoveredClient,
  type ExistingServer,
  existingServers,
  hasBootstrapRead,
  OSCORE_OBJECT,
  type PlannedAccount,
  parseBootstrapDiscover,
  planAccounts,
  SECURITY_OBJECT,
  SERVER_OBJECT,
  UNKNOWN_CLIENT,
} from './client-state.js';
import {
  type BootstrapConfig,
  type BootstrapConfigStore,
  type OscoreSettings,
  SECURITY_MODE_VALUE,
  type ServerAccount,
} from './config.js';

/** What the Bootstrap-Server needs of a CoAP endpoint (CoapEndpoint has this shape). */
export interface BootstrapCoapPort {
  request(peer: DatagramPeer, params: RequestParams): Promise<CoapResponse>;
}

export interface BootstrapStep {
  readonly operation: 'discover' | 'read' | 'delete' | 'write' | 'finish';
  readonly path: string;
}

/** One Bootstrap-Read: before the writes (what the device had) or after (the verification). */
export interface BootstrapRead {
  readonly path: string;
  readonly phase: 'before' | 'after';
  /** The client's answer (2.05, or the 4.xx of a client that does not allow the read). */
  readonly code: number;
  readonly content?: Lwm2mNode;
}

/** Where each account went. */
export interface BootstrapAccountResult {
  readonly shortServerId: number;
  readonly securityInstance: number;
  readonly serverInstance: number;
  readonly oscoreInstance?: number;
}

export interface BootstrapOutcome {
  readonly endpoint: string;
  /** The version the client announced in Bootstrap-Discover ('1.0' when it did not). */
  readonly lwm2mVersion: string;
  readonly steps: readonly BootstrapStep[];
  readonly reads: readonly BootstrapRead[];
  readonly accounts: readonly BootstrapAccountResult[];
}

export interface BootstrapFailure {
  readonly endpoint: string;
  readonly step?: BootstrapStep;
  readonly code?: number;
  readonly reason: string;
  /** What was read before the failure. */
  readonly reads?: readonly BootstrapRead[];
}

export interface BootstrapServerEvents {
  started: [{ endpoint: string; peer: DatagramPeer }];
  read: [{ endpoint: string; read: BootstrapRead }];
  finished: [BootstrapOutcome];
  failed: [BootstrapFailure];
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
    const model = this.#registry.modelFor();
    const done: BootstrapStep[] = [];
    const reads: BootstrapRead[] = [];
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
    /** Bootstrap-Read (TS-Core 1.1 §5.2.7.4) of /1 or /2, decoded with the OMA model. */
    const read = async (objectId: number, phase: BootstrapRead['phase']) => {
      const s: BootstrapStep = { operation: 'read', path: `/${objectId}` };
      // Bootstrap-Read answers with the codes of a Read (LwM2M 1.0 §8.2.4 Table 25).
      const response = await step(s, { code: Code.Get, accept: format }, READ_CODES);
      let content: Lwm2mNode | undefined;
      if (response.code === Code.Content) {
        const cf = response.contentFormat ?? format;
        if (!canDecode(cf)) throw new StepFailed(s, response.code, `read ${s.path}: format ${cf}`);
        try {
          content = decode(response.payload, cf, new Lwm2mPath(objectId), model);
        } catch (err) {
          throw new StepFailed(s, response.code, `read ${s.path}: ${(err as Error).message}`);
        }
      }
      const result: BootstrapRead = {
        path: s.path,
        phase,
        code: response.code,
        ...(content ? { content } : {}),
      };
      reads.push(result);
      this.#o.logger?.info(
        { endpoint, path: s.path, phase, code: codeString(response.code), ...summary(content) },
        'bootstrap read',
      );
      if (this.#running.get(endpoint) === run) this.emit('read', { endpoint, read: result });
      return content;
    };
    try {
      const deleteFirst = config.deleteFirst !== false;
      // 1. Bootstrap-Discover of / (a 1.0 client may not know it: 4.00/4.04/4.05).
      const discovery: BootstrapStep = { operation: 'discover', path: '/' };
      const discover = await step(discovery, { code: Code.Get, accept: ContentFormat.LINK }, [
        Code.Content,
        Code.NotFound,
        Code.MethodNotAllowed,
        Code.BadRequest,
      ]);
      let client: DiscoveredClient = UNKNOWN_CLIENT;
      if (discover.code === Code.Content) {
        const parsed = parseBootstrapDiscover(discover.payload);
        if (!parsed) throw new StepFailed(discovery, discover.code, 'discover /: not link format');
        client = parsed;
      }
      const readable = hasBootstrapRead(client.version);
      checkOscoreSupport(config, client, readable, discovery);
      // 2. What the device has: Bootstrap-Read of the Server (and Access Control) object.
      let servers: ExistingServer[] = [];
      let verifiable = false;
      if (readable) {
        const before = await read(SERVER_OBJECT, 'before');
        if (before) {
          servers = existingServers(before);
          verifiable = true;
        }
        if (client.instances.get(ACL_OBJECT)?.size) await read(ACL_OBJECT, 'before');
      }
      // 3. LwM2M 1.0 §5.2.7.5: Delete of / removes every instance but the Bootstrap-Server
      // account and the Device object.
      if (deleteFirst) {
        await step({ operation: 'delete', path: '/' }, { code: Code.Delete }, [Code.Deleted]);
      }
      // 4. Bootstrap-Write, the OSCORE instance before the Security instance that links it.
      const planned = planAccounts(config.servers, client, servers, deleteFirst);
      for (const p of planned) {
        for (const [objectId, node] of instancesOf(p)) {
          const path = new Lwm2mPath(objectId, node.id);
          const payload = encode(node, format, path, model);
          // LwM2M 1.0 §5.2.7.4: Bootstrap-Write answers 2.04 Changed.
          await step(
            { operation: 'write', path: path.toString() },
            { code: Code.Put, contentFormat: format, payload },
            [Code.Changed],
          );
        }
      }
      // 5. The accounts as the client now has them.
      if (verifiable) {
        const after = await read(SERVER_OBJECT, 'after');
        const problem = after
          ? verifyServers(planned, existingServers(after))
          : 'the Server object cannot be read any more';
        if (problem) {
          throw new StepFailed(
            { operation: 'read', path: `/${SERVER_OBJECT}` },
            Code.Content,
            `verification: ${problem}`,
          );
        }
      }
      // 6. LwM2M 1.0 §5.2.7.6 / TS-Core 1.1 §6.1.7.3: Bootstrap-Finish; 4.06 means the client
      // found the configuration inconsistent.
      await step({ operation: 'finish', path: '/bs' }, { code: Code.Post }, [Code.Changed]);
      this.emit('finished', {
        endpoint,
        lwm2mVersion: client.version,
        steps: done,
        reads,
        accounts: planned.map((p) => ({
          shortServerId: p.account.shortServerId,
          securityInstance: p.securityInstance,
          serverInstance: p.serverInstance,
          ...(p.oscoreInstance !== undefined ? { oscoreInstance: p.oscoreInstance } : {}),
        })),
      });
    } catch (err) {
      if (this.#running.get(endpoint) !== run) {
        // A new Bootstrap-Request of the endpoint took over; its own run reports the outcome.
        this.#o.logger?.info({ endpoint }, 'bootstrap superseded by a new Bootstrap-Request');
        return;
      }
      const failure: BootstrapFailure =
        err instanceof StepFailed
          ? {
              endpoint,
              step: err.step,
              ...(err.code ? { code: err.code } : {}),
              reason: err.message,
              reads,
            }
          : { endpoint, reason: (err as Error).message, reads };
      this.#o.logger?.warn(
        { endpoint, step: failure.step, code: failure.code, reason: failure.reason },
        'bootstrap failed',
      );
      this.emit('failed', failure);
    } finally {
      if (this.#running.get(endpoint) === run) this.#running.delete(endpoint);
    }
  }
}

/**
 * OSCORE (object 21) is LwM2M 1.1: a configuration that needs it cannot be written to a 1.0
 * client, nor to a client that listed its objects without object 21.
 */
function checkOscoreSupport(
  config: BootstrapConfig,
  client: DiscoveredClient,
  readable: boolean,
  discovery: BootstrapStep,
): void {
  if (!config.servers.some((s) => s.oscore)) return;
  if (!readable) {
    throw new StepFailed(
      discovery,
      undefined,
      `OSCORE needs LwM2M 1.1; the client announced ${client.version}`,
    );
  }
  if (!client.objects.has(OSCORE_OBJECT)) {
    throw new StepFailed(discovery, undefined, 'the client has no OSCORE object (21)');
  }
}

/** A problem with the accounts read back after the writes, or undefined when all are there. */
function verifyServers(
  planned: readonly PlannedAccount[],
  servers: readonly ExistingServer[],
): string | undefined {
  for (const { account, serverInstance } of planned) {
    const found = servers.find((s) => s.instanceId === serverInstance);
    const at = `/1/${serverInstance}`;
    if (!found) return `${at} is missing`;
    if (found.shortServerId !== account.shortServerId) {
      return `${at} has Short Server ID ${found.shortServerId}, not ${account.shortServerId}`;
    }
    if (found.lifetime !== account.lifetime) {
      return `${at} has lifetime ${found.lifetime}, not ${account.lifetime}`;
    }
    const binding = account.binding ?? 'U';
    if (found.binding !== undefined && found.binding !== binding) {
      return `${at} has binding ${found.binding}, not ${binding}`;
    }
  }
  return undefined;
}

/** What a read found, for the log line: the accounts' Short Server IDs or the ACL instances. */
function summary(content: Lwm2mNode | undefined): Record<string, unknown> {
  if (content?.kind !== 'object') return {};
  if (content.id === SERVER_OBJECT) return { servers: existingServers(content) };
  return { instances: [...content.instances.keys()] };
}

/** The instances written for one account, in writing order. */
function instancesOf(p: PlannedAccount): [number, Lwm2mObjectInstance][] {
  const out: [number, Lwm2mObjectInstance][] = [];
  const oscore = p.account.oscore;
  if (oscore && p.oscoreInstance !== undefined) {
    out.push([OSCORE_OBJECT, oscoreInstance(p.oscoreInstance, oscore)]);
  }
  out.push([SECURITY_OBJECT, securityInstance(p.securityInstance, p.account, p.oscoreInstance)]);
  out.push([SERVER_OBJECT, serverInstance(p.serverInstance, p.account)]);
  return out;
}

function badRequest(reason: string): OutgoingResponse {
  return { code: Code.BadRequest, payload: Buffer.from(reason) };
}

/**
 * The Security object instance of an account (LwM2M 1.0 Appendix E.1); with OSCORE, resource
 * 17 "OSCORE Security Mode" links the account's OSCORE instance (TS-Core 1.1 Appendix E.1).
 */
function securityInstance(id: number, a: ServerAccount, oscore?: number): Lwm2mObjectInstance {
  return objectInstance(id, [
    singleResource(0, Value.string(a.uri)),
    singleResource(1, Value.boolean(false)),
    singleResource(2, Value.integer(SECURITY_MODE_VALUE[a.securityMode])),
    singleResource(3, Value.opaque(a.publicKeyOrIdentity ?? Buffer.alloc(0))),
    singleResource(4, Value.opaque(a.serverPublicKey ?? Buffer.alloc(0))),
    singleResource(5, Value.opaque(a.secretKey ?? Buffer.alloc(0))),
    singleResource(10, Value.integer(a.shortServerId)),
    ...(oscore !== undefined ? [singleResource(17, Value.objlnk(OSCORE_OBJECT, oscore))] : []),
  ]);
}

/**
 * The OSCORE object instance of an account (TS-Core 1.1 Appendix E.9, object 21): the input
 * parameters of the client's security context (RFC 8613 §3.2); the optional ones are written
 * only when configured, so that the client applies the RFC 8613 §3.2.1 defaults.
 */
function oscoreInstance(id: number, o: OscoreSettings): Lwm2mObjectInstance {
  return objectInstance(id, [
    singleResource(0, Value.opaque(o.masterSecret)),
    singleResource(1, Value.opaque(o.senderId)),
    singleResource(2, Value.opaque(o.recipientId)),
    ...(o.aeadAlgorithm !== undefined ? [singleResource(3, Value.integer(o.aeadAlgorithm))] : []),
    ...(o.hmacAlgorithm !== undefined ? [singleResource(4, Value.integer(o.hmacAlgorithm))] : []),
    ...(o.masterSalt !== undefined ? [singleResource(5, Value.opaque(o.masterSalt))] : []),
    ...(o.idContext !== undefined ? [singleResource(6, Value.opaque(o.idContext))] : []),
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
