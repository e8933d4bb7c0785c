/**
 * The MQTT queue settings of the configuration reach the broker: `mqtt.maxQueuedMessages` bounds
 * a connected subscriber's queue, and `mqtt.queueFullPolicy` says what a full one does (the
 * broker's own tests cover each policy in detail: test/mqtt/flow-control.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import mqtt from 'mqtt';
import type { Tandem } from '../../src/server/tandem.js';
import { startTandem } from '../helpers/tandem.js';

const COUNT = 30;

/** A subscriber that takes one message (Receive Maximum 1) and then stops reading. */
async function stalledSubscriber(t: TestContext, tandem: Tandem) {
  const url = `mqtt://127.0.0.1:${tandem.address('mqtt')!.port}`;
  const sub = await mqtt.connectAsync(url, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    properties: { receiveMaximum: 1 },
  });
  t.after(() => sub.end(true));
  const received: string[] = [];
  sub.on('message', (_topic, payload) => received.push(payload.toString()));
  await sub.subscribeAsync('q', { qos: 1 });
  sub.stream.pause();
  const pub = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0 });
  t.after(() => pub.end(true));
  let acked = 0;
  for (let i = 0; i < COUNT; i++) {
    pub.publish('q', String(i), { qos: 1 }, (err) => {
      if (!err) acked++;
    });
  }
  return { sub, received, acked: () => acked };
}

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), what);
}

describe('MQTT queue settings (mqtt.maxQueuedMessages, mqtt.queueFullPolicy)', () => {
  test('backpressure: a full queue holds the publisher; nothing is dropped, all arrive once the subscriber reads', async (t) => {
    const tandem = await startTandem(t, {
      mqtt: { maxQueuedMessages: 5, queueFullPolicy: 'backpressure' },
    });
    const { sub, received, acked } = await stalledSubscriber(t, tandem);
    await until('the queue filled', () => tandem.mqtt.broker.stats.messages.queued >= 5);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(acked() < COUNT, `the publisher is held (${acked()} of ${COUNT} acknowledged)`);
    assert.equal(tandem.mqtt.broker.stats.dropped.queueFull, 0);
    sub.stream.resume();
    await until('every message arrived', () => received.length === COUNT);
    await until('every publish was acknowledged', () => acked() === COUNT);
    assert.deepEqual(
      received,
      Array.from({ length: COUNT }, (_, i) => String(i)),
    );
  });

  test('drop (the default): a full queue drops the newest messages and counts them', async (t) => {
    const tandem = await startTandem(t, { mqtt: { maxQueuedMessages: 5 } });
    const { acked } = await stalledSubscriber(t, tandem);
    await until('every publish was acknowledged', () => acked() === COUNT);
    await until('drops counted', () => tandem.mqtt.broker.stats.dropped.queueFull > 0);
    assert.ok(tandem.mqtt.broker.stats.messages.queued <= 5);
  });
});
