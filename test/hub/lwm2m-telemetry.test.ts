import assert from 'node:assert/strict';
import { test } from 'node:test';
import { telemetryValue } from '../../src/hub/lwm2m-telemetry.js';
import { Value } from '../../src/lwm2m/node/lwm2m-value.js';

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
