import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import { MqttServerPort } from '../../../src/lwm2m/mqtt/server-port.js';
import { ManualClock } from '../../../src/util/clock.js';

test('a resumed observation keeps its token, and the port never hands that token out again (RFC 7252 §5.3.1: tokens tell exchanges apart)', async () => {
  const port = new MqttServerPort({
    publish: async () => undefined,
    clock: new ManualClock(),
    timeoutMs: 1_000,
    qos: 1,
  });
  const peer = { key: MqttServerPort.peerKey('dev'), address: '127.0.0.1', port: 1 };
  const params = { code: Code.Get, path: '/3303/0/5700' };
  const kept = Buffer.from('0000000000000007', 'hex');
  const resumed = port.resumeObservation(peer, kept, params, () => undefined);
  assert.deepEqual(resumed.token, kept);
  assert.equal(resumed.active, true);
  const next = port.observe(peer, params, () => undefined);
  // No client is known for the peer here: the Observe itself fails, its token is what counts.
  await assert.rejects(next.response);
  assert.equal(next.token.readBigUInt64BE(), 8n);
  port.close();
});
