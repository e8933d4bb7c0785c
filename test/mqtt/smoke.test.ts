import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collect, startBroker } from './helpers.js';

test('smoke: MQTT 5 publish/subscribe QoS 1 round trip [MQTT-3.3.4-1]', async () => {
  const tb = await startBroker();
  try {
    const sub = await tb.client();
    await sub.subscribeAsync('a/+', { qos: 1 });
    const pub = await tb.client();
    const got = collect(sub, 1);
    await pub.publishAsync('a/b', 'hello', { qos: 1 });
    const [m] = await got;
    assert.equal(m!.topic, 'a/b');
    assert.equal(m!.payload.toString(), 'hello');
  } finally {
    await tb.close();
  }
});
