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
import { formatSenmlJson, parseSenmlJson } from '../../../src/lwm2m/codec/senml-json.js';
import { EMPTY_MODEL } from '../../../src/lwm2m/model/object-model.js';
import type {
  Lwm2mObjectInstance,
  Lwm2mSingleResource,
} from '../../../src/lwm2m/node/lwm2m-node.js';
import {
  multipleResource,
  objectInstance,
  resourceInstance,
  singleResource,
} from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../../../src/lwm2m/node/lwm2m-path.js';
import { Value } from '../../../src/lwm2m/node/lwm2m-value.js';
import { hex, linkModel, oma } from './vectors.js';

const path = Lwm2mPath.parse;
const SENML_JSON = ContentFormat.SENML_JSON;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CodecError, `expected CodecError, got ${e}`);
    return e.code;
  }
  assert.fail('expected a CodecError');
}

// LwM2M-TS-Core 1.1 §7.4.4 (SenML JSON example): Read on /3/0, the Device object instance of
// §7.4.3's TLV example. Not re-read against the TS here (its stored copy holds only the front
// matter); Eclipse Leshan's decoder test senml_json_decode_device_object_instance has the same
// text byte for byte.
const DEVICE_SENML_JSON =
  '[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},' +
  '{"n":"1","vs":"Lightweight M2M Client"},' +
  '{"n":"2","vs":"345000123"},' +
  '{"n":"3","vs":"1.0"},' +
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
  '{"n":"14","vs":"+02:00"},' +
  '{"n":"16","vs":"U"}]';

// The same instance in TLV (LwM2M-TS-Core 1.0 §6.4.3.1), so both formats decode to one node.
const DEVICE_TLV = hex(`
  C800144F70656E204D6F62696C6520416C6C69616E6365 C801164C69676874776569676874204D324D20436C69656E74
  C80209333435303030313233 C303312E30 86064100014101 05 88070842000ED842011388 870841007D42010384
  C10964 C10A0F 830B410000 C40D5182428F C60E2B30323A3030 C11055`);

// RFC 8428 §5.1.2, second example: base name, base time, base unit and relative times.
const RFC8428_MULTIPLE = `[
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

describe('SenML JSON spec vectors', () => {
  it('decodes the Device object instance SenML JSON example (LwM2M-TS-Core 1.1 §7.4.4)', () => {
    const node = decode(Buffer.from(DEVICE_SENML_JSON), SENML_JSON, path('/3/0'), oma);
    const fromTlv = decode(DEVICE_TLV, ContentFormat.TLV, path('/3/0'), oma);
    assert.deepEqual(node, fromTlv);
    const inst = node as Lwm2mObjectInstance;
    assert.deepEqual((inst.resources.get(13) as Lwm2mSingleResource).value, Value.time(1367491215));
  });

  it('encodes the Device object instance SenML JSON example byte for byte (LwM2M-TS-Core 1.1 §7.4.4)', () => {
    const node = decode(DEVICE_TLV, ContentFormat.TLV, path('/3/0'), oma);
    assert.equal(encode(node, SENML_JSON, path('/3/0'), oma).toString(), DEVICE_SENML_JSON);
  });

  it('round-trips the Device example through SenML JSON (LwM2M-TS-Core 1.1 §7.4.4)', () => {
    const node = decode(Buffer.from(DEVICE_SENML_JSON), SENML_JSON, path('/3/0'), oma);
    const again = decode(
      encode(node, SENML_JSON, path('/3/0'), oma),
      SENML_JSON,
      path('/3/0'),
      oma,
    );
    assert.deepEqual(again, node);
  });

  it('RFC 8428 §5.1.1 and §5.1.2 (first example): reads and writes them byte for byte', () => {
    for (const text of [
      '[{"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}]',
      '[{"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},{"n":"current","u":"A","v":1.2}]',
    ]) {
      assert.equal(formatSenmlJson(parseSenmlJson(Buffer.from(text))).toString(), text);
    }
  });

  it('RFC 8428 §5.1.2 (second example): reads base name, base time, base unit, version and relative times', () => {
    const records = parseSenmlJson(Buffer.from(RFC8428_MULTIPLE));
    assert.equal(records.length, 7);
    assert.deepEqual(records[0], {
      bn: 'urn:dev:ow:10e2073a0108006:',
      bt: 1276020076.001,
      bu: 'A',
      bver: 5,
      n: 'voltage',
      u: 'V',
      v: 120.1,
    });
    assert.deepEqual(records[1], { n: 'current', t: -5, v: 1.2 });
    assert.deepEqual(records[6], { n: 'current', v: 1.7 });
    assert.deepEqual(parseSenmlJson(formatSenmlJson(records)), records);
  });
});

// RFC 8428 §5.1.3 to §5.1.7, as printed in the RFC (whitespace included).
const RFC8428_EXAMPLES: Array<[string, string]> = [
  [
    '§5.1.3 Multiple Measurements',
    `[
     {"bn":"urn:dev:ow:10e2073a01080063","bt":1.320067464e+09,
      "bu":"%RH","v":20},
     {"u":"lon","v":24.30621},
     {"u":"lat","v":60.07965},
     {"t":60,"v":20.3},
     {"u":"lon","t":60,"v":24.30622},
     {"u":"lat","t":60,"v":60.07965},
     {"t":120,"v":20.7},
     {"u":"lon","t":120,"v":24.30623},
     {"u":"lat","t":120,"v":60.07966},
     {"u":"%EL","t":150,"v":98},
     {"t":180,"v":21.2},
     {"u":"lon","t":180,"v":24.30628},
     {"u":"lat","t":180,"v":60.07967}
   ]`,
  ],
  [
    '§5.1.4 Resolved Data',
    `[
     {"n":"urn:dev:ow:10e2073a01080063","u":"%RH","t":1.320067464e+09,
      "v":20},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lon","t":1.320067464e+09,
      "v":24.30621},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lat","t":1.320067464e+09,
      "v":60.07965},
     {"n":"urn:dev:ow:10e2073a01080063","u":"%RH","t":1.320067524e+09,
      "v":20.3},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lon","t":1.320067524e+09,
      "v":24.30622},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lat","t":1.320067524e+09,
      "v":60.07965},
     {"n":"urn:dev:ow:10e2073a01080063","u":"%RH","t":1.320067584e+09,
      "v":20.7},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lon","t":1.320067584e+09,
      "v":24.30623},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lat","t":1.320067584e+09,
      "v":60.07966},
     {"n":"urn:dev:ow:10e2073a01080063","u":"%EL","t":1.320067614e+09,
      "v":98},
     {"n":"urn:dev:ow:10e2073a01080063","u":"%RH","t":1.320067644e+09,
      "v":21.2},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lon","t":1.320067644e+09,
      "v":24.30628},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lat","t":1.320067644e+09,
      "v":60.07967}
   ]`,
  ],
  [
    '§5.1.5 Multiple Data Types',
    `[
    {"bn":"urn:dev:ow:10e2073a01080063:","n":"temp","u":"Cel","v":23.1},
    {"n":"label","vs":"Machine Room"},
    {"n":"open","vb":false},
    {"n":"nfv-reader","vd":"aGkgCg"}
  ]`,
  ],
  [
    '§5.1.6 Collection of Resources',
    `[
     {"bn":"2001:db8::2/","bt":1.320078429e+09,
      "n":"temperature","u":"Cel","v":25.2},
     {"n":"humidity","u":"%RH","v":30},
     {"bn":"2001:db8::1/","n":"temperature","u":"Cel","v":12.3},
     {"n":"humidity","u":"%RH","v":67}
   ]`,
  ],
  [
    '§5.1.7 Setting an Actuator (first example)',
    `[
     {"bn":"urn:dev:ow:10e2073a01080063:"},
     {"n":"temp","u":"Cel","v":23.1},
     {"n":"heat","u":"/","v":1},
     {"n":"fan","u":"/","v":0}
   ]`,
  ],
  [
    '§5.1.7 Setting an Actuator (second example)',
    `[
     {"bt":1.320078429e+09,"bu":"/","n":"2001:db8::3","v":1},
     {"n":"2001:db8::4","v":1}
   ]`,
  ],
  [
    '§5.1.7 Setting an Actuator (third example)',
    `[
     {"bt":1.320078429e+09,"bu":"/","n":"2001:db8::3","v":0.5},
     {"n":"2001:db8::4","v":0.5},
     {"n":"2001:db8::3","t":0.1,"v":0},
     {"n":"2001:db8::4","t":0.1,"v":0}
   ]`,
  ],
];

describe('RFC 8428 §5.1 examples in SenML JSON', () => {
  for (const [source, text] of RFC8428_EXAMPLES) {
    it(`RFC 8428 ${source}: reads every record and writes it back field for field`, () => {
      const records = parseSenmlJson(Buffer.from(text));
      // An independent reading of the same text: every member of every record, nothing else.
      const plain = JSON.parse(text) as Array<Record<string, unknown>>;
      assert.equal(records.length, plain.length);
      records.forEach((r, i) => {
        const { vd, ...rest } = r;
        const want = { ...plain[i] };
        if (vd !== undefined) {
          assert.equal(vd.toString('base64url'), want.vd);
          delete want.vd;
        }
        assert.deepEqual(rest, want, `record ${i}`);
      });
      // Our fields come out in the RFC's order, so the text is the RFC's less its whitespace;
      // numbers are respelled in their shortest form ("bt":1.320067464e+09 as 1320067464):
      // RFC 8428 §5 gives a number's meaning, not its spelling, and JSON has no canonical one.
      assert.equal(formatSenmlJson(records).toString(), JSON.stringify(plain));
    });
  }

  it('RFC 8428 §5.1.5: "vd" is base64url without padding (RFC 4648 §5), here the bytes of "hi \\n"', () => {
    const records = parseSenmlJson(Buffer.from(RFC8428_EXAMPLES[2]![1]));
    assert.deepEqual(records[3]!.vd, Buffer.from('hi \n'));
    assert.equal(records[2]!.vb, false);
    assert.equal(records[1]!.vs, 'Machine Room');
  });

  it('RFC 8428 §5.1.3 resolves (§4.6) to the records of §5.1.4', () => {
    // §4.6: a resolved record has the base name prefixed to its name, base time added to its
    // time and base unit as its unit; the base fields themselves are gone.
    let bn = '';
    let bt = 0;
    let bu: string | undefined;
    const resolved = parseSenmlJson(Buffer.from(RFC8428_EXAMPLES[0]![1])).map((r) => {
      bn = r.bn ?? bn;
      bt = r.bt ?? bt;
      bu = r.bu ?? bu;
      return { n: bn + (r.n ?? ''), u: r.u ?? bu, t: bt + (r.t ?? 0), v: r.v };
    });
    assert.deepEqual(resolved, parseSenmlJson(Buffer.from(RFC8428_EXAMPLES[1]![1])));
  });

  it('RFC 8428 §5.1.7 (first example): its first record has no value, which §4.2 requires', () => {
    // §4.2: "Exactly one Value field MUST appear unless there is a Sum field". The RFC's own
    // actuator example opens with a record holding only a base name. A SenML reader keeps such
    // a record (LwM2M uses it for a path without value, LwM2M-TS-Core 1.1 §6.3.8); resolved as
    // LwM2M, its name is no object path and is refused.
    const text = RFC8428_EXAMPLES[4]![1];
    assert.deepEqual(parseSenmlJson(Buffer.from(text))[0], {
      bn: 'urn:dev:ow:10e2073a01080063:',
    });
    assert.equal(
      codeOf(() => decodeComposite(Buffer.from(text), SENML_JSON, EMPTY_MODEL)),
      'INVALID_PATH',
    );
  });
});

describe('SenML JSON nodes and values (LwM2M-TS-Core 1.1 §7.4.4, Table 7.4.4-1)', () => {
  it('writes a single resource with its full path as base name', () => {
    const r = singleResource(0, Value.string('Open Mobile Alliance'));
    const bytes = encode(r, SENML_JSON, path('/3/0/0'), oma);
    assert.equal(bytes.toString(), '[{"bn":"/3/0/0","vs":"Open Mobile Alliance"}]');
    assert.deepEqual(decode(bytes, SENML_JSON, path('/3/0/0'), oma), r);
  });

  it('carries every value type in its field: v, vs, vb, vd (base64url), vlo', () => {
    const inst = objectInstance(0, [
      singleResource(1, Value.string('a"b')),
      singleResource(2, Value.integer(-3)),
      singleResource(3, Value.float(2.5)),
      singleResource(4, Value.boolean(true)),
      singleResource(5, Value.opaque(Buffer.from([0xfb, 0xff]))),
      singleResource(6, Value.objlnk(3, 0)),
      singleResource(7, Value.time(1700000000)),
      singleResource(8, Value.unsigned(2n ** 64n - 1n)),
      singleResource(9, Value.integer(-(2n ** 63n))),
    ]);
    const model = {
      getObject: () => undefined,
      getResource: (_o: number, r: number) => {
        const types = {
          1: 'string',
          2: 'integer',
          3: 'float',
          4: 'boolean',
          5: 'opaque',
          6: 'objlnk',
          7: 'time',
          8: 'unsigned',
          9: 'integer',
        } as const;
        const type = types[r as keyof typeof types];
        return {
          id: r,
          name: '',
          operations: 'RW' as const,
          multiple: false,
          mandatory: false,
          type,
          description: '',
        };
      },
    };
    const bytes = encode(inst, SENML_JSON, path('/40000/0'), model);
    assert.equal(
      bytes.toString(),
      '[{"bn":"/40000/0/","n":"1","vs":"a\\"b"},{"n":"2","v":-3},{"n":"3","v":2.5},{"n":"4","vb":true},' +
        '{"n":"5","vd":"-_8"},{"n":"6","vlo":"3:0"},{"n":"7","v":1700000000},' +
        '{"n":"8","v":18446744073709551615},{"n":"9","v":-9223372036854775808}]',
    );
    assert.deepEqual(decode(bytes, SENML_JSON, path('/40000/0'), model), inst);
  });

  it('reads a multiple resource and one resource instance', () => {
    const json = '[{"bn":"/3/0/6/","n":"0","v":1},{"n":"1","v":5}]';
    assert.deepEqual(
      decode(Buffer.from(json), SENML_JSON, path('/3/0/6'), oma),
      multipleResource(6, 'integer', [
        resourceInstance(0, Value.integer(1)),
        resourceInstance(1, Value.integer(5)),
      ]),
    );
    assert.deepEqual(
      decode(Buffer.from('[{"bn":"/3/0/6/1","v":5}]'), SENML_JSON, path('/3/0/6/1'), oma),
      resourceInstance(1, Value.integer(5)),
    );
  });

  it('reads an empty pack at a multiple resource as an empty multiple resource, typed by the model', () => {
    assert.deepEqual(
      decode(Buffer.from('[]'), SENML_JSON, path('/3/0/6'), oma),
      multipleResource(6, 'integer', []),
    );
  });

  it('refuses resource instances under a single resource the model knows', () => {
    const json = '[{"n":"/3/0/9/0","v":1}]';
    assert.equal(
      codeOf(() => decode(Buffer.from(json), SENML_JSON, path('/3/0/9'), oma)),
      'UNEXPECTED_NODE',
    );
    const unknown = decode(
      Buffer.from('[{"n":"/9999/0/9/0","v":1}]'),
      SENML_JSON,
      path('/9999/0/9'),
      oma,
    );
    assert.equal(unknown.kind, 'multiple-resource');
  });

  it('types values without a model by their field', () => {
    const json =
      '[{"bn":"/9999/0/","n":"1","v":1},{"n":"2","v":1.5},{"n":"3","vs":"x"},{"n":"4","vb":false},{"n":"5","vd":"AQ"},{"n":"6","vlo":"1:2"}]';
    const inst = decode(
      Buffer.from(json),
      SENML_JSON,
      path('/9999/0'),
      EMPTY_MODEL,
    ) as Lwm2mObjectInstance;
    const types = [...inst.resources.values()].map((r) => (r as Lwm2mSingleResource).value.type);
    assert.deepEqual(types, ['integer', 'float', 'string', 'boolean', 'opaque', 'objlnk']);
  });

  it('decodes a Read-Composite request: paths without values (LwM2M-TS-Core 1.1 §6.3.8)', () => {
    const entries = decodeComposite(
      Buffer.from('[{"n":"/3/0/9"},{"n":"/1"},{"n":"/3/0/6/1"}]'),
      SENML_JSON,
      oma,
    );
    assert.deepEqual(
      entries.map((e) => [e.path.toString(), e.value]),
      [
        ['/3/0/9', undefined],
        ['/1', undefined],
        ['/3/0/6/1', undefined],
      ],
    );
    assert.equal(
      encodeComposite(entries, SENML_JSON, oma).toString(),
      '[{"n":"/3/0/9"},{"n":"/1"},{"n":"/3/0/6/1"}]',
    );
  });

  it('encodes and decodes timestamped composite values (Send, LwM2M-TS-Core 1.1 §6.4.6)', () => {
    const entries = [
      { path: path('/3303/0/5700'), value: Value.float(22.5), time: 1700000000 },
      { path: path('/3303/0/5700'), value: Value.float(23.5), time: 1700000010 },
      { path: path('/3/0/9'), value: Value.integer(80), time: 1700000010 },
    ];
    const bytes = encodeComposite(entries, SENML_JSON, oma);
    assert.equal(
      bytes.toString(),
      '[{"bn":"/3303/0/","bt":1700000000,"n":"5700","v":22.5},{"bt":1700000010,"n":"5700","v":23.5},{"bn":"/3/0/","n":"9","v":80}]',
    );
    assert.deepEqual(decodeComposite(bytes, SENML_JSON, oma), entries);
  });

  it('refuses a format that cannot hold the node (text/plain of an instance → 4.06)', () => {
    const e = (() => {
      try {
        encode(objectInstance(0, []), ContentFormat.TEXT, path('/3/0'), oma);
      } catch (err) {
        return err as CodecError;
      }
    })();
    assert.equal(e?.code, 'NOT_ACCEPTABLE');
    assert.equal(e?.coapCode, '4.06');
    assert.equal(
      codeOf(() => decode(Buffer.from('x'), 9999, path('/3/0'), oma)),
      'UNSUPPORTED_FORMAT',
    );
  });
});

describe('SenML JSON hostile input', () => {
  const cases: Array<[string, string, string, string?]> = [
    ['not JSON', '[{"n":', 'MALFORMED'],
    ['not an array', '{"n":"/3/0/9","v":1}', 'MALFORMED'],
    ['a record that is not an object', '[1]', 'MALFORMED'],
    ['invalid UTF-8', '', 'INVALID_UTF8'],
    ['a name that is not a path', '[{"n":"/3/x/9","v":1}]', 'INVALID_PATH'],
    ['an id past 65535', '[{"n":"/3/0/65536","v":1}]', 'INVALID_PATH'],
    ['a record outside the requested path', '[{"n":"/4/0/9","v":1}]', 'INVALID_PATH'],
    ['two values in one record', '[{"n":"/3/0/9","v":1,"vs":"1"}]', 'MALFORMED'],
    ['a string for an integer resource', '[{"n":"/3/0/9","vs":"1"}]', 'TYPE_MISMATCH'],
    ['a number for a string resource', '[{"n":"/3/0/0","v":1}]', 'TYPE_MISMATCH'],
    ['a fraction for an integer resource', '[{"n":"/3/0/9","v":1.5}]', 'TYPE_MISMATCH'],
    ['a name of the wrong JSON type', '[{"n":3,"v":1}]', 'TYPE_MISMATCH'],
    ['a bad object link', '[{"n":"/66/0/2","vlo":"3-0"}]', 'TYPE_MISMATCH', '/66/0'],
    ['vd that is not base64', '[{"n":"/5/0/0","vd":"!!"}]', 'TYPE_MISMATCH', '/5/0'],
    ['an integer past 64 bits', '[{"n":"/3/0/9","v":99999999999999999999}]', 'VALUE_OUT_OF_RANGE'],
    ['the same path twice', '[{"n":"/3/0/9","v":1},{"n":"/3/0/9","v":2}]', 'DUPLICATE_PATH'],
    ['a must-understand field', '[{"n":"/3/0/9","v":1,"x_":1}]', 'MALFORMED'],
    ['a value at an instance path', '[{"n":"/3/0","v":1}]', 'INVALID_PATH'],
    ['a single value for a multiple resource', '[{"n":"/3/0/6","v":1}]', 'UNEXPECTED_NODE'],
    ['no record', '[]', 'UNEXPECTED_NODE'],
    ['nesting 100000 deep', '['.repeat(100000), 'MALFORMED'],
    ['balanced nesting 100000 deep', `${'['.repeat(100000)}${']'.repeat(100000)}`, 'MALFORMED'],
    ['a record nested in a record', '[{"n":"/3/0/9","v":{"v":1}}]', 'TYPE_MISMATCH'],
    // RFC 8428 §4.4: a version above ours (10, §4.1) must not be used; one version per pack.
    ['a pack of SenML version 11 (RFC 8428 §4.4)', '[{"bver":11,"n":"/3/0/9","v":1}]', 'MALFORMED'],
    [
      'two versions in one pack (RFC 8428 §4.4)',
      '[{"bver":5,"n":"/3/0/9","v":1},{"bver":6,"n":"/3/0/10","v":1}]',
      'MALFORMED',
    ],
    [
      'a version that is no positive integer (RFC 8428 §4.1)',
      '[{"bver":1.5,"n":"/3/0/9","v":1}]',
      'TYPE_MISMATCH',
    ],
  ];
  for (const [name, json, code, at] of cases) {
    it(`rejects ${name} with ${code}`, () => {
      const bytes =
        name === 'invalid UTF-8' ? Buffer.from('5b7b226e223a22ff227d5d', 'hex') : Buffer.from(json);
      assert.equal(
        codeOf(() => decode(bytes, SENML_JSON, path(at ?? '/3/0'), linkModel)),
        code,
      );
    });
  }
});

describe('SenML JSON base value (RFC 8428 §4.5.4, §4.6)', () => {
  it('adds the base value to the v of its record and of the later ones, not to other values', () => {
    const text =
      '[{"bn":"/3303/0/","bv":20,"n":"5700","v":1.5},{"n":"5601","v":-2},' +
      '{"n":"5701","vs":"Cel"},{"bv":0.25,"n":"5602","v":3}]';
    const node = decode(Buffer.from(text), SENML_JSON, path('/3303/0'), oma) as Lwm2mObjectInstance;
    const value = (id: number) => (node.resources.get(id) as Lwm2mSingleResource).value;
    assert.deepEqual(value(5700), Value.float(21.5));
    assert.deepEqual(value(5601), Value.float(18));
    assert.deepEqual(value(5701), Value.string('Cel'));
    assert.deepEqual(value(5602), Value.float(3.25));
  });

  it('keeps bv when a pack is read and written back', () => {
    const text = '[{"bn":"/3303/0/","bv":20,"n":"5700","v":1.5}]';
    assert.equal(formatSenmlJson(parseSenmlJson(Buffer.from(text))).toString(), text);
  });
});

describe('SenML JSON times out of range', () => {
  it('rejects a Time past what a date can hold with VALUE_OUT_OF_RANGE', () => {
    for (const v of ['9007199254740991', '1e300', '99999999999999']) {
      assert.equal(
        codeOf(() =>
          decode(Buffer.from(`[{"n":"/3/0/13","v":${v}}]`), SENML_JSON, path('/3/0'), oma),
        ),
        'VALUE_OUT_OF_RANGE',
        v,
      );
    }
  });
});
