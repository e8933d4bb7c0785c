import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DdfError, parseDdf, parseRangeEnumeration } from '../../../src/lwm2m/model/ddf-parser.js';
import { allows, inRange } from '../../../src/lwm2m/model/model-checks.js';
import { compareVersions } from '../../../src/lwm2m/model/object-model.js';
import {
  defaultRegistryDir,
  ObjectRegistry,
  omaRegistry,
} from '../../../src/lwm2m/model/object-registry.js';
import { Value } from '../../../src/lwm2m/node/lwm2m-value.js';
import { packageRoot } from '../../../src/util/package-root.js';

const DEVICE_XML = readFileSync(join(defaultRegistryDir(), '3.xml'), 'utf8');

function ddf(id: number, version: string, resources: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<LWM2M><Object ObjectType="MODefinition"><Name>Test ${id}</Name><Description1>t</Description1>
<ObjectID>${id}</ObjectID><ObjectURN>urn:oma:lwm2m:x:${id}</ObjectURN><LWM2MVersion>1.1</LWM2MVersion>
<ObjectVersion>${version}</ObjectVersion><MultipleInstances>Multiple</MultipleInstances>
<Mandatory>Optional</Mandatory><Resources>${resources}</Resources></Object></LWM2M>`;
}

function item(id: number, type: string, ops = 'RW', multiple = 'Single'): string {
  return `<Item ID="${id}"><Name>r${id}</Name><Operations>${ops}</Operations>
<MultipleInstances>${multiple}</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>${type}</Type>
<RangeEnumeration>0..10</RangeEnumeration><Units>s</Units><Description>d</Description></Item>`;
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function userDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-ddf-'));
  dirs.push(dir);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('DDF parser', () => {
  it('reads the Device object definition (OMA registry 3.xml, LwM2M-TS-Core 1.1 Appendix D)', () => {
    const [device] = parseDdf(DEVICE_XML, '3.xml');
    assert.ok(device);
    assert.equal(device.id, 3);
    assert.equal(device.name, 'Device');
    assert.equal(device.version, '1.2');
    assert.equal(device.lwm2mVersion, '1.1');
    assert.equal(device.multiple, false);
    assert.equal(device.mandatory, true);
    const reboot = device.resources.get(4)!;
    assert.equal(reboot.operations, 'E');
    assert.equal(reboot.type, 'none');
    const sources = device.resources.get(6)!;
    assert.equal(sources.multiple, true);
    assert.equal(sources.type, 'integer');
    assert.deepEqual(sources.range, { raw: '0..7', min: 0, max: 7, unit: 'value' });
    assert.equal(device.resources.get(13)!.type, 'time');
    assert.equal(device.resources.get(0)!.operations, 'R');
  });

  it('reads every resource type name of LWM2M-v1_1.xsd', () => {
    const types = [
      'String',
      'Integer',
      'Unsigned Integer',
      'Float',
      'Boolean',
      'Opaque',
      'Time',
      'Objlnk',
      'Corelnk',
      '',
    ];
    const xml = ddf(40000, '1.0', types.map((t, i) => item(i, t)).join(''));
    const [o] = parseDdf(xml, 'types.xml');
    assert.deepEqual(
      [...o!.resources.values()].map((r) => r.type),
      [
        'string',
        'integer',
        'unsigned',
        'float',
        'boolean',
        'opaque',
        'time',
        'objlnk',
        'corelnk',
        'none',
      ],
    );
  });

  it('reads ranges, byte lengths and enumerations', () => {
    assert.deepEqual(parseRangeEnumeration('0..255 bytes'), {
      raw: '0..255 bytes',
      min: 0,
      max: 255,
      unit: 'bytes',
    });
    assert.deepEqual(parseRangeEnumeration('-1..1'), {
      raw: '-1..1',
      min: -1,
      max: 1,
      unit: 'value',
    });
    assert.deepEqual(parseRangeEnumeration('1;2;3'), {
      raw: '1;2;3',
      enumeration: ['1', '2', '3'],
    });
    assert.equal(parseRangeEnumeration(''), undefined);
  });

  it('names the file and the reason of a bad definition', () => {
    const cases: Array<[string, RegExp]> = [
      ['<LWM2M><Object', /not well-formed XML/],
      ['<Other/>', /no <LWM2M> root/],
      [ddf(70000, '1.0', ''), /id "70000" is not 0\.\.65535|id 70000/],
      [ddf(40001, '1.0', item(1, 'Number')), /resource 1: unknown Type "Number"/],
      [ddf(40001, '1.0', item(1, 'String', 'X')), /unknown Operations "X"/],
      [ddf(40001, '1.0', item(1, 'String') + item(1, 'String')), /resource 1 defined twice/],
      [ddf(40001, 'one', ''), /ObjectVersion "one"/],
    ];
    for (const [xml, reason] of cases) {
      assert.throws(
        () => parseDdf(xml, 'bad.xml'),
        (e: unknown) => e instanceof DdfError && e.file === 'bad.xml' && reason.test(e.message),
        String(reason),
      );
    }
  });
});

describe('ObjectRegistry', () => {
  it('finds the package root from src/ (walking up to package.json)', () => {
    assert.equal(
      readFileSync(join(packageRoot(), 'package.json'), 'utf8').includes('"tandem"'),
      true,
    );
    assert.equal(
      packageRoot(join(packageRoot(), 'dist/lwm2m/model/object-registry.js')),
      packageRoot(),
    );
  });

  it('loads all 327 vendored OMA objects without a failure', () => {
    const registry = new ObjectRegistry();
    assert.deepEqual(registry.load(), []);
    assert.equal(registry.size, 327);
    for (const id of [0, 1, 2, 3, 4, 5, 9, 10, 3303, 3323, 3202, 3203]) {
      assert.ok(registry.get(id), `object ${id}`);
    }
  });

  it('loads lazily and shares one parsed registry', () => {
    assert.equal(omaRegistry(), omaRegistry());
    assert.equal(omaRegistry().get(3)?.name, 'Device');
  });

  it('keeps several versions of an object side by side; the default is the highest', () => {
    const dir = userDir({
      'device-1.0.xml': ddf(3, '1.0', item(0, 'String', 'R')),
      'device-1.10.xml': ddf(3, '1.10', item(0, 'String', 'R')),
      'thing.xml': ddf(40002, '2.0', item(1, 'Float')),
    });
    const registry = new ObjectRegistry({ userDirs: [dir] });
    assert.deepEqual(registry.load(), []);
    assert.deepEqual(
      registry.versions(3).map((o) => o.version),
      ['1.0', '1.2', '1.10'],
    );
    assert.equal(registry.get(3)?.version, '1.10');
    assert.equal(registry.get(3, '1.2')?.name, 'Device');
    assert.equal(registry.get(3, '1.0')?.resources.size, 1);
    assert.equal(registry.get(3, '9.9'), undefined);
    assert.equal(registry.get(40002)?.resources.get(1)?.type, 'float');
    // The ver= a device announced picks the version; an unknown one falls back to the highest.
    const model = registry.modelFor(new Map([[3, '1.2']]));
    assert.equal(model.getObject(3)?.version, '1.2');
    assert.equal(registry.modelFor(new Map([[3, '7.0']])).getObject(3)?.version, '1.10');
  });

  it('reports a bad user file by name and reason and still loads the others', () => {
    const dir = userDir({
      'good.xml': ddf(40003, '1.0', item(0, 'Integer')),
      'broken.xml': '<LWM2M><Object>',
      'wrong.xml': ddf(40004, '1.0', item(0, 'Decimal')),
      'notes.txt': 'ignored',
    });
    const registry = new ObjectRegistry({ oma: false, userDirs: [dir, join(dir, 'missing')] });
    const failures = registry.load();
    assert.equal(registry.size, 1);
    assert.ok(registry.get(40003));
    const byName = new Map(failures.map((f) => [f.file.split('/').pop(), f.reason]));
    assert.match(byName.get('broken.xml')!, /not well-formed XML/);
    assert.match(byName.get('wrong.xml')!, /unknown Type "Decimal"/);
    assert.match(byName.get('missing')!, /cannot list directory/);
  });

  it('adds definitions given directly', () => {
    const registry = new ObjectRegistry({ oma: false });
    registry.addDdf(ddf(40005, '1.1', item(0, 'Boolean')), 'inline.xml');
    assert.equal(registry.get(40005)?.resources.get(0)?.type, 'boolean');
  });

  it('orders versions numerically', () => {
    assert.ok(compareVersions('1.10', '1.2') > 0);
    assert.equal(compareVersions('1.0', '1'), 0);
  });
});

describe('model checks', () => {
  const device = omaRegistry().get(3)!;
  it('allows operations by the DDF (LwM2M-TS-Core 1.1 Appendix D.1)', () => {
    assert.equal(allows(device.resources.get(0)!, 'read'), true);
    assert.equal(allows(device.resources.get(0)!, 'write'), false);
    assert.equal(allows(device.resources.get(4)!, 'execute'), true);
    assert.equal(allows(device.resources.get(4)!, 'read'), false);
    assert.equal(allows(device.resources.get(13)!, 'write'), true);
  });

  it('checks values against RangeEnumeration', () => {
    const battery = device.resources.get(9)!; // 0..100
    assert.equal(inRange(battery, Value.integer(100)), true);
    assert.equal(inRange(battery, Value.integer(101)), false);
    assert.equal(inRange(battery, Value.integer(-1)), false);
    const bytes = {
      ...battery,
      type: 'string' as const,
      range: parseRangeEnumeration('0..3 bytes'),
    };
    assert.equal(inRange(bytes, Value.string('abc')), true);
    assert.equal(inRange(bytes, Value.string('abcd')), false);
    const enumerated = { ...battery, range: parseRangeEnumeration('1,2,3') };
    assert.equal(inRange(enumerated, Value.integer(2)), true);
    assert.equal(inRange(enumerated, Value.integer(4)), false);
    assert.equal(inRange(device.resources.get(0)!, Value.string('anything')), true);
  });
});

describe('device models', () => {
  it('shares one model between devices that announce the same versions', () => {
    const registry = omaRegistry();
    const a = registry.modelFor(
      new Map([
        [3, '1.2'],
        [1, '1.2'],
      ]),
    );
    const b = registry.modelFor(
      new Map([
        [1, '1.2'],
        [3, '1.2'],
      ]),
    );
    assert.equal(a, b);
    assert.equal(registry.modelFor(), registry.modelFor(new Map([[3, '9.9']])));
  });

  it('keeps a pinned older version apart', () => {
    const dir = userDir({ 'device-1.0.xml': ddf(3, '1.0', item(0, 'String', 'R')) });
    const registry = new ObjectRegistry({ userDirs: [dir] });
    const old = registry.modelFor(new Map([[3, '1.0']]));
    assert.notEqual(old, registry.modelFor());
    assert.equal(old.getObject(3)?.version, '1.0');
    assert.equal(old.getResource(3, 13), undefined);
    assert.equal(registry.modelFor().getResource(3, 13)?.type, 'time');
  });
});
