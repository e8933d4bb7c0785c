/**
 * An LwM2M server on its own UDP socket: the transport, the CoAP endpoint (with its
 * `onPeerSeen` wired to the server, for queue mode) and the server, closed together.
 */
import { CoapEndpoint, type CoapEndpointOptions } from '../../coap/endpoint.js';
import { UdpTransport, type UdpTransportOptions } from '../../coap/udp-transport.js';
import { Lwm2mServer, type Lwm2mServerOptions } from './server.js';

export interface UdpLwm2mServerOptions extends Omit<Lwm2mServerOptions, 'endpoint'> {
  readonly udp?: UdpTransportOptions;
  readonly coap?: Omit<CoapEndpointOptions, 'onPeerSeen' | 'handler'>;
}

export interface UdpLwm2mServer {
  readonly server: Lwm2mServer;
  readonly endpoint: CoapEndpoint;
  readonly transport: UdpTransport;
  /** The bound port. */
  readonly port: number;
  close(): Promise<void>;
}

export async function createUdpLwm2mServer(
  options: UdpLwm2mServerOptions = {},
): Promise<UdpLwm2mServer> {
  const transport = await UdpTransport.bind(options.udp);
  let server: Lwm2mServer | undefined;
  const endpoint = new CoapEndpoint(transport, {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...options.coap,
    onPeerSeen: (peer) => server?.peerSeen(peer),
  });
  server = new Lwm2mServer({ ...options, endpoint });
  const s = server;
  return {
    server: s,
    endpoint,
    transport,
    port: transport.address()!.port,
    close: async () => {
      await s.close();
      await endpoint.close();
    },
  };
}
