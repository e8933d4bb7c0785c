import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';

/** GET /metrics: Prometheus text exposition of this instance's registry. */
export const metricsRoutes: FastifyPluginAsync<{ registry: Registry }> = async (app, opts) => {
  app.get(
    '/metrics',
    {
      config: { access: 'public' },
      schema: {
        summary: 'Prometheus metrics',
        tags: ['operations'],
        produces: ['text/plain'],
        response: { 200: { type: 'string' } },
      },
    },
    async (_request, reply) => {
      reply.header('content-type', opts.registry.contentType);
      return opts.registry.metrics();
    },
  );
};
