import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import { storeLwm2mTelemetry, telemetryValue } from '../../src/hub/lwm2m-telemetry.js';
import {
  objectInstance,
  resourceInstance,
  singleResource,
} from '../../src/lwm2m/node/lwm2m-node.js';
import { Value } from '../../src/lwm2m/node/lwm2m-value.js';
import type { Lwm2mServer } from '../../src/lwm2m/server/server.js';
import type { TelemetryPoint, TelemetryStore } from '../../src/store/ports.js';
import { ManualClock } from '../../src/util/clock.js';

test('LwM2M values become storable telemetry values', () => {
  assert.equal(telemetryValue(Value.float(21.5)), 21.5);
  assert.equal(telemetryValue(Value.integer(-3)), -3);
  assert.equal(
    telemetryValue(Value.integer(2n ** 60n)),
    '1152921504606846976',
    'past 2^53: exact text',
  );
  assert.equal(telemetryValue(Value.boolean(true)), true);
  assert.equal(telemetryValue(Value.string('Acme')), 'Acme');
  assert.equal(telemetryValue(Value.opaque(Buffer.from([1, 2, 255]))), 'AQL/');
  assert.equal(telemetryValue(Value.objlnk(3, 0)), '3:0');
  assert.equal(telemetryValue(Value.time(new Date('2026-01-01T00:00:00Z'))), 1767225600);
});

test('every value of a notification becomes one point at its resource (instance) path', () => {
  const server = new EventEmitter();
  const stored: TelemetryPoint[][] = [];
  const store = { append: (points: readonly TelemetryPoint[]) => stored.push([...points]) };
  const clock = new ManualClock(1000);
  storeLwm2mTelemetry(server as unknown as Lwm2mServer, store as unknown as TelemetryStore, clock);
  const observation = (paths: string[], composite = false) => ({
    id: 'ab',
    registrationId: 'r1',
    endpoint: 'dev1',
    paths,
    composite,
    format: 0,
    active: true,
  });
  // A single resource at its own path, and one resource instance at its own path.
  server.emit('notification', {
    observation: observation(['/3303/0/5700']),
    code: Code.Content,
    content: singleResource(5700, Value.float(21.5)),
  });
  server.emit('notification', {
    observation: observation(['/3/0/7/1']),
    code: Code.Content,
    content: resourceInstance(1, Value.integer(3800)),
  });
  // An object instance: one point per resource.
  server.emit('notification', {
    observation: observation(['/3303/0']),
    code: Code.Content,
    content: objectInstance(0, [
      singleResource(5700, Value.float(22)),
      singleResource(5701, Value.string('Cel')),
    ]),
  });
  // Observe-Composite: the values by path.
  server.emit('notification', {
    observation: observation(['/3303/0/5700', '/3/0/9'], true),
    code: Code.Content,
    compositeContent: new Map([
      ['/3303/0/5700', singleResource(5700, Value.float(23))],
      ['/3/0/9', singleResource(9, Value.integer(80))],
    ]),
  });
  const point = (path: string, value: TelemetryPoint['value']) => ({
    deviceId: 'dev1',
    path,
    ts: 1000,
    value,
  });
  assert.deepEqual(stored, [
    [point('/3303/0/5700', 21.5)],
    [point('/3/0/7/1', 3800)],
    [point('/3303/0/5700', 22), point('/3303/0/5701', 'Cel')],
    [point('/3303/0/5700', 23), point('/3/0/9', 80)],
  ]);
});
