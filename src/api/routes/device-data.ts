import type { FastifyPluginAsync } from 'fastify';
import type { DeviceRegistry } from '../../hub/device-registry.js';
import { TelemetryIntervalError, type TelemetryStore } from '../../store/ports.js';
import { parseDuration } from '../../util/duration.js';
import { BEARER } from '../auth.js';
import { ApiError, apiErrorSchema } from '../errors.js';
import { deviceIdParams } from './device-schemas.js';

const MAX_POINTS = 10_000;

const instant = {
  type: 'string',
  description: 'ISO 8601 date-time, or milliseconds since the epoch',
} as const;

const point = {
  type: 'object',
  required: ['path', 'value', 'ts'],
  properties: {
    path: { type: 'string' },
    value: { type: ['number', 'string', 'boolean', 'null'] },
    ts: { type: 'string', format: 'date-time' },
  },
} as const;

const bucket = {
  type: 'object',
  description: 'the points of one path whose time fell in [ts, ts + interval)',
  required: ['path', 'ts', 'min', 'max', 'avg', 'count', 'last'],
  properties: {
    path: { type: 'string' },
    ts: { type: 'string', format: 'date-time', description: 'start of the bucket' },
    min: { type: ['number', 'null'], description: 'of the numeric values; null without any' },
    max: { type: ['number', 'null'] },
    avg: { type: ['number', 'null'] },
    count: { type: 'integer', description: 'points in the bucket, of any type' },
    last: {
      type: ['number', 'string', 'boolean', 'null'],
      description: 'the value with the latest timestamp',
    },
  },
} as const;

/**
 * GET /api/devices/{id}/data: stored telemetry of one device, newest first; with `interval`,
 * downsampled buckets from the rollups (kept longer than the raw points).
 */
export const deviceDataRoutes: FastifyPluginAsync<{
  devices: DeviceRegistry;
  telemetry: TelemetryStore;
}> = async (app, opts) => {
  app.get<{
    Params: { id: string };
    Querystring: { path?: string; from?: string; to?: string; limit: number; interval?: string };
  }>(
    '/api/devices/:id/data',
    {
      config: { access: 'read-only' },
      schema: {
        summary: 'Stored telemetry of a device, newest first, raw or in time buckets',
        description:
          'Raw points as [{path, value, ts}]; with `interval`, buckets as [{path, ts, min, max, avg, count, last}] from the rollups, which outlive the raw points (telemetry.retention, telemetry.rollups).',
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
            interval: {
              type: 'string',
              pattern: '^[0-9]+(ms|s|m|h|d|w|y)$',
              description:
                'bucket width such as 1m, 15m, 1h or 1d: a multiple of a kept rollup interval (by default 1m and 1h)',
            },
          },
        },
        response: {
          200: {
            anyOf: [
              { type: 'array', items: point },
              { type: 'array', items: bucket },
            ],
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
      const range = {
        deviceId: id,
        limit: q.limit,
        ...(q.path !== undefined ? { path: q.path } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
      };
      const rows =
        q.interval === undefined
          ? (await opts.telemetry.query(range)).map((p) => ({
              path: p.path,
              value: p.value,
              ts: new Date(p.ts).toISOString(),
            }))
          : (await buckets(opts.telemetry, range, q.interval)).map((b) => ({
              ...b,
              ts: new Date(b.ts).toISOString(),
            }));
      // Data of an endpoint that is not in the registry (it registered anonymously in the
      // loopback development mode) is still served; only an id nobody knows is a 404.
      if (rows.length === 0 && !(await opts.devices.get(id))) {
        throw new ApiError('TANDEM_ERR_DEVICE_NOT_FOUND', `no device ${id}`);
      }
      return rows;
    },
  );
};

async function buckets(
  telemetry: TelemetryStore,
  range: Parameters<TelemetryStore['query']>[0],
  interval: string,
) {
  const intervalMs = parseDuration(interval);
  try {
    if (intervalMs === undefined) throw new TelemetryIntervalError(`${interval} is not a duration`);
    return await telemetry.buckets({ ...range, intervalMs });
  } catch (err) {
    if (err instanceof TelemetryIntervalError) {
      throw new ApiError('TANDEM_ERR_VALIDATION', err.message, 'interval');
    }
    throw err;
  }
}

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
