import { NODE_DEPTH } from '../lwm2m/codec/lwm2m-codec.js';
import type { Lwm2mNode } from '../lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../lwm2m/node/lwm2m-path.js';
import type { Lwm2mValue } from '../lwm2m/node/lwm2m-value.js';
import { valueToJson } from '../lwm2m/node/node-json.js';
import { flattenNode } from '../lwm2m/node/path-value.js';
import type { NotificationEvent, SendEvent } from '../lwm2m/server/events.js';
import type { Lwm2mServer } from '../lwm2m/server/server.js';
import type { TelemetryPoint, TelemetryStore, TelemetryValue } from '../store/ports.js';
import type { Clock } from '../util/clock.js';

/**
 * Stores what LwM2M devices report as telemetry: every value of a notification (Observe and
 * Observe-Composite) and of a Send, one point per resource (instance) path, at the time the
 * device gave (SenML `t`) or else the time it arrived. Returns the function that stops it.
 */
export function storeLwm2mTelemetry(
  server: Lwm2mServer,
  telemetry: TelemetryStore,
  clock: Clock,
): () => void {
  const onNotification = (event: NotificationEvent) => {
    const deviceId = event.observation.endpoint;
    const now = clock.now();
    const { content } = event;
    const paths = event.observation.paths;
    if (content && paths.length === 1 && !event.compositeContent) {
      // The common notification: one resource value at the observed path, one point, no
      // path parsed or printed.
      if (content.kind === 'single-resource' || content.kind === 'resource-instance') {
        const path = paths[0]!;
        if (leafDepth(path) === NODE_DEPTH[content.kind]) {
          telemetry.append([{ deviceId, path, ts: now, value: telemetryValue(content.value) }]);
          return;
        }
      }
    }
    const points: TelemetryPoint[] = [];
    if (content && paths.length === 1) {
      collect(points, deviceId, content, Lwm2mPath.parse(paths[0]!), now);
    }
    for (const [path, node] of event.compositeContent ?? []) {
      if (node) collect(points, deviceId, node, Lwm2mPath.parse(path), now);
    }
    if (points.length > 0) telemetry.append(points);
  };
  const onSend = (event: SendEvent) => {
    const deviceId = event.registration.endpoint;
    const now = clock.now();
    const points: TelemetryPoint[] = [];
    for (const { path, value, time } of event.values) {
      if (value === undefined) continue;
      points.push({
        deviceId,
        path: path.toString(),
        // SenML times are seconds since the epoch (RFC 8428 §4.5.3).
        ts: time === undefined ? now : Math.round(time * 1000),
        value: telemetryValue(value),
      });
    }
    if (points.length > 0) telemetry.append(points);
  };
  server.on('notification', onNotification);
  server.on('send', onSend);
  return () => {
    server.off('notification', onNotification);
    server.off('send', onSend);
  };
}

/** Segments of a path as the server prints it (`/3303/0/5700`: 3). */
function leafDepth(path: string): number {
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 0x2f) n++;
  return n;
}

function collect(
  out: TelemetryPoint[],
  deviceId: string,
  node: Lwm2mNode,
  path: Lwm2mPath,
  ts: number,
): void {
  for (const leaf of flattenNode(node, path)) {
    if (leaf.value === undefined) continue;
    out.push({ deviceId, path: leaf.path.toString(), ts, value: telemetryValue(leaf.value) });
  }
}

/** A stored value: numbers, strings and booleans as they are; links as `3:0`; opaque in base64. */
export function telemetryValue(v: Lwm2mValue): TelemetryValue {
  if (v.type === 'objlnk') return `${v.value.objectId}:${v.value.instanceId}`;
  const json = valueToJson(v);
  return typeof json === 'object' ? JSON.stringify(json) : json;
}
