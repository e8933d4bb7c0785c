/**
 * Units of IPSO sensor values. The OMA registry gives a resource's unit in its DDF `<Units>`,
 * but the IPSO sensors (3303 Temperature, 3323 Pressure...) leave it empty there: the device
 * says it at run time in resource 5701 "Sensor Units" of the same instance. This remembers the
 * last 5701 seen of every instance (reads, notifications, Send) so that `"unit"` can be given
 * for 5700 and its siblings, and forgets a device when its registration ends.
 */
import type { Lwm2mModel } from '../../lwm2m/model/object-model.js';
import type { Lwm2mNode } from '../../lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../../lwm2m/node/lwm2m-path.js';
import { flattenNode } from '../../lwm2m/node/path-value.js';
import type { Lwm2mServer } from '../../lwm2m/server/server.js';

type EventSource = Pick<Lwm2mServer, 'on'>;

/** IPSO "Sensor Units". */
export const SENSOR_UNITS = 5701;
/** The IPSO resources measured in the Sensor Units: value, min/max measured, min/max range. */
const MEASURED = new Set([5700, 5601, 5602, 5603, 5604]);

export class SensorUnits {
  /** endpoint → `/{object}/{instance}` → unit ('' when the instance has no Sensor Units). */
  readonly #units = new Map<string, Map<string, string>>();

  /** Learns every 5701 in `node` (at `path`). */
  learn(endpoint: string, node: Lwm2mNode, path: Lwm2mPath): void {
    for (const leaf of flattenNode(node, path)) {
      if (leaf.path.resourceId !== SENSOR_UNITS || leaf.value?.type !== 'string') continue;
      this.#set(endpoint, leaf.path, leaf.value.value);
    }
  }

  /** Remembers that the instance of `path` has no Sensor Units (the device said 4.04). */
  learnAbsent(endpoint: string, path: Lwm2mPath): void {
    this.#set(endpoint, path, '');
  }

  #set(endpoint: string, path: Lwm2mPath, unit: string): void {
    let device = this.#units.get(endpoint);
    if (!device) {
      device = new Map();
      this.#units.set(endpoint, device);
    }
    device.set(`/${path.objectId}/${path.instanceId}`, unit);
  }

  /** The unit of a resource path: the registry's, else the instance's Sensor Units. */
  unitOf(endpoint: string, path: Lwm2mPath, model: Lwm2mModel): string | undefined {
    const rm = model.getResource(path.objectId!, path.resourceId!);
    if (rm?.units) return rm.units;
    if (!this.#measured(path, model)) return undefined;
    return this.#units.get(endpoint)?.get(`/${path.objectId}/${path.instanceId}`) || undefined;
  }

  /** True when the unit of `path` would come from a Sensor Units not seen yet. */
  unknown(endpoint: string, path: Lwm2mPath, model: Lwm2mModel): boolean {
    if (path.resourceId === undefined) return false;
    const rm = model.getResource(path.objectId!, path.resourceId);
    return (
      !rm?.units &&
      this.#measured(path, model) &&
      !this.#units.get(endpoint)?.has(`/${path.objectId}/${path.instanceId}`)
    );
  }

  forget(endpoint: string): void {
    this.#units.delete(endpoint);
  }

  #measured(path: Lwm2mPath, model: Lwm2mModel): boolean {
    return (
      MEASURED.has(path.resourceId!) &&
      model.getResource(path.objectId!, SENSOR_UNITS) !== undefined
    );
  }
}

const byServer = new WeakMap<EventSource, SensorUnits>();

/** The units the server's devices gave, learnt from its events (one per server). */
export function sensorUnitsOf(server: EventSource): SensorUnits {
  let units = byServer.get(server);
  if (units) return units;
  const u = new SensorUnits();
  units = u;
  byServer.set(server, u);
  server.on('notification', (e) => {
    const { endpoint, paths } = e.observation;
    if (e.content && paths.length === 1) learnAt(u, endpoint, e.content, paths[0]!);
    for (const [p, node] of e.compositeContent ?? []) if (node) learnAt(u, endpoint, node, p);
  });
  server.on('send', (e) => {
    for (const v of e.values) {
      if (v.path.resourceId === SENSOR_UNITS && v.value) {
        u.learn(
          e.registration.endpoint,
          { kind: 'single-resource', id: SENSOR_UNITS, value: v.value },
          v.path,
        );
      }
    }
  });
  server.on('deregistered', (r) => u.forget(r.endpoint));
  server.on('expired', (r) => u.forget(r.endpoint));
  return u;
}

function learnAt(units: SensorUnits, endpoint: string, node: Lwm2mNode, path: string): void {
  try {
    units.learn(endpoint, node, Lwm2mPath.parse(path));
  } catch {
    // A node that does not sit at its path teaches nothing.
  }
}
