import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CodecError } from '../../../src/lwm2m/codec/codec-error.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import { decode, encode } from '../../../src/lwm2m/codec/lwm2m-codec.js';
import { EMPTY_MODEL } from '../../../src/lwm2m/model/object-model.js';
import {
  multipleResource,
  resourceInstance,
  singleResource,
} from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../../../src/lwm2m/node/lwm2m-path.js';
import type { Lwm2mValue } from '../../../src/lwm2m/node/lwm2m-value.js';
import { Value } from '../../../src/lwm2m/node/lwm2m-value.js';
import { linkModel, oma } from './vectors.js';

const path = Lwm2mPath.parse;
const TEXT = ContentFormat.TEXT;
const OPAQUE = ContentFormat.OPAQUE;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CodecError, `expected CodecError, got ${e}`);
    return e.code;
  }
  assert.fail('expected a CodecError');
}

describe('text/plain (LwM2M-TS-Core 1.1 §7.4.1, Appendix C)', () => {
  const cases: Array<[string, string, Lwm2mValue]> = [
    ['/3/0/0', 'Open Mobile Alliance', Value.string('Open Mobile Alliance')],
    ['/3/0/9', '100', Value.integer(100)],
    ['/3/0/9', '-9223372036854775808', Value.integer(-(2n ** 63n))],
    ['/3303/0/5700', '-12.25', Value.float(-12.25)],
    ['/1/0/6', '1', Value.boolean(true)],
    ['/1/0/6', '0', Value.boolean(false)],
    ['/3/0/13', '1367491215', Value.time(1367491215)],
    ['/5/0/0', 'AQIDBAU=', Value.opaque(Buffer.from([1, 2, 3, 4, 5]))],
    ['/66/0/2', '67:0', Value.objlnk(67, 0)],
  ];
  for (const [at, text, value] of cases) {
    it(`reads and writes ${value.type} ${text} at ${at}`, () => {
      const node = decode(Buffer.from(text), TEXT, path(at), linkModel);
      assert.deepEqual(node, singleResource(path(at).resourceId!, value));
      assert.equal(encode(node, TEXT, path(at), linkModel).toString(), text);
    });
  }

  it('reads a resource instance and a resource unknown to the model as a string', () => {
    assert.deepEqual(
      decode(Buffer.from('5'), TEXT, path('/3/0/6/1'), oma),
      resourceInstance(1, Value.integer(5)),
    );
    assert.deepEqual(
      decode(Buffer.from('5'), TEXT, path('/9999/0/1'), EMPTY_MODEL),
      singleResource(1, Value.string('5')),
    );
  });

  it('writes a value converted to the model type', () => {
    assert.equal(
      encode(singleResource(13, Value.integer(10)), TEXT, path('/3/0/13'), oma).toString(),
      '10',
    );
    assert.equal(
      encode(singleResource(5700, Value.integer(10)), TEXT, path('/3303/0/5700'), oma).toString(),
      '10',
    );
  });

  const bad: Array<[string, string, string]> = [
    ['/3/0/9', '12a', 'TYPE_MISMATCH'],
    ['/3/0/9', '9223372036854775808', 'VALUE_OUT_OF_RANGE'],
    ['/3/0/9', '', 'TYPE_MISMATCH'],
    ['/3303/0/5700', '1e999', 'VALUE_OUT_OF_RANGE'],
    ['/3303/0/5700', 'NaN', 'TYPE_MISMATCH'],
    ['/1/0/6', 'true', 'TYPE_MISMATCH'],
    ['/5/0/0', "!,-INVALID$_'", 'TYPE_MISMATCH'],
    ['/66/0/2', '67:70000', 'TYPE_MISMATCH'],
    ['/3/0', 'x', 'NOT_ACCEPTABLE'],
    ['/3/0/6', '1', 'NOT_ACCEPTABLE'],
  ];
  for (const [at, text, code] of bad) {
    it(`rejects "${text}" at ${at} with ${code}`, () => {
      assert.equal(
        codeOf(() => decode(Buffer.from(text), TEXT, path(at), linkModel)),
        code,
      );
    });
  }

  it('rejects invalid UTF-8', () => {
    assert.equal(
      codeOf(() => decode(Buffer.from([0xc3, 0x28]), TEXT, path('/3/0/0'), oma)),
      'INVALID_UTF8',
    );
  });

  it('decodes ASCII and multi-byte UTF-8 strings alike (RFC 3629)', () => {
    for (const text of ['Tandem', '', 'Zürich 温度 ✓', 'x'.repeat(40)]) {
      const node = decode(Buffer.from(text, 'utf8'), TEXT, path('/3/0/0'), oma);
      assert.deepEqual(node, singleResource(0, { type: 'string', value: text }));
    }
  });

  it('refuses to write a multiple resource (4.06)', () => {
    const r = multipleResource(6, 'integer', [resourceInstance(0, Value.integer(1))]);
    assert.equal(
      codeOf(() => encode(r, TEXT, path('/3/0/6'), oma)),
      'NOT_ACCEPTABLE',
    );
  });
});

describe('application/octet-stream (LwM2M-TS-Core 1.1 §7.4.2)', () => {
  it('reads and writes the raw bytes of an Opaque resource', () => {
    const bytes = Buffer.from([0, 1, 0xff]);
    const node = decode(bytes, OPAQUE, path('/5/0/0'), oma);
    assert.deepEqual(node, singleResource(0, Value.opaque(bytes)));
    assert.deepEqual(encode(node, OPAQUE, path('/5/0/0'), oma), bytes);
    assert.deepEqual(
      decode(Buffer.alloc(0), OPAQUE, path('/5/0/0'), oma),
      singleResource(0, Value.opaque(Buffer.alloc(0))),
    );
  });

  it('refuses a resource that is not Opaque, and a non-resource path (4.06)', () => {
    assert.equal(
      codeOf(() => decode(Buffer.from('1'), OPAQUE, path('/3/0/9'), oma)),
      'NOT_ACCEPTABLE',
    );
    assert.equal(
      codeOf(() => decode(Buffer.from('1'), OPAQUE, path('/5/0'), oma)),
      'NOT_ACCEPTABLE',
    );
    assert.equal(
      codeOf(() =>
        encode(singleResource(9, Value.integer(1)), OPAQUE, path('/3/0/9'), EMPTY_MODEL),
      ),
      'NOT_ACCEPTABLE',
    );
  });
});
