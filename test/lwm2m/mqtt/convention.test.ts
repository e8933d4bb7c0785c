/**
 * The convention's pure parts: topics, result codes, the CBOR envelope, and the mapping of each
 * operation to its CoAP request and back (LwM2M-TS-Transport 1.2 §8; 1.1 §6 for CoAP).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encode } from 'cbor-x';
import { Code } from '../../../src/coap/code.js';
import type { RequestParams } from '../../../src/coap/request.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import {
  ConventionError,
  coapRequestOf,
  codeOfResult,
  decodeMessage,
  deviceTopic,
  encodeMessage,
  Key,
  kindOf,
  Op,
  parseTopic,
  requestMessage,
  resultOf,
} from '../../../src/lwm2m/mqtt/convention.js';

describe('LwM2M-over-MQTT convention', () => {
  test('topics: devices/{ep}/lwm2m/rd/{ep} is the device topic (T §8.2); the rest of lwm2m/ is reserved', () => {
    assert.equal(deviceTopic('d1'), 'devices/d1/lwm2m/rd/d1');
    assert.deepEqual(parseTopic('devices/d1/lwm2m/rd/d1'), { kind: 'device', endpoint: 'd1' });
    assert.deepEqual(parseTopic('devices/d1/lwm2m/rd/d2'), { kind: 'invalid', owner: 'd1' });
    assert.deepEqual(parseTopic('devices/d1/lwm2m'), { kind: 'invalid', owner: 'd1' });
    assert.deepEqual(parseTopic('devices/d1/lwm2m/bs/d1'), { kind: 'invalid', owner: 'd1' });
    for (const other of [
      'devices/d1/telemetry',
      'devices/d1/lwm2mx/rd/d1',
      'devices',
      'tandem/commands/d1',
      'lwm2m/rd/d1',
    ]) {
      assert.equal(parseTopic(other), undefined, other);
    }
  });

  test('results are CoAP codes as numbers (T §8.4): 2.05 is 205, 4.04 is 404', () => {
    assert.equal(resultOf(Code.Content), 205);
    assert.equal(resultOf(Code.NotFound), 404);
    assert.equal(codeOfResult(201), Code.Created);
    assert.equal(codeOfResult(503), Code.ServiceUnavailable);
    for (const bad of [199, 600, 432, 2.5]) assert.equal(codeOfResult(bad), undefined, `${bad}`);
  });

  test('a message is a CBOR map (T §8.7), also inside tag 259; anything else is a 4.00', () => {
    const tagged = decodeMessage(encode(new Map([[1, 9]])));
    assert.equal(tagged.get(Key.operation), 9);
    for (const bytes of [Buffer.from([0xff]), encode([1]), encode('x'), Buffer.alloc(0)]) {
      assert.throws(
        () => decodeMessage(bytes),
        (e: unknown) => e instanceof ConventionError && e.result === 400,
      );
    }
    assert.throws(
      () => kindOf(new Map([[Key.operation, 99]])),
      (e: unknown) => e instanceof ConventionError && e.result === 501,
    );
  });

  test('each server request maps to its operation and back to the same CoAP request', () => {
    const cases: [RequestParams, boolean, number][] = [
      [{ code: Code.Get, path: '/3/0/0', accept: ContentFormat.SENML_CBOR }, false, Op.read],
      [{ code: Code.Get, path: '/3/0', accept: ContentFormat.LINK }, false, Op.discover],
      [{ code: Code.Get, path: '/3303/0/5700', accept: 110 }, true, Op.observe],
      [
        { code: Code.Put, path: '/3/0/14', contentFormat: 110, payload: Buffer.from('[]') },
        false,
        Op.writeReplace,
      ],
      [
        { code: Code.Post, path: '/3/0', contentFormat: 112, payload: Buffer.from([0x80]) },
        false,
        Op.writePartial,
      ],
      [
        { code: Code.Post, path: '/3303', contentFormat: 112, payload: Buffer.from([0x80]) },
        false,
        Op.create,
      ],
      [
        { code: Code.Put, path: '/3303/0/5700', query: ['pmin=5', 'lt=1.5', 'gt'] },
        false,
        Op.writeAttributes,
      ],
      [{ code: Code.Post, path: '/3/0/4', payload: "0='a'" }, false, Op.execute],
      [{ code: Code.Delete, path: '/3303/1' }, false, Op.delete],
      [
        {
          code: Code.Fetch,
          path: [],
          contentFormat: 112,
          accept: 112,
          payload: Buffer.from([0x80]),
        },
        false,
        Op.readComposite,
      ],
      [
        { code: Code.IPatch, path: [], contentFormat: 112, payload: Buffer.from([0x80]) },
        false,
        Op.writeComposite,
      ],
    ];
    for (const [params, observe, op] of cases) {
      const m = requestMessage(params, 42, observe);
      assert.equal(m.get(Key.operation), op, `${params.code} ${params.path}`);
      assert.equal(m.get(Key.token), 42);
      const back = coapRequestOf(decodeMessage(encodeMessage(m)), op, { endpoint: 'd1' });
      assert.equal(back.method, params.code, `${op}`);
      assert.equal(
        `/${back.path.join('/')}`,
        `/${[params.path].flat().join('/').replace(/^\//, '')}`,
      );
      assert.equal(back.observe, observe ? 0 : undefined);
      if (params.contentFormat !== undefined)
        assert.equal(back.contentFormat, params.contentFormat);
      if (params.payload !== undefined) assert.deepEqual(back.payload, Buffer.from(params.payload));
      // Attributes come back in the order of LwM2M-TS-Core 1.2 §5.1.2, not as sent.
      if (params.query) assert.deepEqual([...back.query].sort(), [...params.query].sort());
    }
  });

  test("Register fields become the query of LwM2M-TS-Transport 1.1 §6.2; ep must be the topic's", () => {
    const m = new Map<number | string, unknown>([
      [Key.operation, Op.register],
      [Key.token, 1],
      [Key.lifetime, 300],
      [Key.version, '1.2'],
      [Key.binding, 'M'],
      ['Q', true],
      [Key.payload, Buffer.from('</3/0>')],
    ]);
    const r = coapRequestOf(decodeMessage(encode(m)), Op.register, { endpoint: 'd1' });
    assert.deepEqual(r.path, ['rd']);
    assert.deepEqual(r.query, ['ep=d1', 'lwm2m=1.2', 'lt=300', 'b=M', 'Q']);
    assert.equal(r.contentFormat, ContentFormat.LINK);
    m.set(Key.ep, 'd2');
    assert.throws(
      () => coapRequestOf(decodeMessage(encode(m)), Op.register, { endpoint: 'd1' }),
      (e: unknown) => e instanceof ConventionError && e.result === 400,
    );
    // An Update without a registration of the client: 4.04, as for an unknown /rd/{id}.
    assert.throws(
      () => coapRequestOf(new Map([[Key.token, 2]]), Op.update, { endpoint: 'd1' }),
      (e: unknown) => e instanceof ConventionError && e.result === 404,
    );
  });
});
