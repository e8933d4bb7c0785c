/**
 * Device profiles (issue 6): how a plain MQTT device's topics and JSON fields map onto LwM2M
 * resources (src/hub/profiles.ts), and which profile a device has.
 *
 * | method and path                | what                                   | role      |
 * | ------------------------------ | -------------------------------------- | --------- |
 * | PUT    /api/profiles/{pid}     | create or replace a profile            | admin     |
 * | GET    /api/profiles           | every profile                          | read-only |
 * | GET    /api/profiles/{pid}     | one profile                            | read-only |
 * | DELETE /api/profiles/{pid}     | delete one no device has               | admin     |
 * | GET    /api/devices/{id}/profile | the device's profile                 | read-only |
 * | PUT    /api/devices/{id}/profile | give the device a profile, or none   | admin     |
 */
import type { FastifyPluginAsync } from 'fastify';
import type { DeviceProfiles } from '../../hub/profile-service.js';
import type { ProfileMapping } from '../../hub/profiles.js';
import type { ProfileRecord } from '../../store/ports.js';
import { BEARER } from '../auth.js';
import { apiErrorSchema } from '../errors.js';
import { deviceIdParams } from './device-schemas.js';

const mappingSchema = {
  type: 'object',
  required: ['topic', 'path'],
  additionalProperties: false,
  properties: {
    topic: {
      type: 'string',
      minLength: 1,
      maxLength: 256,
      description: 'an MQTT topic filter; a level %d stands for the device id',
      examples: ['plant/+/temperature'],
    },
    path: {
      type: 'string',
      maxLength: 64,
      description: 'the LwM2M resource (or resource instance) the value goes to',
      examples: ['/3303/0/5700'],
    },
    field: {
      type: 'string',
      maxLength: 256,
      description: 'a dotted path into a JSON payload; without it, the whole payload',
      examples: ['sensors.0.value'],
    },
  },
} as const;

const profileSchema = {
  type: 'object',
  required: ['id', 'description', 'mappings', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    description: { type: 'string' },
    mappings: { type: 'array', items: mappingSchema },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
} as const;

const profileParams = {
  type: 'object',
  required: ['pid'],
  properties: { pid: { type: 'string', maxLength: 128 } },
} as const;

const assignmentSchema = {
  type: 'object',
  required: ['profile'],
  additionalProperties: false,
  properties: { profile: { type: ['string', 'null'], maxLength: 128 } },
} as const;

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, apiErrorSchema]));

const profileJson = (p: ProfileRecord) => ({
  ...p,
  createdAt: new Date(p.createdAt).toISOString(),
  updatedAt: new Date(p.updatedAt).toISOString(),
});

export const profileRoutes: FastifyPluginAsync<{ profiles: DeviceProfiles }> = async (
  app,
  opts,
) => {
  const { profiles } = opts;

  app.put<{
    Params: { pid: string };
    Body: { description?: string; mappings: ProfileMapping[] };
  }>(
    '/api/profiles/:pid',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Create or replace a device profile',
        tags: ['profiles'],
        security: BEARER,
        params: profileParams,
        body: {
          type: 'object',
          required: ['mappings'],
          additionalProperties: false,
          properties: {
            description: { type: 'string', maxLength: 200 },
            mappings: { type: 'array', maxItems: 256, items: mappingSchema },
          },
        },
        response: { 200: profileSchema, 201: profileSchema, ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { profile, created } = await profiles.put(request.params.pid, request.body);
      request.log.info({ profile: profile.id, by: request.apiToken?.id }, 'profile saved');
      return reply.code(created ? 201 : 200).send(profileJson(profile));
    },
  );

  app.get(
    '/api/profiles',
    {
      config: { access: 'read-only' },
      schema: {
        summary: 'Every device profile, by id',
        tags: ['profiles'],
        security: BEARER,
        response: {
          200: {
            type: 'object',
            required: ['profiles'],
            properties: { profiles: { type: 'array', items: profileSchema } },
          },
          ...errors(401, 403),
        },
      },
    },
    async () => ({ profiles: (await profiles.list()).map(profileJson) }),
  );

  app.get<{ Params: { pid: string } }>(
    '/api/profiles/:pid',
    {
      config: { access: 'read-only' },
      schema: {
        summary: 'One device profile',
        tags: ['profiles'],
        security: BEARER,
        params: profileParams,
        response: { 200: profileSchema, ...errors(401, 403, 404) },
      },
    },
    async (request) => profileJson(await profiles.get(request.params.pid)),
  );

  app.delete<{ Params: { pid: string } }>(
    '/api/profiles/:pid',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Delete a device profile that no device has (409 otherwise)',
        tags: ['profiles'],
        security: BEARER,
        params: profileParams,
        response: { 204: { type: 'null' }, ...errors(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await profiles.delete(request.params.pid);
      request.log.info(
        { profile: request.params.pid, by: request.apiToken?.id },
        'profile deleted',
      );
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/devices/:id/profile',
    {
      config: { access: 'read-only' },
      schema: {
        summary: "The device's profile (null: none)",
        tags: ['profiles'],
        security: BEARER,
        params: deviceIdParams,
        response: { 200: assignmentSchema, ...errors(401, 403, 404) },
      },
    },
    async (request) => ({ profile: await profiles.profileOf(request.params.id) }),
  );

  app.put<{ Params: { id: string }; Body: { profile: string | null } }>(
    '/api/devices/:id/profile',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Give the device a profile, or none (null)',
        tags: ['profiles'],
        security: BEARER,
        params: deviceIdParams,
        body: assignmentSchema,
        response: { 200: assignmentSchema, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      await profiles.assign(request.params.id, request.body.profile);
      request.log.info(
        { deviceId: request.params.id, profile: request.body.profile, by: request.apiToken?.id },
        'device profile set',
      );
      return { profile: request.body.profile };
    },
  );
};
