import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DeviceCommands } from '../hub/commands/operations.js';
import type { CommandQueue } from '../hub/commands/queue.js';
import type { DeviceEventFeed } from '../hub/device-events.js';
import type { DeviceRegistry } from '../hub/device-registry.js';
import type { DeviceProfiles } from '../hub/profile-service.js';
import type { Webhooks } from '../hub/webhooks.js';
import type { TelemetryStore, TokenStore } from '../store/ports.js';
import { bearerScheme, installAuth, redactedUrl } from './auth.js';
import { ApiError, installErrorHandler } from './errors.js';
import { type BootstrapApi, bootstrapRoutes } from './routes/bootstrap.js';
import { commandRoutes } from './routes/commands.js';
import { deviceDataRoutes } from './routes/device-data.js';
import { deviceOperationRoutes } from './routes/device-operations.js';
import { deviceRoutes } from './routes/devices.js';
import { eventRoutes } from './routes/events.js';
import { type HealthReport, healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { profileRoutes } from './routes/profiles.js';
import {
  closeStreams,
  MAX_CLIENT_MESSAGE,
  type StreamOptions,
  streamRoutes,
} from './routes/stream.js';
import { tokenRoutes } from './routes/tokens.js';
import { webhookRoutes } from './routes/webhooks.js';

export interface ApiContext {
  version: string;
  logger: Logger;
  health(): HealthReport;
  metrics: Registry;
  /** The device registry; without it the device routes are not served. */
  devices?: DeviceRegistry;
  telemetry?: TelemetryStore;
  /** The hub's commands; without them the live device operations are not served. */
  commands?: DeviceCommands;
  /** Queued commands; without it `/api/devices/{id}/commands` is not served. */
  queue?: CommandQueue;
  /** Device profiles; without them `/api/profiles` is not served. */
  profiles?: DeviceProfiles;
  /** API tokens; without a store every protected route answers 401. */
  tokens?: TokenStore;
  /** LwM2M bootstrap configurations and server-initiated bootstrap. */
  bootstrap?: BootstrapApi;
  /** The devices' events; without them `/api/events` and `/api/stream` are not served. */
  events?: DeviceEventFeed;
  /** Webhooks; without them `/api/webhooks` is not served. */
  webhooks?: Webhooks;
  /** Keep-alive and backpressure of `/api/stream`. */
  stream?: Omit<StreamOptions, 'events' | 'tokens'>;
  /** Requests without a token may read (loopback-only development mode). Default false. */
  anonymousReads?: boolean;
}

/**
 * The HTTP API. Built without a socket so tests can use `inject()`; the server binds it.
 * Every route declares its schema, which feeds the OpenAPI document at /api/openapi.json.
 */
export async function buildApi(ctx: ApiContext): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.logger.child(
      { component: 'http' },
      { serializers: { url: redactedUrl, path: redactedUrl } },
    ) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
    // An unknown property is an error, not silently dropped: a typo in `credentials` must not
    // create a device without them.
    ajv: { customOptions: { removeAdditional: false } },
  });
  installErrorHandler(app);
  // Fastify's own JSON parser (with its prototype-poisoning checks), except that an empty body
  // is no body: many clients send `content-type: application/json` on a DELETE.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, undefined);
    else json(request, body as string, done);
  });
  // Upgrades go through the router (and its authentication) before they become WebSockets.
  // Registered before the authentication hook, so that a refused upgrade's socket is closed.
  await app.register(websocket, {
    options: { maxPayload: MAX_CLIENT_MESSAGE, perMessageDeflate: false },
    preClose: async () => {
      await closeStreams(app.websocketServer.clients, 2000);
      app.websocketServer.close();
    },
  });
  installAuth(app, { tokens: ctx.tokens, anonymousReads: ctx.anonymousReads ?? false });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tandem API',
        version: ctx.version,
        description:
          'One API for MQTT and LwM2M devices. Authenticate with `Authorization: Bearer <token>`; roles: read-only (reads), operator (also changes devices), admin (also manages tokens). Errors are `{statusCode, code, error, message[, field]}` with a stable TANDEM_ERR_* code.',
      },
      components: { securitySchemes: bearerScheme },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs' });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(healthRoutes, { health: ctx.health });
  await app.register(metricsRoutes, { registry: ctx.metrics });
  if (ctx.devices) {
    await app.register(deviceRoutes, { devices: ctx.devices });
    if (ctx.events) {
      const tokens = ctx.tokens ? { tokens: ctx.tokens } : {};
      const heartbeatMs = ctx.stream?.pingIntervalMs;
      await app.register(eventRoutes, {
        events: ctx.events,
        ...tokens,
        ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
      });
      await app.register(streamRoutes, { events: ctx.events, ...tokens, ...ctx.stream });
    }
    if (ctx.commands) await app.register(deviceOperationRoutes, { commands: ctx.commands });
    if (ctx.queue) await app.register(commandRoutes, { queue: ctx.queue });
    if (ctx.profiles) await app.register(profileRoutes, { profiles: ctx.profiles });
    if (ctx.telemetry) {
      await app.register(deviceDataRoutes, { devices: ctx.devices, telemetry: ctx.telemetry });
    }
  }
  if (ctx.tokens) await app.register(tokenRoutes, { tokens: ctx.tokens });
  if (ctx.webhooks) await app.register(webhookRoutes, { webhooks: ctx.webhooks });
  if (ctx.bootstrap) await app.register(bootstrapRoutes, { bootstrap: ctx.bootstrap });
  app.setNotFoundHandler((request, reply) => {
    const err = new ApiError(
      'TANDEM_ERR_NOT_FOUND',
      `no route for ${request.method} ${request.url.split('?')[0]}`,
    );
    reply.code(404).send(err.body());
  });
  return app;
}
