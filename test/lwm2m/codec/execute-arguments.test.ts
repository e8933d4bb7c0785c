import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CodecError } from '../../../src/lwm2m/codec/codec-error.js';
import {
  formatExecuteArguments,
  parseExecuteArguments,
} from '../../../src/lwm2m/codec/execute-arguments.js';

describe('Execute arguments (LwM2M-TS 1.0 §5.4.5)', () => {
  it("reads the spec's example shape: 0='value',1", () => {
    const args = parseExecuteArguments(
      Buffer.from("0='https://example.org/fw',1,3='a!#$%&()*+-./:;<=>?@[]^_`{|}~'"),
    );
    assert.deepEqual(
      [...args],
      [
        [0, 'https://example.org/fw'],
        [1, undefined],
        [3, 'a!#$%&()*+-./:;<=>?@[]^_`{|}~'],
      ],
    );
    assert.equal(
      formatExecuteArguments(args).toString(),
      "0='https://example.org/fw',1,3='a!#$%&()*+-./:;<=>?@[]^_`{|}~'",
    );
  });

  it('reads an empty payload as no argument', () => {
    assert.equal(parseExecuteArguments('').size, 0);
    assert.equal(formatExecuteArguments(new Map()).length, 0);
  });

  for (const bad of ['a', '10', "0='x", '0=x', "0='a b'", '0,', '0,0', '0;1', "0='\"'", ',']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => parseExecuteArguments(bad),
        (e: unknown) => e instanceof CodecError && e.coapCode === '4.00',
      );
    });
  }

  it('refuses to write an argument outside 0..9 or a value outside argval', () => {
    assert.throws(() => formatExecuteArguments(new Map([[10, undefined]])), CodecError);
    assert.throws(() => formatExecuteArguments(new Map([[0, "it's"]])), CodecError);
  });
});
