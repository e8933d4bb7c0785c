import type { FastifyPluginAsync } from 'fastify';
import type { DeviceRegistry } from '../../hub/device-registry.js';
import type { TelemetryStore } from '../../store/ports.js';
import { BEARER } from '../auth.js';
import { ApiError, apiErrorSchema } from '../errors.js';
import { deviceIdParams } from './device-schemas.js';

const MAX_POINTS = 10_000;

const instant = {
  type: 'string',
  description: 'ISO 8601 date-time, or milliseconds since the epoch',
} as const;

/** GET /api/devices/{id}/data: stored telemetry of one device, newest first. */
export const deviceDataRoutes: FastifyPluginAsync<{
  devices: DeviceRegistry;
  telemetry: TelemetryStore;
}> = async (app, opts) => {
  app.get<{
    Params: { id: string };
    Querystring: { path?: string; from?: string; to?: string; limit: number };
  }>(
    '/api/devices/:id/data',
    {
      config: { access: 'read-only' },
      schema: {
        summary: 'Stored telemetry of a device, newest first',
        tags: ['devices'],
        security: BEARER,
        params: deviceIdParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            path: {
              type: 'string',
              description: 'an LwM2M path (/3303/0/5700) or mqtt:<topic> for unmapped MQTT data',
            },
            from: { ...instant, description: `inclusive start: ${instant.description}` },
            to: { ...instant, description: `inclusive end: ${instant.description}` },
            limit: { type: 'integer', minimum: 1, maximum: MAX_POINTS, default: 1000 },
          },
        },
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              required: ['path', 'value', 'ts'],
              properties: {
                path: { type: 'string' },
                value: { type: ['number', 'string', 'boolean', 'null'] },
                ts: { type: 'string', format: 'date-time' },
              },
            },
          },
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const q = request.query;
      const from = q.from === undefined ? undefined : parseInstant(q.from, 'from');
      const to = q.to === undefined ? undefined : parseInstant(q.to, 'to');
      const points = await opts.telemetry.query({
        deviceId: id,
        limit: q.limit,
        ...(q.path !== undefined ? { path: q.path } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
      });
      // Data of an endpoint that is not in the registry (it registered anonymously in the
      // loopback development mode) is still served; only an id nobody knows is a 404.
      if (points.length === 0 && !(await opts.devices.get(id))) {
        throw new ApiError('TANDEM_ERR_DEVICE_NOT_FOUND', `no device ${id}`);
      }
      return points.map((p) => ({
        path: p.path,
        value: p.value,
        ts: new Date(p.ts).toISOString(),
      }));
    },
  );
};

function parseInstant(raw: string, field: string): number {
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(ms)) {
    throw new ApiError(
      'TANDEM_ERR_VALIDATION',
      `${field} must be an ISO 8601 date-time or milliseconds since the epoch`,
      field,
    );
  }
  return ms;
}
