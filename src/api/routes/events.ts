import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import type { DeviceRegistry, RegistryEvents } from '../../hub/device-registry.js';
import { BEARER } from '../auth.js';
import { ApiError, apiErrorSchema } from '../errors.js';
import { deviceJson } from './device-schemas.js';

const EVENT_TYPES = ['registered', 'updated', 'deleted', 'revoked', 'online', 'offline'] as const;
type EventType = (typeof EVENT_TYPES)[number];

/** A comment line keeps proxies from closing an idle stream (WHATWG HTML §9.2.5 allows them). */
const HEARTBEAT_MS = 15_000;

/**
 * GET /api/events: the registry's device events as Server-Sent Events (WHATWG HTML §9.2),
 * filterable by device and type. Each event's `data` is one JSON object with `type`, `device`
 * (the id) and `ts`, plus the device (registered, updated) or the details of the change.
 */
export const eventRoutes: FastifyPluginAsync<{ devices: DeviceRegistry }> = async (app, opts) => {
  // Hijacked responses are outside fastify's bookkeeping: end them ourselves before the server
  // waits for its connections to close.
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const raw of open) raw.end();
  });

  app.get<{ Querystring: { device?: string; type?: string } }>(
    '/api/events',
    {
      config: { access: 'read-only' },
      schema: {
        summary: 'Device events as a Server-Sent Events stream',
        description: `Event types: ${EVENT_TYPES.join(', ')}. The stream stays open; a comment line is sent every ${HEARTBEAT_MS / 1000} s.`,
        tags: ['devices'],
        security: BEARER,
        produces: ['text/event-stream'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            device: { type: 'string', description: 'only the events of this device' },
            type: {
              type: 'string',
              description: `comma-separated event types (${EVENT_TYPES.join(', ')})`,
            },
          },
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
      const types = parseTypes(request.query.type);
      const only = request.query.device;
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
      const send = (type: EventType, device: string, body: Record<string, unknown>) => {
        if (only !== undefined && device !== only) return;
        const data = JSON.stringify({ type, device, ts: new Date().toISOString(), ...body });
        raw.write(`id: ${++seq}\nevent: ${type}\ndata: ${data}\n\n`);
      };
      const handlers: { [K in EventType]: (e: RegistryEvents[K]) => void } = {
        registered: (e) => send('registered', e.device.id, { data: deviceJson(e.device) }),
        updated: (e) =>
          send('updated', e.device.id, { data: deviceJson(e.device), revoked: e.revoked }),
        deleted: (e) => send('deleted', e.id, {}),
        revoked: (e) => send('revoked', e.id, { kinds: e.kinds, sessionsClosed: e.sessionsClosed }),
        online: (e) => send('online', e.id, { protocol: e.protocol }),
        offline: (e) => send('offline', e.id, { protocol: e.protocol }),
      };
      const on = <K extends EventType>(type: K) => opts.devices.events.on(type, handlers[type]);
      const off = <K extends EventType>(type: K) => opts.devices.events.off(type, handlers[type]);
      for (const type of types) on(type);
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      open.add(raw);
      raw.once('close', () => {
        open.delete(raw);
        clearInterval(heartbeat);
        for (const type of types) off(type);
      });
    },
  );
};

function parseTypes(raw: string | undefined): readonly EventType[] {
  if (raw === undefined || raw === '') return EVENT_TYPES;
  const types = raw.split(',').map((s) => s.trim());
  for (const t of types) {
    if (!(EVENT_TYPES as readonly string[]).includes(t)) {
      throw new ApiError(
        'TANDEM_ERR_VALIDATION',
        `type: unknown event type ${t} (known: ${EVENT_TYPES.join(', ')})`,
        'type',
      );
    }
  }
  return types as EventType[];
}
