/**
 * What LwM2M devices report (notifications and Send), as the values the hub hands to
 * applications: one per resource (instance) path, in the API's JSON shape of a resource with
 * the time of the value.
 */
import { Code } from '../coap/code.js';
import type { Lwm2mNode } from '../lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../lwm2m/node/lwm2m-path.js';
import { flattenNode, type Lwm2mPathValue, resolveTime } from '../lwm2m/node/path-value.js';
import type { NotificationEvent, SendEvent } from '../lwm2m/server/events.js';
import type { Lwm2mServer } from '../lwm2m/server/server.js';
import { leafJson, type ResourceJson } from './commands/json.js';
import { sensorUnitsOf } from './commands/units.js';

/** A protocol adapter whose devices' data is read: the LwM2M server, or one that acts like it. */
export type Lwm2mDataSource = Pick<Lwm2mServer, 'on' | 'off' | 'getRegistration' | 'modelOf'>;

/** One value as applications get it: the resource JSON and the value's time (ISO 8601). */
export interface DataJson extends ResourceJson {
  ts: string;
}

/**
 * The values of a notification, oldest first; none for an error notification or one that did
 * not decode (the observation goes on without a value).
 */
export function notificationValues(e: NotificationEvent): Lwm2mPathValue[] {
  if (e.code !== Code.Content || e.error) return [];
  const { paths, composite } = e.observation;
  const values: Lwm2mPathValue[] = [];
  if (paths.length === 1 && !composite) {
    const path = Lwm2mPath.parse(paths[0]!);
    // LwM2M-TS-Core 1.1 §7.4.4: a notification may carry stored values, oldest first.
    const timed = e.timestamped ?? (e.content ? [{ time: undefined, node: e.content }] : []);
    for (const { time, node } of timed) values.push(...leaves(node, path, time));
  }
  for (const [p, node] of e.compositeContent ?? []) {
    if (node) values.push(...leaves(node, Lwm2mPath.parse(p), undefined));
  }
  return values;
}

/** The values of a Send (LwM2M-TS-Core 1.1 §6.4.1); paths without a value are left out. */
export function sendValues(e: SendEvent): Lwm2mPathValue[] {
  return e.values.filter((v) => v.value !== undefined);
}

/**
 * The JSON of each value, with the names, types and units of the device's model; `now` (ms)
 * dates the values the device gave no time. Empty once the device is no longer registered.
 */
export async function dataJson(
  server: Lwm2mDataSource,
  endpoint: string,
  values: readonly Lwm2mPathValue[],
  now: number,
): Promise<DataJson[]> {
  const registration = await server.getRegistration(endpoint);
  if (!registration) return [];
  const model = server.modelOf(registration);
  const units = sensorUnitsOf(server);
  return values.map((v) => {
    // SenML times are seconds since the epoch, or relative to now below 2^28 (RFC 8428 §4.5.3).
    const ms = v.time === undefined ? now : resolveTime(v.time, now / 1000) * 1000;
    return {
      ...leafJson(v.path, v.value!, model, (p) => units.unitOf(endpoint, p, model)),
      ts: new Date(ms).toISOString(),
    };
  });
}

function leaves(node: Lwm2mNode, path: Lwm2mPath, time: number | undefined): Lwm2mPathValue[] {
  return flattenNode(node, path)
    .filter((l) => l.value !== undefined)
    .map((l) => (time === undefined ? l : { ...l, time }));
}
