/**
 * The hub's commands to devices (`hub.command(device, operation)` of DESIGN.md), in the API's
 * JSON shapes: what `/api/devices/{id}/...` and the bridge's MQTT commands
 * (`tandem/commands/{id}`) both run. A command goes to the protocol adapter that holds the
 * device's registration: the LwM2M server for devices on CoAP, the LwM2M-over-MQTT server for
 * managed MQTT devices. Both offer the same operations (`Lwm2mManagement`), so one code path
 * serves every device. It knows the adapters and the device registry, not HTTP nor MQTT.
 */

import { ContentFormat } from '../../lwm2m/codec/content-format.js';
import type { Lwm2mNode } from '../../lwm2m/node/lwm2m-node.js';
import { InvalidPathError, Lwm2mPath } from '../../lwm2m/node/lwm2m-path.js';
import type { Registration } from '../../lwm2m/server/registration.js';
import type { Lwm2mObservation } from '../../lwm2m/server/requests/observe.js';
import type { Lwm2mResponse } from '../../lwm2m/server/requests/operation.js';
import type { NotificationAttributes } from '../../lwm2m/server/requests/write-attributes.js';
import type { Lwm2mServer } from '../../lwm2m/server/server.js';
import type { ApiRole } from '../../store/ports.js';
import type { DeviceRegistry } from '../device-registry.js';
import { DeviceOperationError, deviceAnswered, fromLwm2mError } from './errors.js';
import {
  compositeValuesFrom,
  type NodeJson,
  nodeFromBody,
  nodeJson,
  resourcesFrom,
} from './json.js';
import { SENSOR_UNITS, sensorUnitsOf } from './units.js';

export const OPERATIONS = [
  'read',
  'write',
  'execute',
  'create',
  'delete',
  'discover',
  'observe',
  'cancel-observation',
  'write-attributes',
  'read-composite',
  'write-composite',
  'observe-composite',
  'cancel-composite-observation',
] as const;

export type OperationName = (typeof OPERATIONS)[number];

/** One operation on one device, as the routes and the bridge's commands give it. */
export interface OperationRequest {
  readonly op: OperationName;
  /** Every operation but the composite ones. */
  readonly path?: string;
  /** read-composite, observe-composite, cancel-composite-observation. */
  readonly paths?: readonly string[];
  /** write: replace (PUT, the default) or partial update (PATCH). */
  readonly mode?: 'replace' | 'update';
  /**
   * write: `{"value"}`, `{"values"}` or `{"resources"}`; create: `{"id"?, "resources"}`;
   * write-composite: `{"values":{"<path>": value}}`.
   */
  readonly body?: unknown;
  /** execute: the arguments as text (`0='v',1`, LwM2M-TS-Core 1.1 §5.4.5). */
  readonly arguments?: string;
  /** write-attributes; null removes an attribute. */
  readonly attributes?: NotificationAttributes;
  /** cancel-observation: send the cancelling GET (default: forget it, RST the next one). */
  readonly active?: boolean;
  /** A content format number forced on the wire. */
  readonly format?: number;
  /**
   * The longest wait for the device: for its answer, and (without `queueTtlMs`) for a sleeping
   * queue-mode device's wake-up before it.
   */
  readonly timeoutMs?: number;
  /** A queued command: how long the request may wait for a sleeping device, before `timeoutMs`. */
  readonly queueTtlMs?: number;
  /** Withdraws the request while it waits for a sleeping device (LWM2M_ERR_CANCELLED). */
  readonly signal?: AbortSignal;
  /** Called when the request leaves for the device. */
  readonly onSent?: () => void;
}

export interface OperationResult {
  /** The HTTP status of success: 200 with a body, 201 for create, 204 without a body. */
  readonly status: 200 | 201 | 204;
  readonly body?: unknown;
  /** create: the path of the new instance (`/3303/1`). */
  readonly location?: string;
}

/** The role an operation needs: reads are read-only, the rest changes the device or its state. */
export function accessOf(op: OperationName): ApiRole {
  return op === 'read' || op === 'discover' || op === 'read-composite' ? 'read-only' : 'operator';
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const MAX_TIMEOUT_MS = 600_000;

const LEVELS: Partial<Record<OperationName, readonly number[]>> = {
  read: [1, 2, 3, 4],
  write: [2, 3, 4],
  execute: [3],
  create: [1],
  delete: [2],
  discover: [1, 2, 3],
  observe: [1, 2, 3, 4],
  'cancel-observation': [1, 2, 3, 4],
  'write-attributes': [1, 2, 3, 4],
};

const LEVEL_NAMES = ['', 'an object', 'an instance', 'a resource', 'a resource instance'];

function invalid(message: string, field?: string): DeviceOperationError {
  return new DeviceOperationError('TANDEM_ERR_VALIDATION', message, field ? { field } : {});
}

function parsePath(text: string | undefined, field: string): Lwm2mPath {
  if (text === undefined) throw invalid(`${field} is required`, field);
  try {
    return Lwm2mPath.parse(text);
  } catch (e) {
    if (e instanceof InvalidPathError) throw invalid(`${field}: ${e.message}`, field);
    throw e;
  }
}

/**
 * What a protocol adapter offers the command layer: the LwM2M operations on the endpoints
 * registered with it, with the LwM2M server's request and response types, and its events.
 */
export type Lwm2mManagement = Pick<
  Lwm2mServer,
  | 'getRegistration'
  | 'modelOf'
  | 'read'
  | 'discover'
  | 'write'
  | 'writeAttributes'
  | 'execute'
  | 'create'
  | 'delete'
  | 'readComposite'
  | 'writeComposite'
  | 'observe'
  | 'observeComposite'
  | 'cancelObservation'
  | 'observations'
  | 'on'
  | 'off'
>;

/** The path an operation applies to, checked against its levels; undefined for composites. */
function targetOf(r: OperationRequest): Lwm2mPath | undefined {
  const levels = LEVELS[r.op];
  if (!levels) return undefined;
  const path = parsePath(r.path, 'path');
  if (!levels.includes(path.segments.length)) {
    const allowed = levels.map((l) => LEVEL_NAMES[l]).join(', ');
    throw invalid(`${r.op} applies to ${allowed}, not to ${path}`, 'path');
  }
  return path;
}

function compositePathsOf(r: OperationRequest): Lwm2mPath[] {
  const list = r.paths ?? [];
  if (list.length === 0) throw invalid('paths: at least one path', 'paths');
  return list.map((x, i) => parsePath(x, `paths.${i}`));
}

const COMPOSITE_PATHS: readonly OperationName[] = [
  'read-composite',
  'observe-composite',
  'cancel-composite-observation',
];

/**
 * Checks what can be checked before the device is reached (its paths; the values need the
 * device's object model); throws DeviceOperationError TANDEM_ERR_VALIDATION.
 */
export function checkRequest(r: OperationRequest): void {
  targetOf(r);
  if (COMPOSITE_PATHS.includes(r.op)) compositePathsOf(r);
}

export class DeviceCommands {
  readonly #servers: readonly Lwm2mManagement[];
  readonly #devices: DeviceRegistry | undefined;

  /** `servers`: every protocol adapter; a device is registered with at most one at a time. */
  constructor(options: { servers: readonly Lwm2mManagement[]; devices?: DeviceRegistry }) {
    this.#servers = options.servers;
    this.#devices = options.devices;
  }

  /** Runs `request` on device `deviceId`; throws DeviceOperationError. */
  async run(deviceId: string, request: OperationRequest): Promise<OperationResult> {
    const { server, reg } = await this.#registration(deviceId);
    const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    try {
      return await this.#run(server, reg, request, timeoutMs);
    } catch (e) {
      throw fromLwm2mError(e, deviceId);
    }
  }

  /** True when a protocol adapter holds a registration of the device. */
  async registered(deviceId: string): Promise<boolean> {
    return (await this.#find(deviceId)) !== undefined;
  }

  /** The device's active observations, on whichever adapter holds them. */
  observations(deviceId: string): Lwm2mObservation[] {
    return this.#servers.flatMap((server) => server.observations(deviceId));
  }

  /** The adapter holding the device's registration, and the registration. */
  async #find(
    deviceId: string,
  ): Promise<{ server: Lwm2mManagement; reg: Registration } | undefined> {
    for (const server of this.#servers) {
      const reg = await server.getRegistration(deviceId);
      if (reg) return { server, reg };
    }
    return undefined;
  }

  async #registration(deviceId: string): Promise<{ server: Lwm2mManagement; reg: Registration }> {
    const found = await this.#find(deviceId);
    if (found) return found;
    // An endpoint outside the registry may register in the loopback development mode, so only
    // an id that is neither registered nor in the registry is an unknown device.
    if (this.#devices && !(await this.#devices.get(deviceId))) {
      throw new DeviceOperationError('TANDEM_ERR_DEVICE_NOT_FOUND', `no device ${deviceId}`);
    }
    throw new DeviceOperationError(
      'TANDEM_ERR_DEVICE_NOT_REGISTERED',
      `${deviceId} is not registered (offline, or a plain MQTT device)`,
    );
  }

  async #run(
    server: Lwm2mManagement,
    reg: Registration,
    r: OperationRequest,
    timeoutMs: number,
  ): Promise<OperationResult> {
    const model = server.modelOf(reg);
    const units = sensorUnitsOf(server);
    const unitOf = (q: Lwm2mPath) => units.unitOf(reg.endpoint, q, model);
    /** The JSON of a node read, after learning the sensor units it carries. */
    const json = async (node: Lwm2mNode, at: Lwm2mPath) => {
      units.learn(reg.endpoint, node, at);
      if (at.resourceId !== undefined && units.unknown(reg.endpoint, at, model)) {
        // A sensor value read alone: its unit is in 5701 of the same instance; one more read,
        // once per instance (remembered), and nothing lost if it fails.
        const unitPath = new Lwm2mPath(at.objectId!, at.instanceId!, SENSOR_UNITS);
        const res = await server
          .read(reg, { path: unitPath }, { timeoutMs: Math.min(timeoutMs, 5000) })
          .catch(() => undefined);
        if (res?.content) units.learn(reg.endpoint, res.content, unitPath);
        else if (res) units.learnAbsent(reg.endpoint, unitPath);
      }
      return nodeJson(node, at, model, unitOf);
    };
    const format = r.format !== undefined ? { format: r.format } : {};
    // The server bounds both the wait for a sleeping device and the wait for its answer; the
    // race below bounds their sum.
    const queueTtlMs = r.queueTtlMs ?? timeoutMs;
    const options = {
      timeoutMs,
      queueTtlMs,
      ...(r.signal ? { signal: r.signal } : {}),
      ...(r.onSent ? { onSent: r.onSent } : {}),
    };
    const bound = r.queueTtlMs === undefined ? timeoutMs : queueTtlMs + timeoutMs;
    const bounded = <T>(p: Promise<T>, onLate?: (late: T) => void) =>
      this.#bounded(reg, p, bound, onLate);
    const path = targetOf(r);
    const p = path?.toString() ?? '/';
    const compositePaths = () => compositePathsOf(r);
    const nodesJson = async (
      paths: readonly Lwm2mPath[],
      content: ReadonlyMap<string, Lwm2mNode | undefined>,
    ) => {
      for (const [q, node] of content)
        if (node) units.learn(reg.endpoint, node, Lwm2mPath.parse(q));
      const nodes: Record<string, NodeJson | null> = {};
      for (const q of paths) {
        const node = content.get(q.toString());
        nodes[q.toString()] = node ? await json(node, q) : null;
      }
      return nodes;
    };
    const check = (what: string, response: Lwm2mResponse) => {
      if (!response.isSuccess) throw deviceAnswered(what, response.code, p, response.errorMessage);
    };
    switch (r.op) {
      case 'read': {
        const res = await bounded(server.read(reg, { path: path!, ...format }, options));
        check('Read', res);
        return { status: 200, body: await json(res.content!, path!) };
      }
      case 'write': {
        const content = nodeFromBody(path!, r.body, model);
        const mode = r.mode ?? 'replace';
        const res = await bounded(
          server.write(reg, { path: path!, mode, content, ...format }, options),
        );
        check('Write', res);
        return { status: 204 };
      }
      case 'execute': {
        const args =
          r.arguments !== undefined && r.arguments !== '' ? { arguments: r.arguments } : {};
        const res = await bounded(server.execute(reg, { path: path!, ...args }, options));
        check('Execute', res);
        return { status: 204 };
      }
      case 'create': {
        const body = (r.body ?? {}) as { id?: unknown; resources?: unknown };
        const id = body.id;
        if (
          id !== undefined &&
          id !== null &&
          !(Number.isInteger(id) && (id as number) >= 0 && (id as number) < 65535)
        ) {
          throw invalid('id must be an instance id 0..65534', 'id');
        }
        const instanceId = id === undefined || id === null ? undefined : (id as number);
        const resources = resourcesFrom(path!.append(instanceId ?? 0), body.resources ?? {}, model);
        // LwM2M-TS-Core 1.1 §6.3.6: only TLV lets the device choose the instance id (SenML paths
        // always name it), so a create without one goes in TLV unless the caller forced a format.
        const tlv =
          instanceId === undefined && r.format === undefined ? { format: ContentFormat.TLV } : {};
        const res = await bounded(
          server.create(
            reg,
            {
              objectId: path!.objectId!,
              ...(instanceId !== undefined ? { instanceId } : {}),
              resources,
              ...format,
              ...tlv,
            },
            options,
          ),
        );
        check('Create', res);
        return {
          status: 201,
          ...(res.location ? { location: res.location } : {}),
          body: res.location ? { path: res.location } : {},
        };
      }
      case 'delete': {
        const res = await bounded(server.delete(reg, { path: path! }, options));
        check('Delete', res);
        return { status: 204 };
      }
      case 'discover': {
        const res = await bounded(server.discover(reg, { path: path! }, options));
        check('Discover', res);
        return { status: 200, body: { path: p, links: res.links } };
      }
      case 'observe': {
        // An observation the device accepts after we gave up waiting is cancelled at once:
        // nobody knows of it.
        const res = await bounded(
          server.observe(reg, { path: path!, ...format }, options),
          (late) => {
            if (late.observation)
              void server.cancelObservation(late.observation.id).catch(() => {});
          },
        );
        check('Observe', res);
        const current = res.content ? await json(res.content, path!) : { path: p };
        return {
          status: 200,
          body: {
            ...current,
            ...(res.observation ? { observation: { id: res.observation.id } } : {}),
          },
        };
      }
      case 'cancel-observation': {
        const found = server
          .observations(reg.endpoint)
          .filter((o) => !o.composite && o.paths[0] === p);
        if (found.length === 0) {
          throw new DeviceOperationError(
            'TANDEM_ERR_OBSERVATION_NOT_FOUND',
            `no observation of ${p} on ${reg.endpoint}`,
          );
        }
        for (const o of found) {
          await bounded(server.cancelObservation(o.id, { active: r.active ?? false }));
        }
        return { status: 204 };
      }
      case 'write-attributes': {
        const res = await bounded(
          server.writeAttributes(reg, { path: path!, attributes: r.attributes ?? {} }, options),
        );
        check('Write-Attributes', res);
        return { status: 204 };
      }
      case 'read-composite': {
        const paths = compositePaths();
        const res = await bounded(server.readComposite(reg, { paths, ...format }, options));
        check('Read-Composite', res);
        return { status: 200, body: { nodes: await nodesJson(paths, res.content) } };
      }
      case 'observe-composite': {
        const paths = compositePaths();
        const res = await bounded(
          server.observeComposite(reg, { paths, ...format }, options),
          (late) => {
            if (late.observation)
              void server.cancelObservation(late.observation.id).catch(() => {});
          },
        );
        check('Observe-Composite', res);
        return {
          status: 200,
          body: {
            nodes: await nodesJson(paths, res.compositeContent ?? new Map()),
            ...(res.observation ? { observation: { id: res.observation.id } } : {}),
          },
        };
      }
      case 'cancel-composite-observation': {
        const wanted = compositePaths()
          .map((q) => q.toString())
          .sort()
          .join(',');
        const found = server
          .observations(reg.endpoint)
          .filter((o) => o.composite && [...o.paths].sort().join(',') === wanted);
        if (found.length === 0) {
          throw new DeviceOperationError(
            'TANDEM_ERR_OBSERVATION_NOT_FOUND',
            `no composite observation of ${wanted} on ${reg.endpoint}`,
          );
        }
        for (const o of found) {
          await bounded(server.cancelObservation(o.id, { active: r.active ?? false }));
        }
        return { status: 204 };
      }
      case 'write-composite': {
        const values = compositeValuesFrom(
          (r.body as { values?: unknown } | undefined)?.values,
          model,
        );
        const res = await bounded(server.writeComposite(reg, { values, ...format }, options));
        check('Write-Composite', res);
        return { status: 204 };
      }
    }
  }

  /** `p`, or a timeout error after `ms`; a late result goes to `onLate`. */
  async #bounded<T>(
    reg: Registration,
    p: Promise<T>,
    ms: number,
    onLate?: (late: T) => void,
  ): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        const asleep = reg.queueMode ? ' (queue mode: it may be asleep)' : '';
        reject(
          new DeviceOperationError(
            'TANDEM_ERR_DEVICE_TIMEOUT',
            `${reg.endpoint} did not answer within ${ms} ms${asleep}`,
          ),
        );
      }, ms);
    });
    p.then(
      (late) => {
        if (timedOut) onLate?.(late);
      },
      () => undefined,
    );
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
