import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CodecError } from '../../../src/lwm2m/codec/codec-error.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import {
  decodeComposite,
  decodeCreate,
  decodeTimestamped,
  encode,
  encodeComposite,
  encodeTimestamped,
} from '../../../src/lwm2m/codec/lwm2m-codec.js';
import { objectInstance, singleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../../../src/lwm2m/node/lwm2m-path.js';
import { Value } from '../../../src/lwm2m/node/lwm2m-value.js';
import { groupByPaths, groupByTime, resolveTime } from '../../../src/lwm2m/node/path-value.js';
import { hex, linkModel, oma } from './vectors.js';

const path = Lwm2mPath.parse;

describe('Create payloads (LwM2M-TS 1.0 §5.4.6)', () => {
  it('reads bare resource TLVs as an instance whose id the client picks', () => {
    // Two resources of object 66 without an object instance TLV around them.
    const created = decodeCreate(
      hex('C8 00 03 616263 C4 02 0043 0000'),
      ContentFormat.TLV,
      path('/66'),
      linkModel,
    );
    assert.equal(created.length, 1);
    assert.equal(created[0]!.id, undefined);
    assert.deepEqual(created[0]!.resources.get(0), singleResource(0, Value.string('abc')));
    assert.deepEqual(created[0]!.resources.get(2), singleResource(2, Value.objlnk(67, 0)));
  });

  it('reads object instance TLVs with their ids', () => {
    const created = decodeCreate(
      hex('08 07 05 C8 00 02 6869'),
      ContentFormat.TLV,
      path('/66'),
      linkModel,
    );
    assert.deepEqual(
      created.map((c) => c.id),
      [7],
    );
  });

  it('reads a SenML JSON Create with the instance id in the names', () => {
    const json = '[{"bn":"/66/3/","n":"0","vs":"x"},{"n":"1","vs":"y"}]';
    const created = decodeCreate(
      Buffer.from(json),
      ContentFormat.SENML_JSON,
      path('/66'),
      linkModel,
    );
    assert.deepEqual(
      created.map((c) => [c.id, c.resources.size]),
      [[3, 2]],
    );
  });

  it('writes an instance sent to its object path with its id in every format, and reads it back', () => {
    const inst = objectInstance(1, [singleResource(0, Value.string('a'))]);
    const senml = encode(inst, ContentFormat.SENML_JSON, path('/66'), linkModel);
    assert.equal(senml.toString(), '[{"bn":"/66/","n":"1/0","vs":"a"}]');
    for (const format of [
      ContentFormat.TLV,
      ContentFormat.SENML_JSON,
      ContentFormat.SENML_CBOR,
      ContentFormat.LWM2M_CBOR,
    ]) {
      const bytes = encode(inst, format, path('/66'), linkModel);
      const created = decodeCreate(bytes, format, path('/66'), linkModel);
      assert.deepEqual(
        created.map((c) => [c.id, [...c.resources.values()]]),
        [[1, [...inst.resources.values()]]],
        `${format}`,
      );
    }
  });

  it('refuses a Create aimed below an object', () => {
    assert.throws(
      () => decodeCreate(hex('C1 00 01'), ContentFormat.TLV, path('/66/0'), linkModel),
      (e: unknown) => e instanceof CodecError && e.code === 'INVALID_PATH',
    );
  });
});

describe('composite values (Read-Composite, Write-Composite, Send)', () => {
  it('writes untimed entries before timed ones so a base time never leaks onto them (RFC 8428 §4.5.1)', () => {
    const entries = [
      { path: path('/3303/0/5700'), value: Value.float(21.5), time: 1700000000 },
      { path: path('/3/0/9'), value: Value.integer(80) },
    ];
    const bytes = encodeComposite(entries, ContentFormat.SENML_JSON, oma);
    assert.equal(
      bytes.toString(),
      '[{"bn":"/3/0/","n":"9","v":80},{"bn":"/3303/0/","bt":1700000000,"n":"5700","v":21.5}]',
    );
    assert.deepEqual(decodeComposite(bytes, ContentFormat.SENML_JSON, oma), [
      entries[1],
      entries[0],
    ]);
  });

  it('writes paths without value whole, resetting a base name in force (RFC 8428 §4.5.1)', () => {
    const entries = [
      { path: path('/3/0/9'), value: Value.integer(80) },
      { path: path('/3/0/0') },
      { path: path('/5') },
    ];
    const bytes = encodeComposite(entries, ContentFormat.SENML_JSON, oma);
    assert.equal(
      bytes.toString(),
      '[{"bn":"/3/0/","n":"9","v":80},{"bn":"","n":"/3/0/0"},{"n":"/5"}]',
    );
    assert.deepEqual(decodeComposite(bytes, ContentFormat.SENML_JSON, oma), entries);
    const cbor = encodeComposite(entries, ContentFormat.SENML_CBOR, oma);
    assert.deepEqual(decodeComposite(cbor, ContentFormat.SENML_CBOR, oma), entries);
  });

  it('groups a Send by time and resolves relative times (RFC 8428 §4.5.3)', () => {
    const json =
      '[{"bn":"/3303/0/5700","bt":-20,"v":20.5},{"bt":-10,"v":21.5},{"bn":"/3/0/9","bt":1700000000,"v":80}]';
    const entries = decodeComposite(Buffer.from(json), ContentFormat.SENML_JSON, oma);
    const groups = groupByTime(entries);
    assert.deepEqual([...groups.keys()], [-20, -10, 1700000000]);
    assert.equal(resolveTime(-20, 1700000100), 1700000080);
    assert.equal(resolveTime(1700000000, 1), 1700000000);
  });

  it('rebuilds the node of each requested path from a Read-Composite response', () => {
    const json =
      '[{"bn":"/3/0/","n":"0","vs":"OMA"},{"n":"6/0","v":1},{"bn":"/1/0/","n":"1","v":300}]';
    const entries = decodeComposite(Buffer.from(json), ContentFormat.SENML_JSON, oma);
    const nodes = groupByPaths([path('/3/0'), path('/1/0/1'), path('/4')], entries);
    assert.equal(nodes.get('/3/0')?.kind, 'object-instance');
    assert.deepEqual(nodes.get('/1/0/1'), singleResource(1, Value.integer(300)));
    assert.equal(nodes.get('/4')?.kind, 'object');
  });

  it('refuses a composite in a single-value format (4.06 / 4.15)', () => {
    assert.throws(
      () => encodeComposite([], ContentFormat.TLV, oma),
      (e: unknown) => e instanceof CodecError && e.coapCode === '4.06',
    );
    assert.throws(
      () => decodeComposite(Buffer.alloc(0), ContentFormat.TEXT, oma),
      (e: unknown) => e instanceof CodecError && e.coapCode === '4.15',
    );
  });
});

describe('timestamped values (notifications with history, Send)', () => {
  it('decodes LwM2M JSON values at times relative to "bt" (LwM2M-TS 1.0 §6.4.4)', () => {
    const json =
      '{"bn":"/3303/0/5700","bt":25462634,"e":[{"v":22.4,"t":-5},{"v":22.9,"t":-30},{"v":24.1,"t":-50}]}';
    const nodes = decodeTimestamped(
      Buffer.from(json),
      ContentFormat.JSON,
      path('/3303/0/5700'),
      oma,
    );
    assert.deepEqual(
      nodes.map((n) => [n.time, n.node]),
      [
        [25462584, singleResource(5700, Value.float(24.1))],
        [25462604, singleResource(5700, Value.float(22.9))],
        [25462629, singleResource(5700, Value.float(22.4))],
      ],
    );
  });

  it('decodes SenML JSON instances at two times (LwM2M-TS-Core 1.1 §7.4.4)', () => {
    const json =
      '[{"bn":"/3303/0/","bt":1700000000,"n":"5700","v":20},{"n":"5701","vs":"Cel"},' +
      '{"bt":1700000060,"n":"5700","v":21}]';
    const nodes = decodeTimestamped(
      Buffer.from(json),
      ContentFormat.SENML_JSON,
      path('/3303/0'),
      oma,
    );
    assert.deepEqual(
      nodes.map((n) => [n.time, n.node.kind === 'object-instance' ? n.node.resources.size : 0]),
      [
        [1700000000, 2],
        [1700000060, 1],
      ],
    );
  });

  it('gives one untimed node for formats without time', () => {
    const nodes = decodeTimestamped(hex('C1 09 64'), ContentFormat.TLV, path('/3/0/9'), oma);
    assert.deepEqual(nodes, [{ time: undefined, node: singleResource(9, Value.integer(100)) }]);
  });
});

describe('timestamped encoding', () => {
  const history = [
    { time: 25462584, node: singleResource(5700, Value.float(24.1)) },
    { time: 25462604, node: singleResource(5700, Value.float(22.9)) },
  ];

  it('writes LwM2M JSON with one "bt" and relative "t" (LwM2M-TS 1.0 §6.4.4)', () => {
    const bytes = encodeTimestamped(history, ContentFormat.JSON, path('/3303/0/5700'), oma);
    assert.equal(
      bytes.toString(),
      '{"bn":"/3303/0/5700","bt":25462584,"e":[{"v":24.1,"t":0},{"v":22.9,"t":20}]}',
    );
    const back = decodeTimestamped(bytes, ContentFormat.JSON, path('/3303/0/5700'), oma);
    assert.deepEqual(back, history);
  });

  it('writes SenML with a base time per instant (LwM2M-TS-Core 1.1 §7.4.4)', () => {
    for (const format of [ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR]) {
      const bytes = encodeTimestamped(history, format, path('/3303/0/5700'), oma);
      assert.deepEqual(decodeTimestamped(bytes, format, path('/3303/0/5700'), oma), history);
    }
  });

  it('refuses timestamps in TLV (4.06)', () => {
    assert.throws(
      () => encodeTimestamped(history, ContentFormat.TLV, path('/3303/0/5700'), oma),
      (e: unknown) => e instanceof CodecError && e.code === 'NOT_ACCEPTABLE',
    );
  });
});

describe('nodes written at their parent path', () => {
  const formats = [
    ContentFormat.TEXT,
    ContentFormat.TLV,
    ContentFormat.SENML_JSON,
    ContentFormat.SENML_CBOR,
    ContentFormat.LWM2M_CBOR,
    ContentFormat.JSON,
  ];

  it('writes a resource given at its instance path as at its own path', () => {
    const r = singleResource(9, Value.integer(100));
    for (const format of formats) {
      assert.deepEqual(
        encode(r, format, path('/3/0'), oma),
        encode(r, format, path('/3/0/9'), oma),
        `${format}`,
      );
    }
  });

  it('refuses a node two levels away from its path (4.00)', () => {
    for (const format of formats) {
      assert.throws(
        () => encode(singleResource(9, Value.integer(1)), format, path('/3'), oma),
        (e: unknown) => e instanceof CodecError && e.code === 'INVALID_PATH',
      );
    }
  });
});
