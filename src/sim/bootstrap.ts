/**
 * Client-initiated bootstrap by hand (LwM2M 1.0 §5.2.7, TS-Core 1.1 §6.1), since the client
 * library has none: POST /bs?ep=, then answer the Bootstrap-Server's Discover, Read (of the
 * Server object, 1.1 §5.2.7.4), Delete, Write and Finish, and take the LwM2M server account it
 * wrote (the Security instance that is not the Bootstrap-Server's, and the Server instance with
 * the same Short Server ID).
 */
import { Code, codeString } from '../coap/code.js';
import type { CoapEndpoint } from '../coap/endpoint.js';
import type { CoapRequest, OutgoingResponse } from '../coap/request.js';
import { ContentFormat } from '../lwm2m/codec/content-format.js';
import { canEncode, decode, encode } from '../lwm2m/codec/lwm2m-codec.js';
import { omaRegistry } from '../lwm2m/model/object-registry.js';
import {
  type Lwm2mNode,
  type Lwm2mResource,
  object,
  objectInstance,
} from '../lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../lwm2m/node/lwm2m-path.js';
import type { DatagramPeer } from '../transport/datagram.js';

/** The LwM2M server account the Bootstrap-Server wrote. */
export interface ServerAccount {
  readonly uri: string;
  /** LwM2M 1.0 Appendix E.1 resource 2: 0 PSK, 1 RPK, 2 Certificate, 3 NoSec. */
  readonly securityMode: number;
  readonly identity: Buffer;
  readonly secretKey: Buffer;
  readonly shortServerId: number;
  readonly lifetime: number | undefined;
}

export class BootstrapError extends Error {
  override readonly name = 'BootstrapError';
}

/** The resources written to one object instance, by resource ID. */
type Resources = Map<number, Lwm2mResource>;

/** The instances of a written node (an object or an object instance) and their resources. */
function instancesOf(node: Lwm2mNode): Map<number, Resources> {
  const out = new Map<number, Resources>();
  const add = (id: number, resources: Iterable<Lwm2mResource>) =>
    out.set(id, new Map([...resources].map((r) => [r.id, r])));
  if (node.kind === 'object-instance') add(node.id, node.resources.values());
  else if (node.kind === 'object')
    for (const [id, i] of node.instances) add(id, i.resources.values());
  return out;
}

/** The value of a single resource, if written. */
function written(resources: Resources | undefined, id: number): unknown {
  const r = resources?.get(id);
  return r?.kind === 'single-resource' ? r.value.value : undefined;
}

/**
 * Runs the bootstrap over `endpoint` (its handler is replaced while it runs) with the
 * Bootstrap-Server at `server`; resolves with the account, or rejects within `timeoutMs`.
 */
export function bootstrap(
  endpoint: CoapEndpoint,
  server: DatagramPeer,
  name: string,
  timeoutMs: number,
): Promise<ServerAccount> {
  const security = new Map<number, Resources>();
  const servers = new Map<number, Resources>();
  const model = omaRegistry().modelFor();
  return new Promise<ServerAccount>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new BootstrapError('no Bootstrap-Finish in time')),
      timeoutMs,
    );
    const finish = (): OutgoingResponse => {
      clearTimeout(timer);
      const account = [...security.values()].find((s) => written(s, 1) !== true && s.has(0));
      if (!account) {
        // TS-Core 1.1 §6.1.7.3: an inconsistent configuration is answered 4.06.
        reject(new BootstrapError('the Bootstrap-Server wrote no LwM2M server account'));
        return { code: Code.NotAcceptable };
      }
      const ssid = Number(written(account, 10) ?? 0);
      const srv = [...servers.values()].find((s) => Number(written(s, 0)) === ssid);
      const buf = (v: unknown) => (Buffer.isBuffer(v) ? v : Buffer.alloc(0));
      setImmediate(() =>
        resolve({
          uri: String(written(account, 0)),
          securityMode: Number(written(account, 2) ?? 3),
          identity: buf(written(account, 3)),
          secretKey: buf(written(account, 5)),
          shortServerId: ssid,
          lifetime: srv?.has(1) ? Number(written(srv, 1)) : undefined,
        }),
      );
      return { code: Code.Changed };
    };
    endpoint.setHandler((request: CoapRequest) => {
      const p = `/${request.path.join('/')}`;
      if (request.method === Code.Post && p === '/bs') return finish();
      if (request.method === Code.Delete) {
        // LwM2M 1.0 §5.2.7.5: Delete of / or /0 or /1 clears the written accounts.
        if (p === '/' || p === '/0') security.clear();
        if (p === '/' || p === '/1') servers.clear();
        return { code: Code.Deleted };
      }
      if (
        request.method === Code.Get &&
        (request.accept ?? ContentFormat.LINK) === ContentFormat.LINK
      ) {
        // TS-Core 1.1 §6.1.7.1 Bootstrap-Discover: what we have (nothing written yet).
        const links = ['</>;lwm2m=1.1', '</0>', '</1>', '</3/0>', '</5/0>'];
        for (const id of security.keys()) links.push(`</0/${id}>`);
        for (const id of servers.keys()) links.push(`</1/${id}>`);
        return { code: Code.Content, contentFormat: ContentFormat.LINK, payload: links.join(',') };
      }
      if (request.method === Code.Get) {
        // TS-Core 1.1 §5.2.7.4 Bootstrap-Read: of the Server object (the Access Control object
        // is not simulated), never of the Security object.
        if (p !== '/1') return { code: p.startsWith('/0') ? Code.BadRequest : Code.NotFound };
        const format = request.accept!;
        if (!canEncode(format)) return { code: Code.NotAcceptable };
        const node = object(
          1,
          [...servers].map(([id, resources]) => objectInstance(id, resources.values())),
        );
        return {
          code: Code.Content,
          contentFormat: format,
          payload: encode(node, format, new Lwm2mPath(1), model),
        };
      }
      if (request.method === Code.Put) {
        const path = Lwm2mPath.tryParse(p);
        if (!path || request.contentFormat === undefined) return { code: Code.BadRequest };
        try {
          const node = decode(request.payload, request.contentFormat, path, model);
          const target = path.objectId === 0 ? security : path.objectId === 1 ? servers : undefined;
          if (target) {
            for (const [id, resources] of instancesOf(node)) {
              const merged = target.get(id) ?? new Map();
              for (const [k, r] of resources) merged.set(k, r);
              target.set(id, merged);
            }
          }
          return { code: Code.Changed };
        } catch {
          return { code: Code.BadRequest };
        }
      }
      return { code: Code.MethodNotAllowed };
    });
    endpoint.request(server, { code: Code.Post, path: 'bs', query: [`ep=${name}`] }).then(
      (answer) => {
        if (answer.code !== Code.Changed) {
          clearTimeout(timer);
          reject(new BootstrapError(`Bootstrap-Request refused: ${codeString(answer.code)}`));
        }
      },
      (err: Error) => {
        clearTimeout(timer);
        reject(new BootstrapError(`Bootstrap-Request: ${err.message}`));
      },
    );
  });
}
