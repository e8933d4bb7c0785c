import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deviceAcl, isTopicSafeId } from '../../src/hub/mqtt-acl.js';

describe('device topic ACL', () => {
  const acl = deviceAcl(['devices/%d/#', 'lwm2m/+/%d/out']);

  test('a device publishes inside its namespace only', () => {
    assert.equal(acl.mayPublish('pump-7', 'devices/pump-7/temp'), true);
    assert.equal(
      acl.mayPublish('pump-7', 'devices/pump-7'),
      true,
      '# also matches the parent level [MQTT-4.7.1-2]',
    );
    assert.equal(acl.mayPublish('pump-7', 'devices/pump-8/temp'), false);
    assert.equal(acl.mayPublish('pump-7', 'devices'), false);
    assert.equal(acl.mayPublish('pump-7', 'lwm2m/v1/pump-7/out'), true);
    assert.equal(acl.mayPublish('pump-7', 'lwm2m/v1/pump-7/out/x'), false);
    assert.equal(acl.mayPublish('pump-7', 'other/topic'), false);
  });

  test('a subscription must not reach beyond the namespace', () => {
    assert.equal(acl.maySubscribe('pump-7', 'devices/pump-7/#'), true);
    assert.equal(acl.maySubscribe('pump-7', 'devices/pump-7/+/cmd'), true);
    assert.equal(acl.maySubscribe('pump-7', 'devices/+/cmd'), false);
    assert.equal(acl.maySubscribe('pump-7', 'devices/#'), false);
    assert.equal(acl.maySubscribe('pump-7', '#'), false);
    assert.equal(acl.maySubscribe('pump-7', '+/pump-7/x'), false);
    assert.equal(acl.maySubscribe('pump-7', 'lwm2m/+/pump-7/out'), true);
    assert.equal(acl.maySubscribe('pump-7', 'lwm2m/#'), false);
  });

  test('a shared subscription is judged by its filter (MQTT 5.0 §4.8.2)', () => {
    assert.equal(acl.maySubscribe('pump-7', '$share/g/devices/pump-7/#'), true);
    assert.equal(acl.maySubscribe('pump-7', '$share/g/devices/#'), false);
  });

  test('a device id with a separator or wildcard gets no namespace at all', () => {
    for (const id of ['a/b', 'a+', '#', '']) {
      assert.equal(isTopicSafeId(id), false, id);
      assert.equal(acl.mayPublish(id, `devices/${id}/x`), false, id);
    }
  });
});
