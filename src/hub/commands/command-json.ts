/**
 * A command as JSON: the document an application sends to a device, on MQTT
 * (`tandem/commands/{id}`, docs/application-topics.md) or to the API's command queue
 * (`POST /api/devices/{id}/commands`), and the form queued commands are stored in.
 */
import { z } from 'zod';
import { DeviceOperationError } from './errors.js';
import { parseFormat } from './json.js';
import { MAX_TIMEOUT_MS, OPERATIONS, type OperationRequest } from './operations.js';

const attribute = z.number().nullable().optional();

/** A command's JSON (docs/application-topics.md). */
export const commandSchema = z
  .object({
    op: z.enum(OPERATIONS),
    path: z.string().max(64).optional(),
    paths: z.array(z.string().max(64)).max(256).optional(),
    /** write: replace (default) or update (partial update). */
    mode: z.enum(['replace', 'update']).optional(),
    value: z.unknown().optional(),
    values: z.unknown().optional(),
    resources: z.unknown().optional(),
    /** create: the new instance id. */
    id: z.number().int().min(0).max(65534).nullable().optional(),
    arguments: z.string().max(4096).optional(),
    attributes: z
      .object({
        pmin: attribute,
        pmax: attribute,
        gt: attribute,
        lt: attribute,
        st: attribute,
        epmin: attribute,
        epmax: attribute,
        edge: z
          .union([z.literal(0), z.literal(1)])
          .nullable()
          .optional(),
        con: z
          .union([z.literal(0), z.literal(1)])
          .nullable()
          .optional(),
        hqmax: attribute,
      })
      .strict()
      .optional(),
    active: z.boolean().optional(),
    format: z.union([z.string(), z.number()]).optional(),
    timeout: z.number().int().min(1).max(MAX_TIMEOUT_MS).optional(),
  })
  .strict();

export type Command = z.infer<typeof commandSchema>;

/** Validates a parsed JSON document as a command; throws DeviceOperationError. */
export function commandFromJson(json: unknown): Command {
  const parsed = commandSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.');
    throw new DeviceOperationError(
      'TANDEM_ERR_VALIDATION',
      `${field || 'command'}: ${issue.message}`,
      field ? { field } : {},
    );
  }
  return parsed.data;
}

/** The operation a command asks for. */
export function toRequest(c: Command): OperationRequest {
  const format = parseFormat(c.format);
  const common = {
    ...(format !== undefined ? { format } : {}),
    ...(c.timeout !== undefined ? { timeoutMs: c.timeout } : {}),
  };
  const path = c.path !== undefined ? { path: c.path } : {};
  switch (c.op) {
    case 'write': {
      const body: Record<string, unknown> = {};
      for (const k of ['value', 'values', 'resources'] as const) if (k in c) body[k] = c[k];
      return { op: c.op, ...path, mode: c.mode ?? 'replace', body, ...common };
    }
    case 'create':
      return {
        op: c.op,
        ...path,
        body: { ...(c.id !== undefined ? { id: c.id } : {}), resources: c.resources ?? {} },
        ...common,
      };
    case 'execute':
      return { op: c.op, ...path, ...(c.arguments ? { arguments: c.arguments } : {}), ...common };
    case 'write-attributes':
      return { op: c.op, ...path, attributes: c.attributes ?? {}, ...common };
    case 'cancel-observation':
      return { op: c.op, ...path, active: c.active ?? false, ...common };
    case 'read-composite':
    case 'observe-composite':
      return { op: c.op, paths: c.paths ?? [], ...common };
    case 'cancel-composite-observation':
      return { op: c.op, paths: c.paths ?? [], active: c.active ?? false, ...common };
    case 'write-composite':
      return { op: c.op, body: { values: c.values }, ...common };
    default:
      return { op: c.op, ...path, ...common };
  }
}
