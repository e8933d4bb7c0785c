import type { FastifyPluginAsync } from 'fastify';
import { DEVICE_EVENT_TYPES } from '../../hub/device-events.js';
import {
  WebhookError,
  type WebhookInput,
  type Webhooks,
  type WebhookView,
} from '../../hub/webhooks.js';
import { BEARER } from '../auth.js';
import { ApiError, apiErrorSchema } from '../errors.js';

const stringList = (description: string) =>
  ({ type: 'array', items: { type: 'string', minLength: 1 }, description }) as const;

const webhookProperties = {
  id: { type: 'string' },
  url: { type: 'string', format: 'uri' },
  events: stringList(`event types posted (${DEVICE_EVENT_TYPES.join(', ')}); empty: all`),
  devices: stringList('devices whose events are posted; empty: all'),
  paths: stringList('data events only at or below these LwM2M paths; empty: no path filter'),
  signed: { type: 'boolean', description: 'deliveries carry a webhook-signature header' },
  description: { type: 'string' },
  createdAt: { type: 'string', format: 'date-time' },
  queued: {
    type: 'integer',
    description: 'events waiting on this node, the one in flight included',
  },
} as const;

const webhookSchema = {
  type: 'object',
  required: [
    'id',
    'url',
    'events',
    'devices',
    'paths',
    'signed',
    'description',
    'createdAt',
    'queued',
  ],
  properties: webhookProperties,
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 64 } },
} as const;

const webhookJson = (w: WebhookView) => ({ ...w, createdAt: new Date(w.createdAt).toISOString() });

/** The hub's "no such webhook" as the API's 404. */
function notFound(err: unknown): never {
  if (err instanceof WebhookError) throw new ApiError(err.code, err.message);
  throw err;
}

/**
 * Webhooks (admin only): URLs that device events are POSTed to, with retries; see
 * docs/webhooks-and-streams.md for the delivery, its headers and how to check the signature.
 */
export const webhookRoutes: FastifyPluginAsync<{ webhooks: Webhooks }> = async (app, opts) => {
  app.post<{ Body: WebhookInput }>(
    '/api/webhooks',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Create a webhook',
        description:
          'Each matching device event is POSTed to `url` as JSON (the event of /api/events), following Standard Webhooks 1.0: headers webhook-id, webhook-timestamp and, with a secret, webhook-signature. `secret: true` makes a secret, shown in this answer only.',
        tags: ['webhooks'],
        security: BEARER,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: { type: 'string', description: 'http: or https:' },
            events: webhookProperties.events,
            devices: webhookProperties.devices,
            paths: webhookProperties.paths,
            secret: {
              description:
                'whsec_ and the base64 of 24 to 64 random bytes, or true to have one made',
              anyOf: [{ const: true }, { type: 'string' }],
            },
            description: { type: 'string', maxLength: 200 },
          },
        },
        response: {
          201: {
            type: 'object',
            required: webhookSchema.required,
            properties: {
              ...webhookProperties,
              secret: { type: 'string', description: 'the made secret; not retrievable later' },
            },
          },
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const created = await opts.webhooks.create(request.body);
      request.log.info({ webhook: created.id, by: request.apiToken?.id }, 'webhook created');
      return reply.code(201).send(webhookJson(created));
    },
  );

  app.get(
    '/api/webhooks',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'List webhooks (never their secrets)',
        tags: ['webhooks'],
        security: BEARER,
        response: {
          200: {
            type: 'object',
            required: ['webhooks'],
            properties: { webhooks: { type: 'array', items: webhookSchema } },
          },
          401: apiErrorSchema,
          403: apiErrorSchema,
        },
      },
    },
    async () => ({ webhooks: (await opts.webhooks.list()).map(webhookJson) }),
  );

  app.get<{ Params: { id: string } }>(
    '/api/webhooks/:id',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'One webhook (never its secret)',
        tags: ['webhooks'],
        security: BEARER,
        params: idParams,
        response: {
          200: webhookSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
        },
      },
    },
    async (request) => webhookJson(await opts.webhooks.get(request.params.id).catch(notFound)),
  );

  app.delete<{ Params: { id: string } }>(
    '/api/webhooks/:id',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Delete a webhook; its undelivered events are dropped',
        tags: ['webhooks'],
        security: BEARER,
        params: idParams,
        response: {
          204: { type: 'null' },
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      await opts.webhooks.delete(request.params.id).catch(notFound);
      request.log.info({ webhook: request.params.id, by: request.apiToken?.id }, 'webhook deleted');
      return reply.code(204).send();
    },
  );
};
