import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HubError } from '../../src/hub/errors.js';
import {
  MAX_RAW_PAYLOAD,
  ProfileMapper,
  type ProfileMapping,
  rawValue,
  validateProfile,
  validateProfileId,
} from '../../src/hub/profiles.js';
import { omaRegistry } from '../../src/lwm2m/model/object-registry.js';

const model = omaRegistry().modelFor();
const mapper = (...mappings: ProfileMapping[]) => new ProfileMapper({ mappings }, model);
const values = (m: ReturnType<ProfileMapper['map']>) =>
  m.values.map((v) => [v.path.toString(), v.value.type, v.value.value]);

describe('device profiles: plain MQTT topics onto LwM2M resources', () => {
  test('maps a text payload on a wildcard topic to a typed float (the issue example)', () => {
    const m = mapper({ topic: 'plant/+/temperature', path: '/3303/0/5700' });
    const out = m.map('dev1', 'plant/7/temperature', Buffer.from('21.5'));
    assert.deepEqual(values(out), [['/3303/0/5700', 'float', 21.5]]);
    assert.equal(out.raw, undefined, 'mapped data is not also raw');
  });

  test('takes several fields of one JSON payload, by dotted path and array index', () => {
    const m = mapper(
      { topic: 'devices/%d/state', path: '/3303/0/5700', field: 'temp' },
      { topic: 'devices/%d/state', path: '/3323/0/5700', field: 'sensors.1.kPa' },
      { topic: 'devices/%d/state', path: '/3/0/9', field: 'battery' },
      { topic: 'devices/%d/state', path: '/3/0/1', field: 'model' },
    );
    const payload = {
      temp: 19.25,
      sensors: [{ kPa: 1 }, { kPa: 101.3 }],
      battery: '87',
      model: 42,
    };
    const out = m.map('dev1', 'devices/dev1/state', Buffer.from(JSON.stringify(payload)));
    assert.deepEqual(values(out), [
      ['/3303/0/5700', 'float', 19.25],
      ['/3323/0/5700', 'float', 101.3],
      ['/3/0/9', 'integer', 87],
      ['/3/0/1', 'string', '42'],
    ]);
  });

  test('%d matches only the publishing device, a whole level', () => {
    const m = mapper({ topic: 'devices/%d/t', path: '/3303/0/5700' });
    assert.equal(m.map('dev1', 'devices/dev2/t', Buffer.from('1')).values.length, 0);
    assert.equal(m.map('dev1', 'devices/dev1/t', Buffer.from('1')).values.length, 1);
  });

  test('booleans from true/false and 1/0, in text or JSON', () => {
    const m = mapper({ topic: 'door', path: '/3200/0/5500' });
    for (const [text, want] of [
      ['true', true],
      ['0', false],
      ['1', true],
      ['false', false],
    ] as const) {
      assert.deepEqual(values(m.map('d', 'door', Buffer.from(text))), [
        ['/3200/0/5500', 'boolean', want],
      ]);
    }
  });

  test('unmapped topics, and values that do not fit the resource type, stay raw on their topic', () => {
    const m = mapper({ topic: 'plant/+/temperature', path: '/3303/0/5700' });
    assert.deepEqual(m.map('d', 'plant/7/humidity', Buffer.from('55')), { values: [], raw: 55 });
    assert.deepEqual(m.map('d', 'plant/7/temperature', Buffer.from('warm')), {
      values: [],
      raw: 'warm',
    });
    const missing = mapper({ topic: 't', path: '/3303/0/5700', field: 'temp' });
    assert.deepEqual(missing.map('d', 't', Buffer.from('{"other":1}')), {
      values: [],
      raw: '{"other":1}',
    });
  });

  test('raw values: JSON scalars as themselves, text as text, other bytes in base64, huge ones dropped', () => {
    assert.equal(rawValue(Buffer.from('true')), true);
    assert.equal(rawValue(Buffer.from('-3.5')), -3.5);
    assert.equal(rawValue(Buffer.from('on')), 'on');
    assert.equal(rawValue(Buffer.from([0xff, 0x00, 0x80])), 'base64:/wCA');
    assert.equal(rawValue(Buffer.alloc(MAX_RAW_PAYLOAD + 1, 0x41)), undefined);
  });

  test('refuses bad definitions with the offending field', () => {
    const bad = (mapping: ProfileMapping, field: string, message: RegExp) =>
      assert.throws(
        () => validateProfile({ mappings: [mapping] }, model),
        (e: unknown) => e instanceof HubError && e.field === field && message.test(e.message),
      );
    bad({ topic: 'a/#/b', path: '/3303/0/5700' }, 'mappings.0.topic', /topic filter/);
    bad({ topic: '$SYS/x', path: '/3303/0/5700' }, 'mappings.0.topic', /topic filter/);
    bad({ topic: 'a', path: '/3303/0' }, 'mappings.0.path', /not a resource/);
    bad({ topic: 'a', path: '/3303/x/5700' }, 'mappings.0.path', /./);
    bad({ topic: 'a', path: '/3303/0/9999' }, 'mappings.0.path', /no resource/);
    bad({ topic: 'a', path: '/3/0/4' }, 'mappings.0.path', /type none/);
    bad({ topic: 'a', path: '/3303/0/5700', field: 'a..b' }, 'mappings.0.field', /dotted/);
    assert.throws(() => validateProfileId('bad id'), HubError);
    validateProfile({ mappings: [{ topic: 'devices/%d/#', path: '/3303/0/5700' }] }, model);
  });
});
