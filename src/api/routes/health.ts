import type { FastifyPluginAsync } from 'fastify';

export type ListenerStatus =
  | { status: 'listening'; address: string }
  | { status: 'off' }
  | { status: 'stopped' };

export interface HealthReport {
  status: 'ok' | 'degraded';
  version: string;
  uptimeSeconds: number;
  listeners: Record<string, ListenerStatus>;
  storage: { status: 'ok' | 'failing'; backend: string; detail?: string };
}

const listenerSchema = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['listening', 'off', 'stopped'] },
    address: { type: 'string', description: 'host:port the listener is bound to' },
  },
} as const;

export const healthReportSchema = {
  type: 'object',
  required: ['status', 'version', 'uptimeSeconds', 'listeners', 'storage'],
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded'] },
    version: { type: 'string' },
    uptimeSeconds: { type: 'number' },
    listeners: { type: 'object', additionalProperties: listenerSchema },
    storage: {
      type: 'object',
      required: ['status', 'backend'],
      properties: {
        status: { type: 'string', enum: ['ok', 'failing'] },
        backend: { type: 'string' },
        detail: { type: 'string' },
      },
    },
  },
} as const;

/** GET /api/health: 200 when every started listener is up and storage answers, else 503. */
export const healthRoutes: FastifyPluginAsync<{ health: () => HealthReport }> = async (
  app,
  opts,
) => {
  app.get(
    '/api/health',
    {
      config: { access: 'public' },
      schema: {
        summary: 'Overall and per-listener health',
        tags: ['operations'],
        response: { 200: healthReportSchema, 503: healthReportSchema },
      },
    },
    async (_request, reply) => {
      const report = opts.health();
      return reply.code(report.status === 'ok' ? 200 : 503).send(report);
    },
  );
};
