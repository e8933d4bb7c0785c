import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CodecError } from '../../../src/lwm2m/codec/codec-error.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import { decode, encode } from '../../../src/lwm2m/codec/lwm2m-codec.js';
import type { Lwm2mObjectInstance } from '../../../src/lwm2m/node/lwm2m-node.js';
import { object, objectInstance, singleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../../../src/lwm2m/node/lwm2m-path.js';
import { Value } from '../../../src/lwm2m/node/lwm2m-value.js';
import { hex, linkModel, oma } from './vectors.js';

const path = Lwm2mPath.parse;
const JSON_CF = ContentFormat.JSON;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CodecError, `expected CodecError, got ${e}`);
    return e.code;
  }
  assert.fail('expected a CodecError');
}

// LwM2M-TS 1.0 §6.4.4 (JSON): Read on /3/0, the Device instance of the §6.4.3.1 TLV example,
// resources in "e" with names relative to "bn", strings in "sv", numbers in "v". Not re-read
// against the TS here; Eclipse Leshan's decoder test json_device_object_instance0 has the same
// text byte for byte.
const DEVICE_JSON =
  '{"bn":"/3/0/","e":[' +
  '{"n":"0","sv":"Open Mobile Alliance"},' +
  '{"n":"1","sv":"Lightweight M2M Client"},' +
  '{"n":"2","sv":"345000123"},' +
  '{"n":"3","sv":"1.0"},' +
  '{"n":"6/0","v":1},' +
  '{"n":"6/1","v":5},' +
  '{"n":"7/0","v":3800},' +
  '{"n":"7/1","v":5000},' +
  '{"n":"8/0","v":125},' +
  '{"n":"8/1","v":900},' +
  '{"n":"9","v":100},' +
  '{"n":"10","v":15},' +
  '{"n":"11/0","v":0},' +
  '{"n":"13","v":1367491215},' +
  '{"n":"14","sv":"+02:00"},' +
  '{"n":"16","sv":"U"}]}';

const DEVICE_TLV = hex(`
  C800144F70656E204D6F62696C6520416C6C69616E6365 C801164C69676874776569676874204D324D20436C69656E74
  C80209333435303030313233 C303312E30 86064100014101 05 88070842000ED842011388 870841007D42010384
  C10964 C10A0F 830B410000 C40D5182428F C60E2B30323A3030 C11055`);

describe('LwM2M JSON (LwM2M-TS 1.0 §6.4.4)', () => {
  it('decodes the Device object instance JSON example (LwM2M-TS 1.0 §6.4.4)', () => {
    const node = decode(Buffer.from(DEVICE_JSON), JSON_CF, path('/3/0'), oma);
    assert.deepEqual(node, decode(DEVICE_TLV, ContentFormat.TLV, path('/3/0'), oma));
  });

  it('encodes the Device object instance JSON example byte for byte (LwM2M-TS 1.0 §6.4.4)', () => {
    const node = decode(DEVICE_TLV, ContentFormat.TLV, path('/3/0'), oma);
    assert.equal(encode(node, JSON_CF, path('/3/0'), oma).toString(), DEVICE_JSON);
    assert.equal(encode(node, ContentFormat.OLD_JSON, path('/3/0'), oma).toString(), DEVICE_JSON);
  });

  it('round-trips the Device example (LwM2M-TS 1.0 §6.4.4)', () => {
    const node = decode(Buffer.from(DEVICE_JSON), ContentFormat.OLD_JSON, path('/3/0'), oma);
    assert.deepEqual(
      decode(encode(node, JSON_CF, path('/3/0'), oma), JSON_CF, path('/3/0'), oma),
      node,
    );
  });

  it('carries booleans in "bv", object links in "ov", opaque as base64 in "sv"', () => {
    const inst = objectInstance(0, [
      singleResource(6, Value.boolean(true)),
      singleResource(7, Value.string('U')),
    ]);
    const bytes = encode(inst, JSON_CF, path('/1/0'), oma);
    assert.equal(bytes.toString(), '{"bn":"/1/0/","e":[{"n":"6","bv":true},{"n":"7","sv":"U"}]}');
    const link = decode(
      Buffer.from('{"bn":"/66/0/2","e":[{"ov":"67:0"}]}'),
      JSON_CF,
      path('/66/0/2'),
      linkModel,
    );
    assert.deepEqual(link, singleResource(2, Value.objlnk(67, 0)));
    assert.equal(
      encode(link, JSON_CF, path('/66/0/2'), linkModel).toString(),
      '{"bn":"/66/0/2","e":[{"ov":"67:0"}]}',
    );
    const pkg = decode(
      Buffer.from('{"bn":"/5/0/","e":[{"n":"0","sv":"AQID"}]}'),
      JSON_CF,
      path('/5/0/0'),
      oma,
    );
    assert.deepEqual(pkg, singleResource(0, Value.opaque(Buffer.from([1, 2, 3]))));
  });

  it('reads a whole object with relative names', () => {
    const json = '{"bn":"/1/","e":[{"n":"0/0","v":1},{"n":"0/1","v":86400},{"n":"1/0","v":2}]}';
    const node = decode(Buffer.from(json), JSON_CF, path('/1'), oma);
    assert.deepEqual(
      node,
      object(1, [
        objectInstance(0, [
          singleResource(0, Value.integer(1)),
          singleResource(1, Value.integer(86400)),
        ]),
        objectInstance(1, [singleResource(0, Value.integer(2))]),
      ]),
    );
    assert.equal(
      (
        decode(
          Buffer.from('{"bn":"/1/0/","e":[]}'),
          JSON_CF,
          path('/1'),
          oma,
        ) as unknown as Lwm2mObjectInstance
      ).kind,
      'object',
    );
  });

  const bad: Array<[string, string, string]> = [
    ['not JSON', '{"bn":', 'MALFORMED'],
    ['an array document', '[]', 'MALFORMED'],
    ['no "e"', '{"bn":"/3/0/"}', 'MALFORMED'],
    ['an entry that is not an object', '{"bn":"/3/0/","e":[1]}', 'MALFORMED'],
    ['a name that is not a path', '{"bn":"/3/0/","e":[{"n":"x","v":1}]}', 'INVALID_PATH'],
    ['a string for an integer', '{"bn":"/3/0/","e":[{"n":"9","sv":"1"}]}', 'TYPE_MISMATCH'],
    ['a boolean of the wrong JSON type', '{"bn":"/1/0/","e":[{"n":"6","bv":1}]}', 'TYPE_MISMATCH'],
    [
      'an integer past 64 bits',
      '{"bn":"/3/0/","e":[{"n":"9","v":99999999999999999999}]}',
      'VALUE_OUT_OF_RANGE',
    ],
    ['invalid base64 opaque', '{"bn":"/5/0/","e":[{"n":"0","sv":"@@"}]}', 'TYPE_MISMATCH'],
  ];
  for (const [name, json, code] of bad) {
    it(`rejects ${name} with ${code}`, () => {
      const at = json.includes('/5/0/') ? '/5/0' : json.includes('/1/0/') ? '/1/0' : '/3/0';
      assert.equal(
        codeOf(() => decode(Buffer.from(json), JSON_CF, path(at), oma)),
        code,
      );
    });
  }
});
