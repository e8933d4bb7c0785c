import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IConnackPacket, IPubcompPacket, IPublishPacket } from 'mqtt-packet';
import { MemoryPersistence } from '../../src/mqtt/persistence/memory.js';
import type { MqttPersistence } from '../../src/mqtt/persistence/types.js';
import { ManualClock } from '../../src/util/clock.js';
import { settle, startBroker, type TestBroker, waitFor } from './helpers.js';

const pub = (p: unknown) => p as IPublishPacket;

/**
 * A store that stops taking writes at `crash()`: what it holds then is exactly what a process
 * killed with SIGKILL at that instant would have left behind.
 */
function crashable(store: MemoryPersistence): { persistence: MqttPersistence; crash(): void } {
  let crashed = false;
  const persistence = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const name = String(prop);
        if (crashed && !name.startsWith('list') && !name.startsWith('get')) return undefined;
        return value.apply(target, args);
      };
    },
  });
  return { persistence, crash: () => (crashed = true) };
}

/** Abandons a broker as a crash would: sockets cut, no close(), no further writes. */
async function crash(tb: TestBroker, c: { crash(): void }): Promise<void> {
  c.crash();
  await tb.close(); // the store ignores everything from here on
}

const SESSION = { clean: false, properties: { sessionExpiryInterval: 3600 } };

describe('restart and crash', () => {
  test('keeps sessions, subscriptions and retained messages across a clean restart', async () => {
    const store = new MemoryPersistence();
    const one = await startBroker({ persistence: store });
    const c = await one.client({ clientId: 'persist', ...SESSION });
    await c.subscribeAsync('keep/+', { qos: 1 });
    await c.publishAsync('other/r', 'retained', { qos: 1, retain: true });
    await one.close();

    const two = await startBroker({ persistence: store });
    try {
      await two.broker.publish({ topic: 'keep/x', payload: Buffer.from('while away'), qos: 1 });
      const raw = await two.raw();
      const ack = (await raw.connect({ clientId: 'persist', ...SESSION })) as IConnackPacket;
      assert.equal(ack.sessionPresent, true);
      const m = pub(await raw.next('publish'));
      assert.equal(m.payload.toString(), 'while away');
      assert.equal(two.broker.stats.messages.retained, 1);
    } finally {
      await two.close();
    }
  });

  test('delivers after a crash a QoS 1 message the broker acknowledged (write before PUBACK)', async () => {
    const store = new MemoryPersistence();
    const c1 = crashable(store);
    const one = await startBroker({ persistence: c1.persistence });
    const sub = await one.raw();
    await sub.connect({ clientId: 'sub', ...SESSION });
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'acked', qos: 1 }] });
    await sub.next('suback');
    sub.send({ cmd: 'disconnect' });
    await sub.waitClosed();
    const p = await one.client();
    await p.publishAsync('acked', 'must survive', { qos: 1 }); // resolves on PUBACK
    await crash(one, c1);

    const two = await startBroker({ persistence: store });
    try {
      const again = await two.raw();
      await again.connect({ clientId: 'sub', ...SESSION });
      assert.equal(pub(await again.next('publish')).payload.toString(), 'must survive');
    } finally {
      await two.close();
    }
  });

  test('re-sends an unacknowledged outbound message with DUP after a crash [MQTT-4.4.0-1]', async () => {
    const store = new MemoryPersistence();
    const c1 = crashable(store);
    const one = await startBroker({ persistence: c1.persistence });
    const sub = await one.raw();
    await sub.connect({ clientId: 'inflight', ...SESSION });
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'if', qos: 1 }] });
    await sub.next('suback');
    await one.broker.publish({ topic: 'if', payload: Buffer.from('once'), qos: 1 });
    const first = pub(await sub.next('publish'));
    await crash(one, c1);

    const two = await startBroker({ persistence: store });
    try {
      const again = await two.raw();
      await again.connect({ clientId: 'inflight', ...SESSION });
      const m = pub(await again.next('publish'));
      assert.equal(m.dup, true);
      assert.equal(m.messageId, first.messageId);
    } finally {
      await two.close();
    }
  });

  test('remembers an inbound QoS 2 identifier after a crash so PUBREL completes (write before PUBREC)', async () => {
    const store = new MemoryPersistence();
    const c1 = crashable(store);
    const one = await startBroker({ persistence: c1.persistence });
    const p = await one.raw();
    await p.connect({ clientId: 'q2pub', ...SESSION });
    p.send({
      cmd: 'publish',
      topic: 'x',
      payload: Buffer.from('x'),
      qos: 2,
      messageId: 12,
      retain: false,
      dup: false,
    });
    await p.next('pubrec');
    await crash(one, c1);

    const two = await startBroker({ persistence: store });
    try {
      const again = await two.raw();
      await again.connect({ clientId: 'q2pub', ...SESSION });
      again.send({ cmd: 'pubrel', messageId: 12 });
      const comp = (await again.next('pubcomp')) as IPubcompPacket;
      assert.equal(comp.reasonCode ?? 0, 0);
    } finally {
      await two.close();
    }
  });

  test('publishes after a crash the will of a client that was connected (MQTT 5.0 §3.1.2.5)', async () => {
    const store = new MemoryPersistence();
    const c1 = crashable(store);
    const one = await startBroker({ persistence: c1.persistence });
    const w = await one.raw();
    await w.connect({ clientId: 'watch', ...SESSION });
    w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'will/#', qos: 1 }] });
    await w.next('suback');
    const c = await one.raw();
    await c.connect({
      clientId: 'mortal',
      ...SESSION,
      will: { topic: 'will/mortal', payload: Buffer.from('bye'), qos: 1, retain: false },
    });
    await crash(one, c1);

    const two = await startBroker({ persistence: store });
    try {
      const again = await two.raw();
      await again.connect({ clientId: 'watch', ...SESSION });
      assert.equal(pub(await again.next('publish')).topic, 'will/mortal');
    } finally {
      await two.close();
    }
  });

  test('PUBREL leaves only once the pubrel state is stored [MQTT-4.3.3]', async () => {
    const store = new MemoryPersistence();
    let release: (() => void) | undefined;
    const gated = new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== 'putDelivery') return typeof value === 'function' ? value.bind(target) : value;
        return (clientId: string, d: { state?: string }) => {
          const done = value.call(target, clientId, d);
          if (d.state !== 'pubrel') return done;
          return new Promise<unknown>((resolve) => {
            release = () => resolve(done);
          });
        };
      },
    });
    const tb = await startBroker({ persistence: gated });
    try {
      const sub = await tb.raw();
      await sub.connect({ clientId: 'q2', ...SESSION });
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q2/t', qos: 2 }] });
      await sub.next('suback');
      await tb.broker.publish({ topic: 'q2/t', payload: Buffer.from('once'), qos: 2 });
      const m = pub(await sub.next('publish'));
      sub.send({ cmd: 'pubrec', messageId: m.messageId! });
      await waitFor(() => release !== undefined, 'the pubrel state write');
      await settle(50);
      assert.equal(
        sub.packets.some((p) => p.cmd === 'pubrel'),
        false,
        'no PUBREL while the write is pending',
      );
      release!();
      const rel = (await sub.next('pubrel')) as { messageId: number };
      assert.equal(rel.messageId, m.messageId);
    } finally {
      await tb.close();
    }
  });

  test('an expired retained message is removed from the store at restart [MQTT-3.3.2-5]', async () => {
    const store = new MemoryPersistence();
    const clock = new ManualClock();
    const one = await startBroker({ persistence: store, clock });
    await one.broker.publish({
      topic: 'short/lived',
      payload: Buffer.from('x'),
      qos: 1,
      retain: true,
      properties: { messageExpiryInterval: 60 },
    });
    await one.close();
    assert.equal((await store.listRetained()).length, 1);
    clock.advance(61_000);
    const two = await startBroker({ persistence: store, clock });
    try {
      await two.broker.ready;
      assert.equal(two.broker.stats.messages.retained, 0);
      assert.deepEqual(await store.listRetained(), []);
    } finally {
      await two.close();
    }
  });
});
