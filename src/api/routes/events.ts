import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import {
  checkEventFilter,
  commaList,
  DEVICE_EVENT_TYPES,
  type DeviceEventFeed,
  type DeviceEventFilter,
} from '../../hub/device-events.js';
import type { TokenStore } from '../../store/ports.js';
import { BEARER, tokenStands } from '../auth.js';
import { apiErrorSchema } from '../errors.js';

/** A comment line keeps proxies from closing an idle stream (WHATWG HTML §9.2.5 allows them). */
const HEARTBEAT_MS = 15_000;

/** The query string of both event streams (`/api/events`, `/api/stream`). */
export interface EventQuery {
  device?: string;
  type?: string;
  path?: string;
}

export const eventQueryProperties = {
  device: { type: 'string', description: 'only the events of these devices (comma-separated ids)' },
  type: {
    type: 'string',
    description: `only these event types, comma-separated (${DEVICE_EVENT_TYPES.join(', ')})`,
  },
  path: {
    type: 'string',
    description:
      'only data events at or below these LwM2M paths, comma-separated (`/3303` takes `/3303/0/5700`)',
  },
} as const;

/** The filter a query string asks for; a bad one is a 400 naming the parameter. */
export function filterOfQuery(query: EventQuery): DeviceEventFilter {
  return checkEventFilter(
    {
      types: commaList(query.type),
      devices: commaList(query.device),
      paths: commaList(query.path),
    },
    { types: 'type', devices: 'device', paths: 'path' },
  );
}

/**
 * GET /api/events: the devices' events (src/hub/device-events.ts) as Server-Sent Events
 * (WHATWG HTML §9.2), filterable by device, type and path. Each event's `data` is the event's
 * JSON; its `event` field is the type.
 */
export const eventRoutes: FastifyPluginAsync<{
  events: DeviceEventFeed;
  /** Checked with every keep-alive comment: a stream whose token was revoked ends. */
  tokens?: TokenStore;
  heartbeatMs?: number;
}> = async (app, opts) => {
  const heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS;
  // Hijacked responses are outside fastify's bookkeeping: end them ourselves before the server
  // waits for its connections to close.
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const raw of open) raw.end();
  });

  app.get<{ Querystring: EventQuery }>(
    '/api/events',
    {
      config: { access: 'read-only' },
      schema: {
        summary: 'Device events as a Server-Sent Events stream',
        description: `Event types: ${DEVICE_EVENT_TYPES.join(', ')} (docs/webhooks-and-streams.md). The stream stays open; a comment line is sent every ${heartbeatMs / 1000} s; a stream whose token is revoked ends then.`,
        tags: ['devices'],
        security: BEARER,
        produces: ['text/event-stream'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: eventQueryProperties,
        },
        response: {
          200: { type: 'string', description: 'text/event-stream' },
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const filter = filterOfQuery(request.query);
      const raw = reply.raw;
      reply.hijack();
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        // Tells nginx not to buffer the stream.
        'x-accel-buffering': 'no',
      });
      raw.write(': tandem device events\n\n');
      let seq = 0;
      const unsubscribe = opts.events.subscribe(filter, (e) => {
        raw.write(`id: ${++seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
      });
      const heartbeat = setInterval(() => {
        raw.write(': keep-alive\n\n');
        void tokenStands(request, opts.tokens).then((stands) => {
          if (!stands) raw.end();
        });
      }, heartbeatMs);
      heartbeat.unref();
      open.add(raw);
      raw.once('close', () => {
        open.delete(raw);
        clearInterval(heartbeat);
        unsubscribe();
      });
    },
  );
};
