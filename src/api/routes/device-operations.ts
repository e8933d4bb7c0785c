/**
 * Live operations on a device, Leshan's REST shape (issue 6): the path under
 * `/api/devices/{id}` is the LwM2M path, the HTTP method the operation.
 *
 * | method and path                                  | operation                         | role      |
 * | ------------------------------------------------ | --------------------------------- | --------- |
 * | GET    /{o}[/{i}[/{r}[/{ri}]]]                   | Read                              | read-only |
 * | PUT    /{o}/{i}[/{r}[/{ri}]]                     | Write (replace)                   | operator  |
 * | PATCH  /{o}/{i}[/{r}]                            | Write (partial update)            | operator  |
 * | POST   /{o}                                      | Create                            | operator  |
 * | POST   /{o}/{i}/{r}                              | Execute (text body: arguments)    | operator  |
 * | DELETE /{o}/{i}                                  | Delete                            | operator  |
 * | GET    /{o}[/{i}[/{r}]]/discover                 | Discover                          | read-only |
 * | POST   /{o}[/{i}[/{r}[/{ri}]]]/observe           | Observe                           | operator  |
 * | DELETE /{o}[/{i}[/{r}[/{ri}]]]/observe           | Cancel Observation                | operator  |
 * | PUT    /{o}[/{i}[/{r}[/{ri}]]]/attributes        | Write-Attributes                  | operator  |
 * | GET    /composite?paths=/3/0/0,/3303/0/5700      | Read-Composite                    | read-only |
 * | PUT    /composite                                | Write-Composite                   | operator  |
 * | POST   /composite/observe?paths=...              | Observe-Composite                 | operator  |
 * | DELETE /composite/observe?paths=...              | Cancel it                         | operator  |
 * | GET    /observations                             | the device's active observations  | read-only |
 *
 * A sleeping queue-mode device: the request waits for it up to `?timeout` (default 30 s), then
 * answers 504 TANDEM_ERR_DEVICE_TIMEOUT and is withdrawn. No 202: until commands are queued
 * with their own resource (issue 6, "commands to a sleeping device are queued ... visible and
 * cancellable"), an accepted request nobody can look up would be a lost one. A 504 says the
 * answer did not come in time, not that the device did nothing: a write may still land.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { parseFormat } from '../../hub/commands/json.js';
import {
  accessOf,
  type DeviceCommands,
  type OperationName,
  type OperationRequest,
} from '../../hub/commands/operations.js';
import type { NotificationAttributes } from '../../lwm2m/server/requests/write-attributes.js';
import { BEARER } from '../auth.js';
import {
  attributesBodySchema,
  attributesQuery,
  compositeReadSchema,
  compositeWriteSchema,
  createdSchema,
  createSchema,
  discoverSchema,
  errorResponses,
  executeBodySchema,
  levelParams,
  NODE_SCHEMAS,
  observationsSchema,
  observedCompositeSchema,
  observedSchema,
  operationQuery,
  writeSchema,
} from './lwm2m-schemas.js';

type Params = {
  id: string;
  object?: number;
  instance?: number;
  resource?: number;
  resourceInstance?: number;
};
type Query = { format?: string; timeout?: number; paths?: string; active?: boolean } & Record<
  string,
  unknown
>;
type Req = FastifyRequest<{ Params: Params; Querystring: Query; Body: unknown }>;

const LEVEL_URL = [
  '',
  '/:object',
  '/:object/:instance',
  '/:object/:instance/:resource',
  '/:object/:instance/:resource/:resourceInstance',
];
const LEVEL_NAME = ['', 'an object', 'an instance', 'a resource', 'a resource instance'];

function pathOf(p: Params): string {
  return `/${[p.object, p.instance, p.resource, p.resourceInstance]
    .filter((s) => s !== undefined)
    .join('/')}`;
}

/** `?pmin=10&pmax=` → `{pmin: 10, pmax: null}` (an empty value removes the attribute). */
function attributesFrom(query: Query, body: unknown): NotificationAttributes {
  const out: Record<string, number | null> = {};
  for (const name of Object.keys(attributesQuery)) {
    const q = query[name];
    if (typeof q === 'string') out[name] = q === '' ? null : Number(q);
  }
  return { ...out, ...(body as NotificationAttributes | undefined) };
}

const activeQuery = {
  type: 'boolean',
  default: false,
  description: 'tell the device now (GET with Observe=1); else the next notification is refused',
};

export const deviceOperationRoutes: FastifyPluginAsync<{ commands: DeviceCommands }> = async (
  app,
  opts,
) => {
  const operations = opts.commands;
  const respond = async (
    request: Req,
    reply: FastifyReply,
    op: OperationName,
    extra: Omit<OperationRequest, 'op' | 'format' | 'timeoutMs'>,
  ) => {
    const { id } = request.params;
    const format = parseFormat(request.query.format);
    const result = await operations.run(id, {
      op,
      ...extra,
      ...(format !== undefined ? { format } : {}),
      ...(request.query.timeout !== undefined ? { timeoutMs: request.query.timeout } : {}),
    });
    if (op !== 'read' && op !== 'discover' && op !== 'read-composite') {
      request.log.info({ deviceId: id, op, by: request.apiToken?.id }, 'device operation');
    }
    if (result.location) {
      reply.header('location', `/api/devices/${encodeURIComponent(id)}${result.location}`);
    }
    if (result.status === 204) return reply.code(204).send();
    return reply.code(result.status).send(result.body);
  };

  const route = (
    method: 'GET' | 'PUT' | 'PATCH' | 'POST' | 'DELETE',
    level: number,
    suffix: string,
    op: OperationName,
    summary: string,
    schema: {
      body?: unknown;
      /** The body may be left out (it is then `{}`). */
      optionalBody?: boolean;
      query?: Record<string, unknown>;
      success: Record<number, unknown>;
    },
    extra: (request: Req) => Omit<OperationRequest, 'op' | 'format' | 'timeoutMs'> = (r) => ({
      path: pathOf(r.params),
    }),
  ) => {
    (app as FastifyInstance).route<{ Params: Params; Querystring: Query; Body: unknown }>({
      method,
      url: `/api/devices/:id${LEVEL_URL[level]}${suffix}`,
      config: { access: accessOf(op) },
      schema: {
        summary,
        tags: ['device operations'],
        security: BEARER,
        params: levelParams(level),
        querystring: operationQuery(schema.query),
        ...(schema.body ? { body: schema.body } : {}),
        response: { ...schema.success, ...errorResponses },
      },
      ...(schema.optionalBody
        ? {
            preValidation: async (request: Req) => {
              request.body ??= {};
            },
          }
        : {}),
      handler: (request, reply) => respond(request, reply, op, extra(request)),
    });
  };

  for (let level = 1; level <= 4; level++) {
    const what = LEVEL_NAME[level];
    route('GET', level, '', 'read', `Read ${what}`, { success: { 200: NODE_SCHEMAS[level] } });
    if (level >= 2) {
      route(
        'PUT',
        level,
        '',
        'write',
        `Write (replace) ${what}`,
        { body: writeSchema, success: { 204: { type: 'null' } } },
        (r) => ({ path: pathOf(r.params), mode: 'replace', body: r.body }),
      );
    }
    if (level === 2 || level === 3) {
      route(
        'PATCH',
        level,
        '',
        'write',
        `Write (partial update) ${what}: the resources or instances given, the others kept`,
        { body: writeSchema, success: { 204: { type: 'null' } } },
        (r) => ({ path: pathOf(r.params), mode: 'update', body: r.body }),
      );
    }
    if (level === 1) {
      route(
        'POST',
        level,
        '',
        'create',
        'Create an object instance',
        { body: createSchema, optionalBody: true, success: { 201: createdSchema } },
        (r) => ({ path: pathOf(r.params), body: r.body ?? {} }),
      );
    }
    if (level === 2) {
      route('DELETE', level, '', 'delete', 'Delete an object instance', {
        success: { 204: { type: 'null' } },
      });
    }
    if (level === 3) {
      route(
        'POST',
        level,
        '',
        'execute',
        'Execute a resource; a text body carries the arguments',
        { body: executeBodySchema, success: { 204: { type: 'null' } } },
        (r) => {
          const body = r.body as string | { arguments?: string } | undefined;
          const args = typeof body === 'string' ? body : body?.arguments;
          return { path: pathOf(r.params), ...(args !== undefined ? { arguments: args } : {}) };
        },
      );
    }
    if (level <= 3) {
      route('GET', level, '/discover', 'discover', `Discover ${what}: links and attributes`, {
        success: { 200: discoverSchema },
      });
    }
    route('POST', level, '/observe', 'observe', `Observe ${what}; answers its current value`, {
      success: { 200: observedSchema(level) },
    });
    route(
      'DELETE',
      level,
      '/observe',
      'cancel-observation',
      `Cancel the observations of ${what}`,
      {
        query: { active: activeQuery },
        success: { 204: { type: 'null' } },
      },
      (r) => ({ path: pathOf(r.params), active: r.query.active ?? false }),
    );
    route(
      'PUT',
      level,
      '/attributes',
      'write-attributes',
      `Write-Attributes of ${what} (query or JSON body: pmin, pmax, gt, lt, st, epmin, epmax, edge, con, hqmax)`,
      {
        body: attributesBodySchema,
        optionalBody: true,
        query: attributesQuery,
        success: { 204: { type: 'null' } },
      },
      (r) => ({ path: pathOf(r.params), attributes: attributesFrom(r.query, r.body) }),
    );
  }

  route(
    'GET',
    0,
    '/composite',
    'read-composite',
    'Read-Composite (LwM2M 1.1): several paths at once',
    {
      query: {
        paths: {
          type: 'string',
          minLength: 2,
          description: 'comma-separated paths, e.g. /3/0/0,/3303/0/5700',
        },
      },
      success: { 200: compositeReadSchema },
    },
    (r) => ({ paths: (r.query.paths ?? '').split(',').filter((p) => p.trim() !== '') }),
  );
  const pathsQuery = {
    paths: {
      type: 'string',
      minLength: 2,
      description: 'comma-separated paths, e.g. /3/0/0,/3303/0/5700',
    },
  };
  const pathsOf = (r: Req) => (r.query.paths ?? '').split(',').filter((p) => p.trim() !== '');
  route(
    'POST',
    0,
    '/composite/observe',
    'observe-composite',
    'Observe-Composite (LwM2M 1.1): one observation of several paths; answers their values',
    { query: pathsQuery, success: { 200: observedCompositeSchema } },
    (r) => ({ paths: pathsOf(r) }),
  );
  route(
    'DELETE',
    0,
    '/composite/observe',
    'cancel-composite-observation',
    'Cancel the composite observations of exactly these paths',
    { query: { ...pathsQuery, active: activeQuery }, success: { 204: { type: 'null' } } },
    (r) => ({ paths: pathsOf(r), active: r.query.active ?? false }),
  );
  app.get<{ Params: { id: string } }>(
    '/api/devices/:id/observations',
    {
      config: { access: 'read-only' },
      schema: {
        summary: "The device's active observations (Observe and Observe-Composite)",
        tags: ['device operations'],
        security: BEARER,
        params: levelParams(0),
        response: { 200: observationsSchema, ...errorResponses },
      },
    },
    async (request) => ({
      observations: operations.observations(request.params.id).map((o) => ({
        id: o.id,
        paths: o.paths,
        composite: o.composite,
      })),
    }),
  );
  route(
    'PUT',
    0,
    '/composite',
    'write-composite',
    'Write-Composite (LwM2M 1.1): several resources at once',
    { body: compositeWriteSchema, success: { 204: { type: 'null' } } },
    (r) => ({ body: r.body }),
  );
};
