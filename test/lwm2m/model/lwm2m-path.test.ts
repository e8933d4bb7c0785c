import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  multipleResource,
  object,
  objectInstance,
  resourceInstance,
  singleResource,
} from '../../../src/lwm2m/node/lwm2m-node.js';
import { InvalidPathError, Lwm2mPath } from '../../../src/lwm2m/node/lwm2m-path.js';
import { Value, valuesEqual } from '../../../src/lwm2m/node/lwm2m-value.js';
import { buildNode, flattenNode } from '../../../src/lwm2m/node/path-value.js';

describe('Lwm2mPath (LwM2M-TS-Core 1.1 §6.1, §7.1)', () => {
  it('parses every level', () => {
    assert.equal(Lwm2mPath.parse('/').level, 'root');
    assert.equal(Lwm2mPath.parse('/3').level, 'object');
    assert.equal(Lwm2mPath.parse('/3/0').level, 'object-instance');
    assert.equal(Lwm2mPath.parse('3/0/1').level, 'resource');
    const p = Lwm2mPath.parse('/3/0/1/2/');
    assert.equal(p.level, 'resource-instance');
    assert.deepEqual([p.objectId, p.instanceId, p.resourceId, p.resourceInstanceId], [3, 0, 1, 2]);
    assert.equal(p.toString(), '/3/0/1/2');
    assert.equal(JSON.stringify({ p }), '{"p":"/3/0/1/2"}');
  });

  it('rejects ids outside 0..65535 and malformed segments', () => {
    for (const bad of [
      '/65536',
      '/-1',
      '/3//1',
      '/3/a',
      '/1/2/3/4/5',
      '/03',
      '/3.0',
      '/ 3',
      '/+3',
    ]) {
      assert.throws(() => Lwm2mPath.parse(bad), InvalidPathError, bad);
    }
    assert.equal(Lwm2mPath.parse('/65535/65535/65535/65535').segments[3], 65535);
    assert.throws(() => new Lwm2mPath(1.5), InvalidPathError);
    assert.equal(Lwm2mPath.tryParse('/x'), undefined);
  });

  it('orders paths depth-first and compares them', () => {
    const sorted = ['/4', '/3/1', '/3/0/2', '/3', '/3/0/1/0', '/3/0/1', '/3/0', '/10'].map(
      Lwm2mPath.parse,
    );
    sorted.sort(Lwm2mPath.compare);
    assert.deepEqual(sorted.map(String), [
      '/3',
      '/3/0',
      '/3/0/1',
      '/3/0/1/0',
      '/3/0/2',
      '/3/1',
      '/4',
      '/10',
    ]);
    assert.ok(Lwm2mPath.parse('/3/0/1').startsWith(Lwm2mPath.parse('/3')));
    assert.ok(!Lwm2mPath.parse('/3').startsWith(Lwm2mPath.parse('/3/0')));
    assert.ok(Lwm2mPath.parse('/3/0').equals(new Lwm2mPath(3, 0)));
    assert.equal(Lwm2mPath.parse('/3/0').append(5).toString(), '/3/0/5');
    assert.equal(Lwm2mPath.parse('/3/0').parent().toString(), '/3');
  });
});

describe('nodes and values', () => {
  it('checks values: 64-bit integers, unsigned, object links, time from seconds', () => {
    assert.equal(Value.integer(2n ** 63n - 1n).value, 2n ** 63n - 1n);
    assert.equal(Value.integer(5n).value, 5);
    assert.throws(() => Value.integer(2n ** 63n), RangeError);
    assert.throws(() => Value.integer(2 ** 60), RangeError);
    assert.throws(() => Value.unsigned(-1), RangeError);
    assert.equal(Value.unsigned(2n ** 64n - 1n).value, 2n ** 64n - 1n);
    assert.throws(() => Value.objlnk(65536, 0), RangeError);
    assert.deepEqual(Value.time(1367491215).value, new Date(1367491215000));
    assert.ok(valuesEqual(Value.opaque(Buffer.from([1])), Value.opaque(Buffer.from([1]))));
    assert.ok(!valuesEqual(Value.integer(1), Value.unsigned(1)));
  });

  it('builds nodes in id order and refuses duplicates and mixed types', () => {
    const inst = objectInstance(0, [
      singleResource(9, Value.integer(1)),
      singleResource(0, Value.string('a')),
    ]);
    assert.deepEqual([...inst.resources.keys()], [0, 9]);
    assert.throws(
      () =>
        objectInstance(0, [
          singleResource(1, Value.integer(1)),
          singleResource(1, Value.integer(2)),
        ]),
      RangeError,
    );
    assert.throws(() => multipleResource(6, 'integer', [[0, Value.string('x')]]), TypeError);
    assert.throws(() => singleResource(70000, Value.integer(1)), RangeError);
  });

  it('flattens a node to path-values and builds it back', () => {
    const node = object(3, [
      objectInstance(0, [
        singleResource(0, Value.string('OMA')),
        multipleResource(6, 'integer', [
          resourceInstance(1, Value.integer(5)),
          resourceInstance(0, Value.integer(1)),
        ]),
      ]),
    ]);
    const leaves = flattenNode(node, Lwm2mPath.parse('/3'));
    assert.deepEqual(
      leaves.map((l) => l.path.toString()),
      ['/3/0/0', '/3/0/6/0', '/3/0/6/1'],
    );
    assert.deepEqual(buildNode(Lwm2mPath.parse('/3'), leaves), node);
    assert.deepEqual(
      buildNode(Lwm2mPath.parse('/3/0/6/1'), leaves.slice(2)),
      resourceInstance(1, Value.integer(5)),
    );
    assert.equal(buildNode(Lwm2mPath.parse('/3/1'), []), undefined);
  });
});
