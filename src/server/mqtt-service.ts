import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { TandemConfig } from '../config/schema.js';
import { MqttBroker } from '../mqtt/broker.js';
import type { ConnectionInfo, MqttHooks } from '../mqtt/options.js';
import type { MqttPersistence } from '../mqtt/persistence/types.js';
import { selectMqttProtocol, webSocketDuplex } from '../mqtt/ws-stream.js';
import type { Clock } from '../util/clock.js';
import { listenStream } from './listen.js';
import { loadTlsMaterial } from './tls-cert.js';

type MqttListener = 'mqtt' | 'mqtts' | 'ws';

interface Bound {
  server: NetServer | HttpServer;
  sockets: Set<Socket>;
  host: string;
  port: number;
}

/**
 * The MQTT side of the server: one broker, fed by the TCP, TLS and WebSocket listeners.
 * Listeners only move bytes; the broker speaks MQTT.
 */
export class MqttService {
  readonly broker: MqttBroker;
  readonly #config: TandemConfig;
  readonly #logger: Logger;
  readonly #bound = new Map<MqttListener, Bound>();
  readonly #onConnection: ((stream: Duplex, info: ConnectionInfo) => void) | undefined;

  constructor(options: {
    config: TandemConfig;
    logger: Logger;
    clock: Clock;
    hooks: MqttHooks;
    version: string;
    /** Where sessions, retained messages and QoS 1/2 state live; in memory when absent. */
    persistence?: MqttPersistence;
    /** Sees every accepted connection's stream before the broker does (presence tracking). */
    onConnection?: (stream: Duplex, info: ConnectionInfo) => void;
  }) {
    this.#onConnection = options.onConnection;
    this.#config = options.config;
    this.#logger = options.logger;
    this.broker = new MqttBroker({
      logger: options.logger,
      clock: options.clock,
      hooks: options.hooks,
      version: options.version,
      limits: {
        maxQueuedMessages: options.config.mqtt.maxQueuedMessages,
        queueFullPolicy: options.config.mqtt.queueFullPolicy,
      },
      ...(options.persistence ? { persistence: options.persistence } : {}),
    });
  }

  /**
   * Restores the persisted sessions and retained messages, then binds every MQTT listener that
   * is not off; returns what each is bound to. A failed restore fails the start.
   */
  async start(hostOf: (name: MqttListener) => string): Promise<Map<MqttListener, Bound>> {
    const { listeners, dataDir } = this.#config;
    await this.broker.ready;
    if (listeners.mqtt.port !== 'off') {
      await this.#listen('mqtt', this.#tcpServer(), hostOf('mqtt'), listeners.mqtt.port);
    }
    if (listeners.mqtts.port !== 'off') {
      const tls = await loadTlsMaterial(dataDir, listeners.mqtts);
      if (tls.generated) {
        this.#logger.warn(
          { dir: `${dataDir}/tls` },
          'mqtts uses a generated self-signed development certificate; configure listeners.mqtts.cert and key for production',
        );
      }
      const server = createTlsServer(
        {
          cert: tls.cert,
          key: tls.key,
          // With a CA the certificate is requested, and an unverified one is not refused here:
          // the broker's authentication decides (a password may still do).
          ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}),
        },
        (socket: TLSSocket) => {
          socket.setNoDelay(true);
          const cert = socket.authorized ? socket.getPeerCertificate() : undefined;
          this.#accept(socket, {
            remoteAddress: socket.remoteAddress ?? '',
            remotePort: socket.remotePort ?? 0,
            transport: 'tls',
            ...(cert?.subject ? { peerCertificate: cert } : {}),
          });
        },
      );
      // A failed TLS handshake costs only that client.
      server.on('tlsClientError', (_err, socket) => socket.destroy());
      await this.#listen('mqtts', server, hostOf('mqtts'), listeners.mqtts.port);
    }
    if (listeners.ws.port !== 'off') {
      await this.#listen('ws', this.#wsServer(listeners.ws.path), hostOf('ws'), listeners.ws.port);
    }
    return this.#bound;
  }

  /** Stops accepting, lets the broker say goodbye (DISCONNECT 0x8B) and waits for the sockets. */
  async stop(): Promise<void> {
    const closing = [...this.#bound.values()].map(
      ({ server }) => new Promise((resolve) => server.close(resolve)),
    );
    await this.broker.close();
    await Promise.all(closing);
    this.#bound.clear();
  }

  /** Cuts every connection still open (after the shutdown timeout). */
  destroyAll(): void {
    for (const { sockets } of this.#bound.values()) for (const s of sockets) s.destroy();
  }

  #tcpServer(): NetServer {
    return createNetServer({ noDelay: true }, (socket) => {
      this.#accept(socket, {
        remoteAddress: socket.remoteAddress ?? '',
        remotePort: socket.remotePort ?? 0,
        transport: 'tcp',
      });
    });
  }

  /** MQTT over WebSocket [MQTT-6.0.0-3]: subprotocols `mqtt` and `mqttv3.1`, on one path. */
  #wsServer(path: string): HttpServer {
    const http = createHttpServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end(`MQTT over WebSocket: upgrade to a WebSocket on ${path}\n`);
    });
    const wss = new WebSocketServer({
      server: http,
      path,
      handleProtocols: (offered) => selectMqttProtocol(offered),
      perMessageDeflate: false,
    });
    wss.on('connection', (ws, request) => {
      this.#accept(webSocketDuplex(ws), {
        remoteAddress: request.socket.remoteAddress ?? '',
        remotePort: request.socket.remotePort ?? 0,
        transport: 'ws',
      });
    });
    return http;
  }

  #accept(stream: Duplex, info: ConnectionInfo): void {
    this.#onConnection?.(stream, info);
    this.broker.handleConnection(stream, info);
  }

  async #listen(name: MqttListener, server: NetServer | HttpServer, host: string, port: number) {
    const sockets = new Set<Socket>();
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    const bound = await listenStream(server, name, host, port);
    this.#bound.set(name, { server, sockets, host, port: bound });
  }
}
