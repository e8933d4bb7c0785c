import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Decoder } from 'cbor-x';
import { CodecError } from '../../../src/lwm2m/codec/codec-error.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import {
  decode,
  decodeComposite,
  encode,
  encodeComposite,
} from '../../../src/lwm2m/codec/lwm2m-codec.js';
import { formatSenmlCbor, parseSenmlCbor } from '../../../src/lwm2m/codec/senml-cbor.js';
import { parseSenmlJson } from '../../../src/lwm2m/codec/senml-json.js';
import { EMPTY_MODEL } from '../../../src/lwm2m/model/object-model.js';
import { resourceInstance, singleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../../../src/lwm2m/node/lwm2m-path.js';
import { Value } from '../../../src/lwm2m/node/lwm2m-value.js';
import { hex, linkModel, oma } from './vectors.js';

const path = Lwm2mPath.parse;
const SENML_CBOR = ContentFormat.SENML_CBOR;
// An independent CBOR reader, so that our writer and our reader cannot share one mistake.
const cborx = new Decoder({ mapsAsObjects: false, useRecords: false });

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CodecError, `expected CodecError, got ${e}`);
    return e.code;
  }
  assert.fail('expected a CodecError');
}

// LwM2M-TS-Core 1.1 §7.4.5: the Device instance of the §7.4.4 example in SenML CBOR
// (labels of RFC 8428 §6 Table 4: bn = -2 → 0x21, n = 0, v = 2, vs = 3). Not re-read against
// the TS here (its stored copy holds only the front matter): these bytes are the SenML JSON
// example under the Table 4 labels, in preferred serialization (RFC 8949 §4.1).
const DEVICE_SENML_CBOR = hex(`
  90                                                | array(16)
  a3 21 65 2f332f302f 00 61 30 03 74 4f70656e204d6f62696c6520416c6c69616e6365
                                                    | {bn:"/3/0/", n:"0", vs:"Open Mobile Alliance"}
  a2 00 61 31 03 76 4c69676874776569676874204d324d20436c69656e74 | {n:"1", vs:"Lightweight M2M Client"}
  a2 00 61 32 03 69 333435303030313233              | {n:"2", vs:"345000123"}
  a2 00 61 33 03 63 312e30                          | {n:"3", vs:"1.0"}
  a2 00 63 362f30 02 01                             | {n:"6/0", v:1}
  a2 00 63 362f31 02 05                             | {n:"6/1", v:5}
  a2 00 63 372f30 02 19 0ed8                        | {n:"7/0", v:3800}
  a2 00 63 372f31 02 19 1388                        | {n:"7/1", v:5000}
  a2 00 63 382f30 02 18 7d                          | {n:"8/0", v:125}
  a2 00 63 382f31 02 19 0384                        | {n:"8/1", v:900}
  a2 00 61 39 02 18 64                              | {n:"9", v:100}
  a2 00 62 3130 02 0f                               | {n:"10", v:15}
  a2 00 64 31312f30 02 00                           | {n:"11/0", v:0}
  a2 00 62 3133 02 1a 5182428f                      | {n:"13", v:1367491215}
  a2 00 62 3134 03 66 2b30323a3030                  | {n:"14", vs:"+02:00"}
  a2 00 62 3136 03 61 55                            | {n:"16", vs:"U"}
`);

// RFC 8428 §6: the §5.1.2 example in SenML CBOR (bver -1, bn -2, bt -3, bu -4, n 0, u 1, v 2,
// t 6), floats in their shortest exact width (1.5 as binary16). Checked byte for byte against
// the RFC's dump (0x00 to 0xc2). The dump gives the last record "6: 0" (t = 0), which the JSON
// of §5.1.2 leaves out: the same record, since a missing time is zero (§4.5.3).
const RFC8428_CBOR = hex(`
  87 a7 21 78 1b 75726e3a6465763a6f773a3130653230373361303130383030363a | bn "urn:dev:ow:10e2073a0108006:"
  22 fb 41d303a15b001062                            | bt 1276020076.001
  23 61 41                                          | bu "A"
  20 05                                             | bver 5
  00 67 766f6c74616765  01 61 56  02 fb 405e066666666666 | n "voltage", u "V", v 120.1
  a3 00 67 63757272656e74 06 24 02 fb 3ff3333333333333 | n "current", t -5, v 1.2
  a3 00 67 63757272656e74 06 23 02 fb 3ff4cccccccccccd | t -4, v 1.3
  a3 00 67 63757272656e74 06 22 02 fb 3ff6666666666666 | t -3, v 1.4
  a3 00 67 63757272656e74 06 21 02 f9 3e00             | t -2, v 1.5
  a3 00 67 63757272656e74 06 20 02 fb 3ff999999999999a | t -1, v 1.6
  a3 00 67 63757272656e74 06 00 02 fb 3ffb333333333333 | t 0, v 1.7
`);

const DEVICE_TLV = hex(`
  C800144F70656E204D6F62696C6520416C6C69616E6365 C801164C69676874776569676874204D324D20436C69656E74
  C80209333435303030313233 C303312E30 86064100014101 05 88070842000ED842011388 870841007D42010384
  C10964 C10A0F 830B410000 C40D5182428F C60E2B30323A3030 C11055`);

describe('SenML CBOR spec vectors', () => {
  it('decodes the Device object instance SenML CBOR example (LwM2M-TS-Core 1.1 §7.4.5)', () => {
    const node = decode(DEVICE_SENML_CBOR, SENML_CBOR, path('/3/0'), oma);
    assert.deepEqual(node, decode(DEVICE_TLV, ContentFormat.TLV, path('/3/0'), oma));
  });

  it('encodes the Device object instance SenML CBOR example byte for byte (LwM2M-TS-Core 1.1 §7.4.5)', () => {
    const node = decode(DEVICE_TLV, ContentFormat.TLV, path('/3/0'), oma);
    const bytes = encode(node, SENML_CBOR, path('/3/0'), oma);
    assert.equal(bytes.toString('hex'), DEVICE_SENML_CBOR.toString('hex'));
    const independent = cborx.decode(bytes) as Map<number, unknown>[];
    assert.equal(independent.length, 16);
    assert.equal(independent[0]!.get(-2), '/3/0/');
  });

  it('round-trips the Device example through SenML CBOR (LwM2M-TS-Core 1.1 §7.4.5)', () => {
    const node = decode(DEVICE_SENML_CBOR, SENML_CBOR, path('/3/0'), oma);
    assert.deepEqual(
      decode(encode(node, SENML_CBOR, path('/3/0'), oma), SENML_CBOR, path('/3/0'), oma),
      node,
    );
  });

  it('decodes, encodes and round-trips the RFC 8428 §6 CBOR example byte for byte', () => {
    const records = parseSenmlCbor(RFC8428_CBOR);
    assert.equal(records.length, 7);
    assert.deepEqual(records[0], {
      bn: 'urn:dev:ow:10e2073a0108006:',
      bt: 1276020076.001,
      bu: 'A',
      bver: 5,
      n: 'voltage',
      u: 'V',
      v: 120.1,
      vFloat: true,
    });
    assert.deepEqual(records[4], { n: 'current', t: -2, v: 1.5, vFloat: true });
    assert.deepEqual(records[6], { n: 'current', t: 0, v: 1.7, vFloat: true });
    assert.equal(formatSenmlCbor(records).toString('hex'), RFC8428_CBOR.toString('hex'));
    const independent = cborx.decode(RFC8428_CBOR) as Map<number, unknown>[];
    assert.equal(independent[4]!.get(2), 1.5);
  });
});

// RFC 8428 §5.1.2, second example, as printed.
const RFC8428_JSON = `[
     {"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,
      "bu":"A","bver":5,
      "n":"voltage","u":"V","v":120.1},
     {"n":"current","t":-5,"v":1.2},
     {"n":"current","t":-4,"v":1.3},
     {"n":"current","t":-3,"v":1.4},
     {"n":"current","t":-2,"v":1.5},
     {"n":"current","t":-1,"v":1.6},
     {"n":"current","v":1.7}
   ]`;

describe('SenML JSON and SenML CBOR agree (RFC 8428 §6)', () => {
  it('RFC 8428 §6: the §5.1.2 JSON example written as CBOR is the §6 dump', () => {
    const records = parseSenmlJson(Buffer.from(RFC8428_JSON));
    // The dump writes the last record's zero time out (see RFC8428_CBOR).
    records[6]!.t = 0;
    assert.equal(formatSenmlCbor(records).toString('hex'), RFC8428_CBOR.toString('hex'));
  });

  it('RFC 8428 §6: the §6 dump read back is the §5.1.2 JSON example, field for field', () => {
    const fromCbor = parseSenmlCbor(RFC8428_CBOR).map(({ vFloat: _f, ...r }) => r);
    const fromJson = parseSenmlJson(Buffer.from(RFC8428_JSON));
    fromJson[6]!.t = 0;
    assert.deepEqual(fromCbor, fromJson);
  });
});

// An object link in SenML CBOR, as the TS editor wrote it in answer to
// https://github.com/OpenMobileAlliance/OMA_LwM2M_for_Developers/issues/484 (the TS itself gives
// no such example): [{"n":"/65/0/0/0","vlo":"66:0"}], "vlo" a text key (LwM2M-TS-Core 1.1 §7.4.5).
const OBJLNK_SENML_CBOR = hex(`
  81                        | array(1)
  a2                        | map(2)
  00 69 2f36352f302f302f30  | n: "/65/0/0/0"
  63 766c6f 64 36363a30     | "vlo": "66:0"
`);

describe('SenML CBOR object links (OMA_LwM2M_for_Developers#484)', () => {
  it('decodes the object link example to /65/0/0/0 = 66:0, and our encoding decodes the same', () => {
    const at = path('/65/0/0/0');
    const node = decode(OBJLNK_SENML_CBOR, SENML_CBOR, at, linkModel);
    assert.deepEqual(node, resourceInstance(0, Value.objlnk(66, 0)));
    // We write a lone value's path as the base name, as the TS's single-resource examples do
    // ({-2: "/65/0/0/0", "vlo": "66:0"}); the example uses the name. RFC 8428 §4.5.1 makes both
    // the same record (the name is base name + name), so this is decode-only, and our bytes
    // must read back to the same node.
    const ours = encode(node, SENML_CBOR, at, linkModel);
    assert.equal(ours.toString('hex'), '81a221692f36352f302f302f3063766c6f6436363a30');
    assert.deepEqual(decode(ours, SENML_CBOR, at, linkModel), node);
    assert.deepEqual(cborx.decode(ours), [
      new Map<unknown, unknown>([
        [-2, '/65/0/0/0'],
        ['vlo', '66:0'],
      ]),
    ]);
  });
});

describe('SenML CBOR values (LwM2M-TS-Core 1.1 §7.4.5)', () => {
  it('writes a Float resource as a float even without a fraction, an Integer as an integer', () => {
    const f = encode(singleResource(5700, Value.float(22)), SENML_CBOR, path('/3303/0/5700'), oma);
    assert.equal(f.toString('hex'), '81a2216c2f333330332f302f3537303002f94d80');
    assert.equal(cborx.decode(f)[0].get(2), 22);
    const i = encode(singleResource(9, Value.integer(22)), SENML_CBOR, path('/3/0/9'), oma);
    assert.equal(i.toString('hex'), '81a221662f332f302f39' + '0216');
  });

  it('carries opaque as a byte string, object links as "vlo", booleans and 64-bit integers', () => {
    const entries = [
      { path: path('/5/0/0'), value: Value.opaque(Buffer.from([1, 2, 3])) },
      { path: path('/66/0/2'), value: Value.objlnk(67, 0) },
      { path: path('/1/0/6'), value: Value.boolean(true) },
      { path: path('/3/0/9'), value: Value.integer(-(2n ** 63n)) },
    ];
    const bytes = encodeComposite(entries, SENML_CBOR, linkModel);
    const back = decodeComposite(bytes, SENML_CBOR, linkModel);
    assert.deepEqual(back, entries);
    const independent = cborx.decode(bytes) as Map<unknown, unknown>[];
    assert.deepEqual([...(independent[0]!.get(8) as Uint8Array)], [1, 2, 3]);
    assert.equal(independent[1]!.get('vlo'), '67:0');
    assert.equal(independent[3]!.get(2), -(2n ** 63n));
  });
});

describe('SenML CBOR base value (RFC 8428 §4.5.4, §6 Table 4 label -5)', () => {
  it('adds bv to v: [{-2: "/3303/0/", -5: 20, 0: "5700", 2: 1.5}] is 21.5', () => {
    const bytes = hex('81 a4 21 68 2f 33 33 30 33 2f 30 2f 24 14 00 64 35 37 30 30 02 f9 3e 00');
    const node = decode(bytes, ContentFormat.SENML_CBOR, Lwm2mPath.parse('/3303/0/5700'), oma);
    assert.deepEqual(node, singleResource(5700, Value.float(21.5)));
    assert.deepEqual(formatSenmlCbor(parseSenmlCbor(bytes)), bytes);
  });
});

describe('SenML CBOR hostile input', () => {
  const cases: Array<[string, string, string]> = [
    ['an empty payload', '', 'TRUNCATED'],
    ['a map instead of an array', 'a0', 'MALFORMED'],
    ['an array of integers', '8101', 'MALFORMED'],
    ['a text string longer than the payload', '81a1006a2f33', 'LENGTH_OUT_OF_BOUNDS'],
    ['an array claiming 2^32 records', '9bffffffffffffffff', 'LENGTH_OUT_OF_BOUNDS'],
    ['an array claiming 4 billion records in 1 byte', '9affffffff00', 'TRUNCATED'],
    ['a name of the wrong type', '81a10001', 'TYPE_MISMATCH'],
    ['a text value cut short', '81a200662f332f302f390362', 'LENGTH_OUT_OF_BOUNDS'],
    ['a boolean for v', '81a200662f332f302f3902f5', 'TYPE_MISMATCH'],
    ['invalid UTF-8 in a name', '81a10062c328', 'INVALID_UTF8'],
    ['an array inside a record', '81a100818100', 'NESTING_TOO_DEEP'],
    ['a tag around the pack', 'c081a0', 'MALFORMED'],
    ['a tag on a name', '81a100c06161', 'TYPE_MISMATCH'],
    ['reserved additional information', '81a1001c', 'MALFORMED'],
    ['an undefined simple value', '81a100f0', 'TYPE_MISMATCH'],
    ['a duplicate map key', '81a2000000', 'MALFORMED'],
    ['a lone break', 'ff', 'MALFORMED'],
    ['trailing bytes', '80 00', 'TRAILING_BYTES'],
    ['a NaN value', '81a200662f332f302f3902f97e00', 'VALUE_OUT_OF_RANGE'],
    ['a string for an integer resource', '81a200662f332f302f39036131', 'TYPE_MISMATCH'],
    // RFC 8428 §4.4: {bver: 11, n: "/3/0/9", v: 1} is of a version above ours (10).
    ['a pack of SenML version 11 (RFC 8428 §4.4)', '81a320 0b 00662f332f302f39 0201', 'MALFORMED'],
  ];
  for (const [name, bytes, code] of cases) {
    it(`rejects ${name} with ${code}`, () => {
      assert.equal(
        codeOf(() => decode(hex(bytes), SENML_CBOR, path('/3/0'), oma)),
        code,
      );
    });
  }

  it('never throws anything but CodecError on mutated input', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let n = 0; n < 3000; n++) {
      const bytes = Buffer.from(
        DEVICE_SENML_CBOR.subarray(0, rand() % (DEVICE_SENML_CBOR.length + 1)),
      );
      for (let k = 0; k < 3; k++) if (bytes.length) bytes[rand() % bytes.length] = rand() & 0xff;
      for (const at of ['/3', '/3/0', '/3/0/6']) {
        try {
          decode(bytes, SENML_CBOR, path(at), oma);
          decodeComposite(bytes, SENML_CBOR, oma);
        } catch (e) {
          assert.ok(e instanceof CodecError, `${bytes.toString('hex')}: ${e}`);
        }
      }
    }
  });
});

describe('SenML CBOR as other implementations write it (Anjay Lite tests/anj/io/senml_cbor_encoder.c)', () => {
  const entries = (bytes: string) => decodeComposite(hex(bytes), SENML_CBOR, EMPTY_MODEL);

  it('reads a Send record with a float base time', () => {
    // [{0: "/3/3/3", -3: 100000.0 (binary32), 2: 25}]
    assert.deepEqual(entries('81 a3 00 66 2f332f332f33 22 fa 47c35000 02 18 19'), [
      { path: path('/3/3/3'), value: Value.integer(25), time: 100000 },
    ]);
  });

  it('reads a base name plus a name that starts with a slash', () => {
    // [{-2: "/3/3", 0: "/3", 2: 25}]
    assert.deepEqual(entries('81 a3 21 64 2f332f33 00 62 2f33 02 18 19'), [
      { path: path('/3/3/3'), value: Value.integer(25) },
    ]);
  });

  it('reads a Time value tagged as epoch time (tag 1)', () => {
    // [{0: "/77/77/77/77", 2: 1(1000000)}]
    const [e] = entries('81 a2 00 6c 2f37372f37372f37372f3737 02 c1 1a 000f4240');
    assert.deepEqual(e?.value, Value.time(1000000));
    // With the model saying Time, and with a plain integer, the result is the same.
    const [d] = decodeComposite(
      hex('81 a2 00 67 2f332f302f3133 02 c1 1a 000f4240'),
      SENML_CBOR,
      oma,
    );
    assert.deepEqual(d?.value, Value.time(1000000));
  });

  it('reads negative integers, binary32 and binary64 floats, text, bytes and vlo', () => {
    const cases: Array<[string, unknown]> = [
      ['81 a2 00 6c 2f37372f37372f37372f3737 02 39 03e7', Value.integer(-1000)],
      ['81 a2 00 6c 2f37372f37372f37372f3737 02 1a ffffffff', Value.integer(4294967295)],
      ['81 a2 00 66 2f372f372f37 04 f5', Value.boolean(true)],
      ['81 a2 00 66 2f372f372f37 02 fa 47c35000', Value.float(100000)],
      ['81 a2 00 66 2f372f372f37 02 fa 47c35001', Value.float(100000.0078125)],
      ['81 a2 00 66 2f372f372f37 02 fb c010666666666666', Value.float(-4.1)],
      ['81 a2 00 66 2f372f372f37 03 6a 44444444444444444444', Value.string('DDDDDDDDDD')],
      [
        '81 a2 00 66 2f372f372f37 08 4a 44444444444444444444',
        Value.opaque(Buffer.from('DDDDDDDDDD')),
      ],
      ['81 a2 00 66 2f372f372f37 03 7f 6a 44444444444444444444 ff', Value.string('DDDDDDDDDD')],
      ['81 a2 00 66 2f372f372f37 63 766c6f 6b 36353533343a3635353334', Value.objlnk(65534, 65534)],
    ];
    for (const [bytes, value] of cases) {
      assert.deepEqual(entries(bytes)[0]?.value, value, bytes);
    }
  });
});
