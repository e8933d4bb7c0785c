import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import { CoapFormatError } from '../../src/coap/errors.js';
import { decodeMessage, encodeMessage, MessageType } from '../../src/coap/message.js';
import { OptionNumber } from '../../src/coap/option.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('CoAP message codec (RFC 7252 §3)', () => {
  test('decodes a CON GET with token, Uri-Path options and no payload (RFC 7252 §3)', () => {
    const data = hex(
      `
      44 01 12 34   # ver 1, CON, TKL 4 | 0.01 GET | MID 0x1234
      de ad be ef   # token
      b2 72 64      # Uri-Path (delta 11, length 2) "rd"
      01 78         # Uri-Path (delta 0, length 1) "x"
    `.replace(/#.*$/gm, ''),
    );
    const d = decodeMessage(data);
    assert.ok(d.ok);
    assert.equal(d.message.type, MessageType.Con);
    assert.equal(d.message.code, Code.Get);
    assert.equal(d.message.messageId, 0x1234);
    assert.equal(d.message.token.toString('hex'), 'deadbeef');
    assert.deepEqual(
      d.message.options.map((o) => [o.number, o.value.toString()]),
      [
        [11, 'rd'],
        [11, 'x'],
      ],
    );
    assert.equal(d.message.payload.length, 0);
    assert.deepEqual(encodeMessage(d.message), data);
  });

  test('round-trips extended option deltas and lengths (RFC 7252 §3.1)', () => {
    const message = {
      type: MessageType.Non,
      code: Code.Content,
      messageId: 7,
      token: Buffer.from('01', 'hex'),
      options: [
        { number: OptionNumber.ContentFormat, value: Buffer.from([0x2d, 0x16]) },
        { number: OptionNumber.LocationQuery, value: Buffer.alloc(20, 0x61) },
        { number: OptionNumber.Size1, value: Buffer.from([1, 0]) },
        { number: 2049, value: Buffer.alloc(300, 0x62) },
      ],
      payload: Buffer.from('hello'),
    } as const;
    const d = decodeMessage(encodeMessage(message));
    assert.ok(d.ok);
    assert.deepEqual(d.message, { ...message, options: [...message.options] });
  });

  test('decodes an empty ACK and a ping (RFC 7252 §4.1)', () => {
    const d = decodeMessage(hex('60 00 00 2a'));
    assert.ok(d.ok);
    assert.equal(d.message.type, MessageType.Ack);
    assert.equal(d.message.code, Code.Empty);
    assert.equal(d.message.messageId, 42);
  });

  const malformed: [string, string, boolean][] = [
    ['shorter than the header', '40 01 00', false],
    ['token length 9 (RFC 7252 §3)', '49 01 00 01 01 02 03 04 05 06 07 08 09', true],
    ['token length 15 (RFC 7252 §3)', '4f 01 00 01', true],
    ['truncated token', '44 01 00 01 aa bb', true],
    ['payload marker with an empty payload (RFC 7252 §3)', '40 01 00 01 ff', true],
    ['option delta 15 that is not a payload marker (RFC 7252 §3.1)', '40 01 00 01 f1 00', true],
    ['option length 15 (RFC 7252 §3.1)', '40 01 00 01 bf 00', true],
    ['option value past the end', '40 01 00 01 b5 61 62', true],
    ['truncated extended delta', '40 01 00 01 d0', true],
    ['truncated extended length', '40 01 00 01 0e 01', true],
    ['option number above 65535', '40 01 00 01 e0 ff ff e0 ff ff', true],
    ['empty message with a token (RFC 7252 §4.1)', '41 00 00 01 aa', true],
    ['empty message with bytes after the header (RFC 7252 §4.1)', '40 00 00 01 ff 61', true],
  ];
  for (const [name, bytes, headerKnown] of malformed) {
    test(`rejects ${name} as a format error without throwing`, () => {
      const d = decodeMessage(hex(bytes));
      assert.equal(d.ok, false);
      if (d.ok) return;
      assert.ok(d.error instanceof CoapFormatError);
      assert.equal(d.error.code, 'COAP_ERR_FORMAT');
      assert.equal(d.error.messageId !== undefined, headerKnown);
      if (headerKnown) assert.equal(d.error.messageId, 1);
      assert.equal(d.error.silent, false);
    });
  }

  test('marks an unknown version as to be silently ignored (RFC 7252 §3)', () => {
    const d = decodeMessage(hex('80 01 00 05'));
    assert.equal(d.ok, false);
    if (!d.ok) assert.equal(d.error.silent, true);
  });

  test('never throws on random datagrams (RFC 7252 §3: hostile input)', () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    for (let n = 0; n < 3000; n++) {
      const len = Math.floor(rnd() * 40);
      const buf = Buffer.alloc(len);
      for (let i = 0; i < len; i++) buf[i] = Math.floor(rnd() * 256);
      if (len > 0) buf[0] = (buf[0]! & 0x3f) | 0x40;
      const d = decodeMessage(buf);
      if (d.ok) {
        // Whatever decodes must encode back to the same bytes.
        assert.deepEqual(encodeMessage(d.message), buf);
      }
    }
  });
});
