/**
 * Client-initiated bootstrap by hand (LwM2M 1.0 §5.2.7, TS-Core 1.1 §6.1), since the client
 * library has none: POST /bs?ep=, then answer the Bootstrap-Server's Discover, Delete, Write and
 * Finish, and take the LwM2M server account it wrote (the Security instance that is not the
 * Bootstrap-Server's, and the Server instance with the same Short Server ID).
 */
import { Code, codeString } from '../coap/code.js';
import type { CoapEndpoint } from '../coap/endpoint.js';
import type { CoapRequest, OutgoingResponse } from '../coap/request.js';
import { decode } from '../lwm2m/codec/lwm2m-codec.js';
import { omaRegistry } from '../lwm2m/model/object-registry.js';
import type { Lwm2mNode } from '../lwm2m/node/lwm2m-node.js';
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

type Values = Map<number, unknown>;

function instanceValues(node: Lwm2mNode): Map<number, Values> {
  const out = new Map<number, Values>();
  const add = (id: number, resources: Iterable<[number, Lwm2mNode]>) => {
    const values: Values = out.get(id) ?? new Map();
    for (const [rid, r] of resources) {
      if (r.kind === 'single-resource') values.set(rid, r.value.value);
    }
    out.set(id, values);
  };
  if (node.kind === 'object-instance') add(node.id, node.resources);
  else if (node.kind === 'object') for (const [id, i] of node.instances) add(id, i.resources);
  return out;
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
  const security = new Map<number, Values>();
  const servers = new Map<number, Values>();
  const model = omaRegistry().modelFor();
  return new Promise<ServerAccount>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new BootstrapError('no Bootstrap-Finish in time')),
      timeoutMs,
    );
    const finish = (): OutgoingResponse => {
      clearTimeout(timer);
      const account = [...security.values()].find((s) => s.get(1) !== true && s.has(0));
      if (!account) {
        // TS-Core 1.1 §6.1.7.3: an inconsistent configuration is answered 4.06.
        reject(new BootstrapError('the Bootstrap-Server wrote no LwM2M server account'));
        return { code: Code.NotAcceptable };
      }
      const ssid = Number(account.get(10) ?? 0);
      const srv = [...servers.values()].find((s) => Number(s.get(0)) === ssid);
      const buf = (v: unknown) => (Buffer.isBuffer(v) ? v : Buffer.alloc(0));
      setImmediate(() =>
        resolve({
          uri: String(account.get(0)),
          securityMode: Number(account.get(2) ?? 3),
          identity: buf(account.get(3)),
          secretKey: buf(account.get(5)),
          shortServerId: ssid,
          lifetime: srv?.has(1) ? Number(srv.get(1)) : undefined,
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
      if (request.method === Code.Get) {
        // TS-Core 1.1 §6.1.7.1 Bootstrap-Discover: what we have (nothing written yet).
        const links = ['</>;lwm2m=1.1', '</0>', '</1>', '</3/0>', '</5/0>'];
        for (const id of security.keys()) links.push(`</0/${id}>`);
        return { code: Code.Content, contentFormat: 40, payload: links.join(',') };
      }
      if (request.method === Code.Put) {
        const path = Lwm2mPath.tryParse(p);
        if (!path || request.contentFormat === undefined) return { code: Code.BadRequest };
        try {
          const node = decode(request.payload, request.contentFormat, path, model);
          const target = path.objectId === 0 ? security : path.objectId === 1 ? servers : undefined;
          if (target) {
            for (const [id, values] of instanceValues(node)) {
              const merged = target.get(id) ?? new Map();
              for (const [k, v] of values) merged.set(k, v);
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
