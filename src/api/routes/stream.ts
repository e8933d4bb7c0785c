import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import {
  checkEventFilter,
  DEVICE_EVENT_TYPES,
  type DeviceEvent,
  type DeviceEventFeed,
  type DeviceEventFilter,
} from '../../hub/device-events.js';
import type { TokenStore } from '../../store/ports.js';
import { BEARER, tokenStands } from '../auth.js';
import { ApiError, apiErrorSchema, toApiError } from '../errors.js';
import { type EventQuery, eventQueryProperties, filterOfQuery } from './events.js';

export interface StreamOptions {
  events: DeviceEventFeed;
  /** Checked at every ping: a stream whose token was revoked is closed (1008). */
  tokens?: TokenStore;
  /**
   * A ping every this many ms; a client that has not answered the previous one is cut. Also
   * the keep-alive comment interval of `/api/events`.
   */
  pingIntervalMs?: number;
  /** A client with more than this many bytes not yet taken is dropped (1008). */
  maxBufferedBytes?: number;
}

/** Largest message a client may send (a filter); the ws server closes with 1009 past it. */
export const MAX_CLIENT_MESSAGE = 16 * 1024;
const DEFAULT_PING_MS = 30_000;
const DEFAULT_MAX_BUFFERED = 4 * 1024 * 1024;

/** RFC 6455 §7.4.1 status codes. */
const CLOSE_POLICY_VIOLATION = 1008;

/** A message from the client: `{"op":"filter","types":[...],"devices":[...],"paths":[...]}`. */
interface ClientMessage {
  op?: unknown;
  types?: unknown;
  devices?: unknown;
  paths?: unknown;
}

/**
 * GET /api/stream: the devices' events (the JSON of `/api/events`, one text message each) over
 * a WebSocket (RFC 6455). The query string sets the first filter; a client may replace it with
 * a `filter` message, answered with the filter in force. Tokens come in the Authorization
 * header or, from browsers, the `access_token` query parameter (RFC 6750 §2.3).
 */
export const streamRoutes: FastifyPluginAsync<StreamOptions> = async (app, opts) => {
  const pingMs = opts.pingIntervalMs ?? DEFAULT_PING_MS;
  const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
  const filters = new WeakMap<FastifyRequest, DeviceEventFilter>();

  app.route<{ Querystring: EventQuery & { access_token?: string } }>({
    method: 'GET',
    url: '/api/stream',
    config: { access: 'read-only', queryToken: true },
    schema: {
      summary: 'Device events over a WebSocket',
      description: `Upgrade to a WebSocket (RFC 6455): each event (${DEVICE_EVENT_TYPES.join(', ')}) comes as one JSON text message, the same JSON as the data of /api/events. Send {"op":"filter","types":[...],"devices":[...],"paths":[...]} to change the filter; the answer is {"op":"filter","filter":{...}}, or {"op":"error",...}. A client that falls more than ${maxBuffered} bytes behind is closed with 1008. See docs/webhooks-and-streams.md.`,
      tags: ['devices'],
      security: BEARER,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ...eventQueryProperties,
          access_token: {
            type: 'string',
            description:
              'the bearer token, for clients that cannot set the Authorization header (RFC 6750 §2.3)',
          },
        },
      },
      response: {
        101: { description: 'Switching Protocols: the WebSocket is open', type: 'null' },
        400: apiErrorSchema,
        401: apiErrorSchema,
        403: apiErrorSchema,
        426: apiErrorSchema,
      },
    },
    // Before the upgrade, so that a bad filter is an HTTP 400 the client can read.
    preHandler: async (request) => {
      filters.set(request, filterOfQuery(request.query));
    },
    handler: async (_request, reply) => {
      // RFC 9110 §15.5.22: a plain GET is told which protocol to upgrade to.
      const err = new ApiError('TANDEM_ERR_UPGRADE_REQUIRED', '/api/stream is a WebSocket');
      return reply.code(426).header('upgrade', 'websocket').send(err.body());
    },
    wsHandler: (socket, request) => {
      const log = request.log.child({ stream: request.id, token: request.apiToken?.id });
      let filter = filters.get(request) ?? {};
      const send = (event: DeviceEvent) => {
        if (socket.readyState !== socket.OPEN) return;
        // Backpressure: a client that does not keep up is dropped, not buffered without end.
        if (socket.bufferedAmount > maxBuffered) {
          log.warn({ buffered: socket.bufferedAmount }, 'event stream client too slow: closed');
          stop();
          socket.close(CLOSE_POLICY_VIOLATION, 'too slow: events not taken');
          return;
        }
        socket.send(JSON.stringify(event));
      };
      let unsubscribe = opts.events.subscribe(filter, send);
      let alive = true;
      const ping = setInterval(() => {
        // RFC 6455 §5.5.2–5.5.3: an endpoint answers a Ping with a Pong; one that does not is gone.
        if (!alive) {
          log.info('event stream client did not answer a ping: cut');
          socket.terminate();
          return;
        }
        alive = false;
        socket.ping();
        void tokenStands(request, opts.tokens).then((stands) => {
          if (stands || socket.readyState !== socket.OPEN) return;
          log.info('event stream token revoked: closed');
          stop();
          socket.close(CLOSE_POLICY_VIOLATION, 'token revoked');
        });
      }, pingMs);
      ping.unref();
      socket.on('pong', () => {
        alive = true;
      });
      const stop = () => {
        clearInterval(ping);
        unsubscribe();
      };
      socket.once('close', stop);
      socket.on('message', (data, isBinary) => {
        // A stream being closed (too slow, token revoked) takes no new filter.
        if (socket.readyState !== socket.OPEN) return;
        const answer = (body: unknown) => socket.send(JSON.stringify(body));
        try {
          const next = parseFilterMessage(isBinary ? undefined : data.toString());
          unsubscribe();
          filter = next;
          unsubscribe = opts.events.subscribe(filter, send);
          answer({ op: 'filter', filter });
        } catch (e) {
          const err = toApiError(e as Error);
          answer({ op: 'error', ...err.body() });
        }
      });
      log.debug({ filter }, 'event stream opened');
    },
  });
};

function parseFilterMessage(text: string | undefined): DeviceEventFilter {
  if (text === undefined) {
    throw new ApiError('TANDEM_ERR_BAD_REQUEST', 'messages are JSON text, not binary');
  }
  let message: ClientMessage;
  try {
    message = JSON.parse(text) as ClientMessage;
  } catch {
    throw new ApiError('TANDEM_ERR_BAD_REQUEST', 'the message is not JSON');
  }
  if (typeof message !== 'object' || message === null || message.op !== 'filter') {
    throw new ApiError('TANDEM_ERR_VALIDATION', 'op: the only operation is "filter"', 'op');
  }
  return checkEventFilter(message, { types: 'types', devices: 'devices', paths: 'paths' });
}

/**
 * Closes every stream with 1001 Going Away (RFC 6455 §7.4.1) when the server stops, and cuts
 * those that have not finished the closing handshake within `graceMs`.
 */
export function closeStreams(clients: Set<WebSocket>, graceMs: number): Promise<void> {
  const open = [...clients];
  if (open.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    let left = open.length;
    const timer = setTimeout(() => {
      for (const c of open) c.terminate();
    }, graceMs);
    timer.unref();
    for (const c of open) {
      c.once('close', () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      c.close(1001, 'server stopping');
    }
  });
}
