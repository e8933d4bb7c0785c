// Every format against every other: random object instances of every data type go through
// encode and decode in each multi-value format and must come back unchanged, and single values
// through the single-value formats. A disagreement between two formats shows up here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CodecError } from '../../../src/lwm2m/codec/codec-error.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import {
  decode,
  decodeComposite,
  encode,
  encodeComposite,
} from '../../../src/lwm2m/codec/lwm2m-codec.js';
import type { ResourceModel } from '../../../src/lwm2m/model/object-model.js';
import { StaticModel } from '../../../src/lwm2m/model/object-model.js';
import {
  type Lwm2mResource,
  multipleResource,
  objectInstance,
  resourceInstance,
  singleResource,
} from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../../../src/lwm2m/node/lwm2m-path.js';
import { type Lwm2mValue, Value, type ValueType } from '../../../src/lwm2m/node/lwm2m-value.js';
import { flattenNode } from '../../../src/lwm2m/node/path-value.js';

const TYPES: ValueType[] = [
  'string',
  'integer',
  'unsigned',
  'float',
  'boolean',
  'opaque',
  'time',
  'objlnk',
  'corelnk',
];

// Object 40000: resource 2k is a single resource of TYPES[k], 2k+1 a multiple one.
const resources: ResourceModel[] = TYPES.flatMap((type, k) => [
  {
    id: 2 * k,
    name: `s${k}`,
    operations: 'RW',
    multiple: false,
    mandatory: false,
    type,
    description: '',
  },
  {
    id: 2 * k + 1,
    name: `m${k}`,
    operations: 'RW',
    multiple: true,
    mandatory: false,
    type,
    description: '',
  },
]);
const model = new StaticModel([
  {
    id: 40000,
    name: 'all types',
    description: '',
    urn: '',
    version: '1.0',
    lwm2mVersion: '1.2',
    multiple: true,
    mandatory: false,
    resources: new Map(resources.map((r) => [r.id, r])),
  },
]);

let seed = 12345;
function rand(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}

function randomValue(type: ValueType): Lwm2mValue {
  switch (type) {
    case 'string':
      return Value.string(['', 'a', 'héllo "quoted" \\ ✓', 'x'.repeat(300)][rand(4)]!);
    case 'corelnk':
      return Value.corelnk(['</3/0>;ver=1.1', '</1>,</2>'][rand(2)]!);
    case 'integer':
      return Value.integer(
        [0, -1, 127, -129, 65536, -(2 ** 40), 2n ** 63n - 1n, -(2n ** 63n)][rand(8)]!,
      );
    case 'unsigned':
      return Value.unsigned([0, 255, 2 ** 32, 2n ** 64n - 1n][rand(4)]!);
    case 'float':
      return Value.float([0, 1.5, -2.25, 0.1, 1e300, 3.4028234663852886e38, 22][rand(7)]!);
    case 'boolean':
      return Value.boolean(rand(2) === 1);
    case 'opaque':
      return Value.opaque(Buffer.from(Array.from({ length: rand(20) }, () => rand(256))));
    case 'time':
      return Value.time([0, 1367491215, 4102444800, -86400][rand(4)]!);
    case 'objlnk':
      return Value.objlnk(rand(65536), rand(65536));
  }
}

function randomInstance(id: number) {
  const list: Lwm2mResource[] = [];
  TYPES.forEach((type, k) => {
    if (rand(3) > 0) list.push(singleResource(2 * k, randomValue(type)));
    if (rand(3) > 0) {
      const ids = [...new Set(Array.from({ length: 1 + rand(3) }, () => rand(70000) % 65536))];
      list.push(
        multipleResource(
          2 * k + 1,
          type,
          ids.map((ri) => resourceInstance(ri, randomValue(type))),
        ),
      );
    }
  });
  return objectInstance(id, list);
}

const MULTI = [
  ['TLV', ContentFormat.TLV],
  ['SenML JSON', ContentFormat.SENML_JSON],
  ['SenML CBOR', ContentFormat.SENML_CBOR],
  ['LwM2M CBOR', ContentFormat.LWM2M_CBOR],
  ['LwM2M JSON', ContentFormat.JSON],
] as const;

describe('every format round-trips every data type', () => {
  for (const [name, format] of MULTI) {
    it(`${name}: 200 random object instances decode to what was encoded`, () => {
      for (let n = 0; n < 200; n++) {
        const inst = randomInstance(rand(65535));
        const at = new Lwm2mPath(40000, inst.id);
        const back = decode(encode(inst, format, at, model), format, at, model);
        // An instance without resources has no leaf to carry it in SenML or LwM2M CBOR.
        if (inst.resources.size === 0) continue;
        assert.deepEqual(back, inst, `${name} #${n}`);
      }
    });
  }

  for (const [name, format] of [
    ['SenML JSON', ContentFormat.SENML_JSON],
    ['SenML CBOR', ContentFormat.SENML_CBOR],
    ['LwM2M CBOR', ContentFormat.LWM2M_CBOR],
  ] as const) {
    it(`${name}: composite path-values round-trip`, () => {
      for (let n = 0; n < 100; n++) {
        const inst = randomInstance(rand(100));
        const entries = flattenNode(inst, new Lwm2mPath(40000, inst.id));
        const back = decodeComposite(encodeComposite(entries, format, model), format, model);
        assert.deepEqual(
          [...back].sort((a, b) => a.path.compareTo(b.path)),
          [...entries].sort((a, b) => a.path.compareTo(b.path)),
        );
      }
    });
  }

  for (const [name, format] of [
    ['text/plain', ContentFormat.TEXT],
    ['application/cbor', ContentFormat.CBOR],
  ] as const) {
    it(`${name}: single values of every type round-trip (LwM2M-TS-Core 1.1 §7.4.1, §7.4.6)`, () => {
      TYPES.forEach((type, k) => {
        for (let n = 0; n < 20; n++) {
          const at = new Lwm2mPath(40000, 0, 2 * k);
          const node = singleResource(2 * k, randomValue(type));
          assert.deepEqual(
            decode(encode(node, format, at, model), format, at, model),
            node,
            `${type}`,
          );
          const ri = resourceInstance(3, randomValue(type));
          const riPath = new Lwm2mPath(40000, 0, 2 * k + 1, 3);
          assert.deepEqual(decode(encode(ri, format, riPath, model), format, riPath, model), ri);
        }
      });
    });
  }

  it('application/cbor writes tag 1 for Time and refuses a multiple resource (4.06)', () => {
    const at = new Lwm2mPath(40000, 0, 12);
    assert.equal(
      encode(singleResource(12, Value.time(3)), ContentFormat.CBOR, at, model).toString('hex'),
      'c103',
    );
    assert.throws(
      () =>
        encode(
          multipleResource(13, 'time', []),
          ContentFormat.CBOR,
          new Lwm2mPath(40000, 0, 13),
          model,
        ),
      (e: unknown) => e instanceof CodecError && e.code === 'NOT_ACCEPTABLE',
    );
    assert.throws(
      () => decode(Buffer.from('80', 'hex'), ContentFormat.CBOR, at, model),
      (e: unknown) => e instanceof CodecError && e.code === 'TYPE_MISMATCH',
    );
  });
});

describe('every decoder on hostile input', () => {
  const FORMATS = [
    ContentFormat.TEXT,
    ContentFormat.OPAQUE,
    ContentFormat.CBOR,
    ContentFormat.TLV,
    ContentFormat.SENML_JSON,
    ContentFormat.SENML_CBOR,
    ContentFormat.LWM2M_CBOR,
    ContentFormat.JSON,
  ];
  const PATHS = ['/40000', '/40000/1', '/40000/1/2', '/40000/1/3', '/40000/1/3/7'].map((p) =>
    Lwm2mPath.parse(p),
  );

  it('throws nothing but CodecError for mutated valid payloads of every format, at every level', () => {
    for (let n = 0; n < 300; n++) {
      const inst = randomInstance(1);
      for (const source of MULTI) {
        const valid = encode(inst, source[1], new Lwm2mPath(40000, 1), model);
        const bytes = Buffer.from(valid.subarray(0, rand(valid.length + 1)));
        for (let k = 0; k < 1 + rand(3); k++)
          if (bytes.length) bytes[rand(bytes.length)] = rand(256);
        for (const format of FORMATS) {
          for (const at of PATHS) {
            try {
              decode(bytes, format, at, model);
            } catch (e) {
              assert.ok(e instanceof CodecError, `${format} ${at} ${bytes.toString('hex')}: ${e}`);
            }
          }
          try {
            decodeComposite(bytes, format, model);
          } catch (e) {
            assert.ok(
              e instanceof CodecError,
              `composite ${format} ${bytes.toString('hex')}: ${e}`,
            );
          }
        }
      }
    }
  });

  it('throws nothing but CodecError for random bytes', () => {
    for (let n = 0; n < 3000; n++) {
      const bytes = Buffer.from(Array.from({ length: rand(40) }, () => rand(256)));
      for (const format of FORMATS) {
        try {
          decode(bytes, format, PATHS[rand(PATHS.length)]!, model);
        } catch (e) {
          assert.ok(e instanceof CodecError, `${format} ${bytes.toString('hex')}: ${e}`);
        }
      }
    }
  });
});
