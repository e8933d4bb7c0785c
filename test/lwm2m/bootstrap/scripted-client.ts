import { Code } from '../../../src/coap/code.js';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import type { CoapRequest, OutgoingResponse } from '../../../src/coap/request.js';
import { UdpTransport, udpPeer } from '../../../src/coap/udp-transport.js';
import { decode } from '../../../src/lwm2m/codec/lwm2m-codec.js';
import { omaRegistry } from '../../../src/lwm2m/model/object-registry.js';
import type {
  Lwm2mObjectInstance,
  Lwm2mSingleResource,
} from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../../../src/lwm2m/node/lwm2m-path.js';
import type { DatagramPeer, DatagramTransport } from '../../../src/transport/datagram.js';

/**
 * A device written out by hand for the Bootstrap-Server tests, so that our server is not only
 * checked against our own client library: it records every request and answers from a script.
 */
export interface Received {
  method: number;
  path: string;
  contentFormat: number | undefined;
  payload: Buffer;
}

export type Script = (request: CoapRequest) => OutgoingResponse | undefined;

/** `transport` defaults to UDP on 127.0.0.1; give a DTLS client transport for coaps. */
export async function scriptedClient(
  script: Script = () => undefined,
  transport?: DatagramTransport,
) {
  const received: Received[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  transport ??= await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const endpoint = new CoapEndpoint(transport, {
    handler: (request) => {
      received.push({
        method: request.method,
        path: `/${request.path.join('/')}`,
        contentFormat: request.contentFormat,
        payload: request.payload,
      });
      for (const w of waiters.filter((w) => received.length >= w.count)) w.resolve();
      return script(request) ?? defaultAnswer(request);
    },
  });
  return {
    endpoint,
    received,
    /** Resolves once `count` requests have arrived. */
    until: (count: number) =>
      new Promise<void>((resolve) => {
        if (received.length >= count) resolve();
        else waiters.push({ count, resolve });
      }),
    /** POST /bs to a UDP port, or to a peer (the DTLS transport's server). */
    bootstrapRequest: (server: number | DatagramPeer, query: string[]) =>
      endpoint.request(typeof server === 'number' ? udpPeer('127.0.0.1', server) : server, {
        code: Code.Post,
        path: 'bs',
        query,
      }),
    close: () => endpoint.close(),
  };
}

/** A 1.1 client with its Bootstrap-Server account at /0/0 that accepts everything. */
function defaultAnswer(request: CoapRequest): OutgoingResponse {
  switch (request.method) {
    case Code.Get:
      return {
        code: Code.Content,
        contentFormat: 40,
        payload: Buffer.from('</0/0>,</0/3>;ssid=9'),
      };
    case Code.Delete:
      return { code: Code.Deleted };
    default:
      return { code: Code.Changed };
  }
}

/** The resources of a written object instance, decoded with the OMA model. */
export function writtenResources(r: Received): Map<number, unknown> {
  const path = Lwm2mPath.parse(r.path);
  const node = decode(r.payload, r.contentFormat!, path, omaRegistry().modelFor());
  const out = new Map<number, unknown>();
  for (const [id, res] of (node as Lwm2mObjectInstance).resources) {
    out.set(id, (res as Lwm2mSingleResource).value.value);
  }
  return out;
}
