import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  multipleResource,
  object,
  objectInstance,
  resourceInstance,
  singleResource,
} from '../../../src/lwm2m/node/lwm2m-node.js';
import { Value } from '../../../src/lwm2m/node/lwm2m-value.js';
import {
  nodeFromJson,
  nodeToJson,
  valueFromJson,
  valueToJson,
} from '../../../src/lwm2m/node/node-json.js';

describe('nodes as JSON', () => {
  it('writes values JSON can carry: bigint as text, opaque as base64, time as seconds', () => {
    assert.equal(valueToJson(Value.integer(2n ** 63n - 1n)), '9223372036854775807');
    assert.equal(valueToJson(Value.integer(5)), 5);
    assert.equal(valueToJson(Value.opaque(Buffer.from([1, 2, 3]))), 'AQID');
    assert.equal(valueToJson(Value.time(1367491215)), 1367491215);
    assert.deepEqual(valueToJson(Value.objlnk(3, 0)), { objectId: 3, instanceId: 0 });
  });

  it('reads values typed by the model, with the forms people type', () => {
    assert.deepEqual(
      valueFromJson('integer', '9223372036854775807'),
      Value.integer(2n ** 63n - 1n),
    );
    assert.deepEqual(valueFromJson('float', '21.5'), Value.float(21.5));
    assert.deepEqual(valueFromJson('time', '2013-05-02T10:40:15Z'), Value.time(1367491215));
    assert.deepEqual(valueFromJson('objlnk', '3:0'), Value.objlnk(3, 0));
    assert.throws(() => valueFromJson('boolean', 'yes'), TypeError);
    assert.throws(() => valueFromJson('integer', 1.5), RangeError);
    assert.throws(() => valueFromJson('unsigned', -1), RangeError);
  });

  it('round-trips a node through JSON text', () => {
    const node = object(3, [
      objectInstance(0, [
        singleResource(0, Value.string('OMA')),
        singleResource(13, Value.time(1367491215)),
        multipleResource(6, 'integer', [
          resourceInstance(0, Value.integer(1)),
          resourceInstance(1, Value.integer(5)),
        ]),
      ]),
    ]);
    const text = JSON.stringify(nodeToJson(node));
    assert.deepEqual(nodeFromJson(JSON.parse(text)), node);
  });
});
