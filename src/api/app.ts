import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type HealthReport, healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';

export interface ApiContext {
  version: string;
  logger: Logger;
  health(): HealthReport;
  metrics: Registry;
}

/**
 * The HTTP API. Built without a socket so tests can use `inject()`; the server binds it.
 * Every route declares its schema, which feeds the OpenAPI document at /api/openapi.json.
 */
export async function buildApi(ctx: ApiContext): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.logger.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tandem API',
        version: ctx.version,
        description: 'One API for MQTT and LwM2M devices.',
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs' });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(healthRoutes, { health: ctx.health });
  await app.register(metricsRoutes, { registry: ctx.metrics });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      statusCode: 404,
      code: 'TANDEM_ERR_NOT_FOUND',
      error: 'Not Found',
      message: `no route for ${request.method} ${request.url.split('?')[0]}`,
    });
  });
  return app;
}
