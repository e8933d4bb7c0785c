import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IDisconnectPacket, IPublishPacket } from 'mqtt-packet';
import { ManualClock } from '../../src/util/clock.js';
import { collect, type RawClient, startBroker, type TestBroker, waitFor } from './helpers.js';

/** Waits until only the watcher is still connected. */
const offline = (tb: TestBroker) => waitFor(() => tb.broker.stats.sessions.online === 1, 'close');

const pub = (p: unknown) => p as IPublishPacket;

async function watcher(tb: TestBroker): Promise<RawClient> {
  const raw = await tb.raw();
  await raw.connect({ clientId: `watch-${Math.random()}` });
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'will/#', qos: 1 }] });
  await raw.next('suback');
  return raw;
}

async function withWill(
  tb: TestBroker,
  clientId: string,
  willProps: Record<string, unknown> = {},
  connectProps: Record<string, unknown> = {},
  keepalive = 0,
): Promise<RawClient> {
  const raw = await tb.raw();
  await raw.connect({
    clientId,
    keepalive,
    clean: false,
    properties: connectProps,
    will: {
      topic: `will/${clientId}`,
      payload: Buffer.from(`${clientId} gone`),
      qos: 1,
      retain: false,
      properties: willProps,
    },
  });
  return raw;
}

/** True when `raw` has received no PUBLISH (checked after a PINGREQ round trip). */
async function nothingFor(raw: RawClient): Promise<boolean> {
  raw.send({ cmd: 'pingreq' });
  await raw.next('pingresp');
  return raw.packets.every((p) => p.cmd !== 'publish');
}

describe('will messages', () => {
  test('publishes the will when the network connection drops [MQTT-3.1.2-8]', async () => {
    const tb = await startBroker();
    try {
      const w = await watcher(tb);
      const c = await withWill(tb, 'drop', {
        contentType: 'text/plain',
        userProperties: { k: 'v' },
      });
      c.socket.destroy();
      const m = pub(await w.next('publish'));
      assert.equal(m.topic, 'will/drop');
      assert.equal(m.payload.toString(), 'drop gone');
      assert.equal(m.properties?.contentType, 'text/plain');
      assert.deepEqual({ ...m.properties?.userProperties }, { k: 'v' });
    } finally {
      await tb.close();
    }
  });

  test('discards the will on DISCONNECT 0x00 [MQTT-3.1.2-10]', async () => {
    const tb = await startBroker();
    try {
      const w = await watcher(tb);
      const c = await withWill(tb, 'polite');
      c.send({ cmd: 'disconnect', reasonCode: 0 });
      await c.waitClosed();
      assert.equal(await nothingFor(w), true);
    } finally {
      await tb.close();
    }
  });

  test('publishes the will on DISCONNECT 0x04 Disconnect with Will Message (MQTT 5.0 §3.14.2.1)', async () => {
    const tb = await startBroker();
    try {
      const w = await watcher(tb);
      const c = await withWill(tb, 'with-will');
      c.send({ cmd: 'disconnect', reasonCode: 0x04 });
      assert.equal(pub(await w.next('publish')).topic, 'will/with-will');
    } finally {
      await tb.close();
    }
  });

  test('publishes the will when the server closes for keep-alive timeout [MQTT-3.1.2-8] [MQTT-3.1.2-22]', async () => {
    const clock = new ManualClock();
    const tb = await startBroker({ clock });
    try {
      const w = await watcher(tb);
      const c = await withWill(tb, 'silent', {}, {}, 5);
      clock.advance(7_500);
      assert.equal(((await c.next('disconnect')) as IDisconnectPacket).reasonCode, 0x8d);
      assert.equal(pub(await w.next('publish')).topic, 'will/silent');
    } finally {
      await tb.close();
    }
  });

  test('waits for the Will Delay Interval before publishing (MQTT 5.0 §3.1.3.2.2)', async () => {
    const clock = new ManualClock();
    const tb = await startBroker({ clock });
    try {
      const w = await watcher(tb);
      const c = await withWill(
        tb,
        'delayed',
        { willDelayInterval: 30 },
        { sessionExpiryInterval: 600 },
      );
      c.socket.destroy();
      await c.waitClosed();
      await offline(tb);
      clock.advance(29_000);
      assert.equal(await nothingFor(w), true);
      clock.advance(1_000);
      assert.equal(pub(await w.next('publish')).topic, 'will/delayed');
    } finally {
      await tb.close();
    }
  });

  test('does not publish the will when the client reconnects within the delay [MQTT-3.1.3-9]', async () => {
    const clock = new ManualClock();
    const tb = await startBroker({ clock });
    try {
      const w = await watcher(tb);
      const c = await withWill(
        tb,
        'back',
        { willDelayInterval: 30 },
        { sessionExpiryInterval: 600 },
      );
      c.socket.destroy();
      await c.waitClosed();
      await offline(tb);
      clock.advance(10_000);
      const again = await tb.raw();
      await again.connect({
        clientId: 'back',
        clean: false,
        properties: { sessionExpiryInterval: 600 },
      });
      clock.advance(60_000);
      assert.equal(await nothingFor(w), true);
    } finally {
      await tb.close();
    }
  });

  test('publishes a delayed will when the session ends first (MQTT 5.0 §3.1.2.5)', async () => {
    const clock = new ManualClock();
    const tb = await startBroker({ clock });
    try {
      const w = await watcher(tb);
      const c = await withWill(
        tb,
        'ends',
        { willDelayInterval: 300 },
        { sessionExpiryInterval: 20 },
      );
      c.socket.destroy();
      await c.waitClosed();
      await offline(tb);
      clock.advance(20_000);
      assert.equal(pub(await w.next('publish')).topic, 'will/ends');
      assert.equal(tb.broker.stats.sessions.total, 1);
    } finally {
      await tb.close();
    }
  });

  test('publishes the will of a connection taken over (MQTT 5.0 §3.1.4)', async () => {
    const tb = await startBroker();
    try {
      const w = await watcher(tb);
      await withWill(tb, 'taken');
      const b = await tb.raw();
      await b.connect({ clientId: 'taken' });
      assert.equal(pub(await w.next('publish')).topic, 'will/taken');
    } finally {
      await tb.close();
    }
  });

  test('retains a will published with Will Retain (MQTT 5.0 §3.1.2.7)', async () => {
    const tb = await startBroker();
    try {
      const c = await tb.client({
        clientId: 'rw',
        will: { topic: 'will/rw', payload: Buffer.from('bye'), qos: 0, retain: true },
      });
      c.stream.destroy();
      const s = await tb.client();
      const got = collect(s, 1);
      await s.subscribeAsync('will/rw');
      const [m] = await got;
      assert.equal(m!.packet.retain, true);
    } finally {
      await tb.close();
    }
  });

  test('refuses a will with an invalid topic with 0x90 (MQTT 5.0 §3.1.3.3)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      const ack = await raw.connect({
        will: { topic: 'bad/#', payload: Buffer.from('x'), qos: 0, retain: false },
      });
      assert.equal((ack as { reasonCode: number }).reasonCode, 0x90);
    } finally {
      await tb.close();
    }
  });
});

describe('DISCONNECT', () => {
  test('treats a Session Expiry Interval set in DISCONNECT after 0 in CONNECT as protocol error [MQTT-3.14.2-2]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 10 } });
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x82);
    } finally {
      await tb.close();
    }
  });

  test('lets DISCONNECT shorten the session expiry to 0, ending the session (MQTT 5.0 §3.14.2.2.2)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect({
        clientId: 'shorten',
        clean: false,
        properties: { sessionExpiryInterval: 100 },
      });
      raw.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await raw.waitClosed();
      assert.equal(tb.broker.stats.sessions.total, 0);
    } finally {
      await tb.close();
    }
  });

  test('sends DISCONNECT 0x8B Server shutting down to MQTT 5 clients on close (MQTT 5.0 §3.14.2.1)', async () => {
    const tb = await startBroker();
    const raw = await tb.raw();
    await raw.connect();
    const v4 = await tb.raw();
    await v4.connect({}, 4);
    const closing = tb.broker.close();
    assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x8b);
    await v4.waitClosed();
    assert.equal(v4.packets.length, 0);
    await closing;
    await tb.close();
  });
});

describe('will authorization', () => {
  test('refuses a CONNECT whose will the authorizePublish hook refuses with 0x87 (MQTT 5.0 §3.2.2.2)', async () => {
    const tb = await startBroker({
      hooks: { authorizePublish: (_c, m) => m.topic !== 'will/forbidden' },
    });
    try {
      const raw = await tb.raw();
      const ack = await raw.connect({
        will: { topic: 'will/forbidden', payload: Buffer.from('x'), qos: 0, retain: false },
      });
      assert.equal((ack as { reasonCode: number }).reasonCode, 0x87);
      const ok = await tb.raw();
      const ack2 = await ok.connect({
        will: { topic: 'will/allowed', payload: Buffer.from('x'), qos: 0, retain: false },
      });
      assert.equal((ack2 as { reasonCode: number }).reasonCode, 0);
    } finally {
      await tb.close();
    }
  });
});
