import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeBlock, encodeBlock, szxOf } from '../../src/coap/block-option.js';
import { codeString, parseCode } from '../../src/coap/code.js';
import {
  decodeUint,
  encodeUint,
  findUnrecognisedCritical,
  isCritical,
  OptionNumber,
  pathSegments,
} from '../../src/coap/option.js';

describe('CoAP options (RFC 7252 §3.2, §5.4, RFC 7959 §2.2)', () => {
  test('encodes uint options in the fewest bytes, zero as empty (RFC 7252 §3.2)', () => {
    assert.equal(encodeUint(0).length, 0);
    assert.deepEqual(encodeUint(60), Buffer.from([60]));
    assert.deepEqual(encodeUint(11542), Buffer.from([0x2d, 0x16]));
    assert.deepEqual(encodeUint(0x01000000), Buffer.from([1, 0, 0, 0]));
    assert.equal(decodeUint(Buffer.from([0x2d, 0x16])), 11542);
    assert.equal(decodeUint(Buffer.alloc(0)), 0);
    assert.throws(() => encodeUint(-1), RangeError);
  });

  test('tells critical from elective options by the lowest bit (RFC 7252 §5.4.6)', () => {
    assert.equal(isCritical(OptionNumber.UriPath), true);
    assert.equal(isCritical(OptionNumber.ContentFormat), false);
    assert.equal(isCritical(OptionNumber.Block2), true);
  });

  test('flags critical options that are unknown, repeated or of a bad length (RFC 7252 §5.4.1, §5.4.3, §5.4.5)', () => {
    const o = (number: number, len = 1) => ({ number, value: Buffer.alloc(len) });
    assert.equal(findUnrecognisedCritical([o(11), o(11), o(15)]), undefined);
    assert.equal(findUnrecognisedCritical([o(9)]), 9);
    assert.equal(findUnrecognisedCritical([o(9)], new Set([9])), undefined);
    assert.equal(findUnrecognisedCritical([o(17), o(17)]), 17);
    assert.equal(findUnrecognisedCritical([o(23, 4)]), 23);
    assert.equal(findUnrecognisedCritical([o(2050)]), undefined, 'elective options are ignored');
  });

  test('names codes as c.dd (RFC 7252 §5.9)', () => {
    assert.equal(codeString(0x45), '2.05');
    assert.equal(codeString(0x8d), '4.13');
    assert.equal(parseCode('2.31'), 0x5f);
    assert.equal(parseCode('2.32'), undefined);
  });

  test('splits paths into Uri-Path segments', () => {
    assert.deepEqual(pathSegments('/3/0/1'), ['3', '0', '1']);
    assert.deepEqual(pathSegments('/'), []);
    assert.deepEqual(pathSegments(['rd', 'x']), ['rd', 'x']);
  });

  test('reads block options as the RFC writes them: 33 is 2/0/32 and 59 is 3/1/128 (RFC 7959 §2.2, §3)', () => {
    assert.deepEqual(decodeBlock(Buffer.from([33])), { num: 2, more: false, szx: 1 });
    assert.deepEqual(decodeBlock(Buffer.from([59])), { num: 3, more: true, szx: 3 });
    assert.deepEqual(encodeBlock({ num: 3, more: true, szx: 3 }), Buffer.from([59]));
    assert.deepEqual(encodeBlock({ num: 0, more: false, szx: 0 }), Buffer.alloc(0));
    assert.deepEqual(decodeBlock(Buffer.alloc(0)), { num: 0, more: false, szx: 0 });
    assert.deepEqual(decodeBlock(Buffer.from([0xff, 0xff, 0xf6])), {
      num: 0xfffff,
      more: false,
      szx: 6,
    });
    assert.equal(decodeBlock(Buffer.from([0x07])), undefined, 'SZX 7 is reserved');
    assert.equal(decodeBlock(Buffer.from([1, 2, 3, 4])), undefined, 'at most 3 bytes');
    assert.equal(szxOf(1024), 6);
    assert.equal(szxOf(100), undefined);
  });
});
