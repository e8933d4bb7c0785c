import type { FastifyPluginAsync } from 'fastify';
import { API_ROLES, issueToken } from '../../hub/api-tokens.js';
import type { ApiRole, ApiTokenRecord, TokenStore } from '../../store/ports.js';
import { BEARER } from '../auth.js';
import { ApiError, apiErrorSchema } from '../errors.js';

const tokenProperties = {
  id: { type: 'string' },
  role: { type: 'string', enum: API_ROLES },
  description: { type: 'string' },
  createdAt: { type: 'string', format: 'date-time' },
} as const;

const tokenSchema = {
  type: 'object',
  required: ['id', 'role', 'description', 'createdAt'],
  properties: tokenProperties,
} as const;

const tokenJson = (t: ApiTokenRecord) => ({ ...t, createdAt: new Date(t.createdAt).toISOString() });

/** API tokens (admin only): create one (its secret is shown once), list them, revoke one. */
export const tokenRoutes: FastifyPluginAsync<{ tokens: TokenStore }> = async (app, opts) => {
  app.post<{ Body: { role: ApiRole; description?: string } }>(
    '/api/tokens',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Create an API token; the secret is in this answer only',
        tags: ['tokens'],
        security: BEARER,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['role'],
          properties: {
            role: { type: 'string', enum: API_ROLES },
            description: { type: 'string', maxLength: 200 },
          },
        },
        response: {
          201: {
            type: 'object',
            required: [...tokenSchema.required, 'token'],
            properties: {
              ...tokenProperties,
              token: { type: 'string', description: 'the bearer secret; not retrievable later' },
            },
          },
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const issued = await issueToken(opts.tokens, request.body.role, request.body.description);
      request.log.info(
        { tokenId: issued.id, role: issued.role, by: request.apiToken?.id },
        'api token created',
      );
      return reply.code(201).send(tokenJson(issued));
    },
  );

  app.get(
    '/api/tokens',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'List API tokens (never their secrets)',
        tags: ['tokens'],
        security: BEARER,
        response: {
          200: {
            type: 'object',
            required: ['tokens'],
            properties: { tokens: { type: 'array', items: tokenSchema } },
          },
          401: apiErrorSchema,
          403: apiErrorSchema,
        },
      },
    },
    async () => ({ tokens: (await opts.tokens.list()).map(tokenJson) }),
  );

  app.delete<{ Params: { id: string } }>(
    '/api/tokens/:id',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Revoke an API token at once',
        tags: ['tokens'],
        security: BEARER,
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string', maxLength: 64 } },
        },
        response: {
          204: { type: 'null' },
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      if (!(await opts.tokens.delete(request.params.id))) {
        throw new ApiError('TANDEM_ERR_TOKEN_NOT_FOUND', `no token ${request.params.id}`);
      }
      request.log.info(
        { tokenId: request.params.id, by: request.apiToken?.id },
        'api token revoked',
      );
      return reply.code(204).send();
    },
  );
};
