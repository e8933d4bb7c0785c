import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MqttMessage } from '../../src/mqtt/message.js';
import type {
  MqttPersistence,
  StoredDelivery,
  StoredSession,
} from '../../src/mqtt/persistence/types.js';
import type { Subscription } from '../../src/mqtt/topic/subscription.js';

/** A fresh, empty backend; `reopen` (durable backends) gives a new instance on the same data. */
export interface PersistenceFixture {
  persistence: MqttPersistence;
  reopen?: () => Promise<MqttPersistence>;
  close(): Promise<void>;
}

/** Every byte value, so that a text conversion anywhere shows. */
const BINARY = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** A message with every property the broker keeps (MQTT 5.0 §3.3.2.3). */
export function fullMessage(topic = 'plant/1/temp'): MqttMessage {
  return {
    topic,
    payload: BINARY,
    qos: 2,
    retain: true,
    properties: {
      payloadFormatIndicator: false,
      messageExpiryInterval: 3600,
      contentType: 'application/octet-stream',
      responseTopic: 'plant/1/reply',
      correlationData: Buffer.from([0, 1, 0xfe, 0xff, 0x22, 0x5c]),
      // Wire order, duplicates kept [MQTT-3.3.2-18].
      userProperties: [
        ['k', 'v1'],
        ['a', 'b'],
        ['k', 'v2'],
        ['', 'ü€'],
      ],
    },
    // 2100-01-01: far enough that no store clock has purged it.
    expiresAt: 4_102_444_800_000,
    origin: 'publisher-1',
  };
}

export function plainMessage(topic: string, payload = 'x'): MqttMessage {
  return { topic, payload: Buffer.from(payload), qos: 1, retain: false, properties: {} };
}

function sub(clientId: string, filter: string, extra: Partial<Subscription> = {}): Subscription {
  return {
    clientId,
    filter,
    topicFilter: filter,
    qos: 1,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
    ...extra,
  };
}

function delivery(seq: number, extra: Partial<StoredDelivery> = {}): StoredDelivery {
  return {
    seq,
    state: 'queued',
    qos: 1,
    retain: false,
    message: plainMessage(`t/${seq}`, `m${seq}`),
    ...extra,
  };
}

/**
 * What every `MqttPersistence` backend owes the broker (src/mqtt/persistence/types.ts): exact
 * round trips of every field (absent optional fields stay absent), replace-by-key semantics,
 * ordering, per-client isolation, no aliasing of the caller's objects (payload Buffers aside: the
 * broker never writes into one), reads that see every earlier write, and, for durable
 * backends, everything awaited is there after a reopen. Each backend's test file runs this
 * suite with a factory for a fresh, empty backend.
 */
export function mqttPersistenceContract(
  backend: string,
  open: () => Promise<PersistenceFixture>,
): void {
  describe(`${backend} MQTT persistence contract`, () => {
    const withP = (name: string, fn: (p: MqttPersistence, f: PersistenceFixture) => unknown) =>
      test(name, async () => {
        const f = await open();
        try {
          await fn(f.persistence, f);
        } finally {
          await f.close();
        }
      });

    withP('a session round-trips with its will and every property [MQTT-4.1.0-1]', async (p) => {
      const session: StoredSession = {
        clientId: 'c1',
        protocolVersion: 5,
        expiryInterval: 0xffffffff,
        disconnectedAt: 1_700_000_000_123,
        will: { delayInterval: 30, message: fullMessage('will/c1') },
      };
      await p.saveSession(session);
      assert.deepEqual(await p.getSession('c1'), session);
      assert.equal(await p.getSession('nobody'), undefined);
    });

    withP('a session without will or disconnect time keeps those fields absent', async (p) => {
      const session: StoredSession = { clientId: 'c1', protocolVersion: 4, expiryInterval: 60 };
      await p.saveSession(session);
      const back = await p.getSession('c1');
      assert.deepEqual(back, session);
      assert.ok(back && !('will' in back) && !('disconnectedAt' in back));
    });

    withP('saveSession replaces the whole session, will included', async (p) => {
      await p.saveSession({
        clientId: 'c1',
        protocolVersion: 5,
        expiryInterval: 10,
        will: { delayInterval: 5, message: plainMessage('w') },
      });
      await p.saveSession({
        clientId: 'c1',
        protocolVersion: 3,
        expiryInterval: 20,
        disconnectedAt: 5,
      });
      assert.deepEqual(await p.getSession('c1'), {
        clientId: 'c1',
        protocolVersion: 3,
        expiryInterval: 20,
        disconnectedAt: 5,
      });
      assert.equal((await p.listSessions()).length, 1);
    });

    withP('listSessions returns every session', async (p) => {
      for (const id of ['b', 'a', 'c']) {
        await p.saveSession({ clientId: id, protocolVersion: 5, expiryInterval: 1 });
      }
      const ids = (await p.listSessions()).map((s) => s.clientId).sort();
      assert.deepEqual(ids, ['a', 'b', 'c']);
    });

    withP('deleteSession removes the session and all it owns, and nothing else', async (p) => {
      for (const id of ['gone', 'kept']) {
        await p.saveSession({ clientId: id, protocolVersion: 5, expiryInterval: 100 });
        await p.putSubscription(id, sub(id, 'a/#'));
        await p.putDelivery(id, delivery(1));
        await p.addIncomingQos2(id, 7);
      }
      await p.deleteSession('gone');
      assert.equal(await p.getSession('gone'), undefined);
      assert.deepEqual(await p.listSubscriptions('gone'), []);
      assert.deepEqual(await p.listDeliveries('gone'), []);
      assert.deepEqual(await p.listIncomingQos2('gone'), []);
      assert.ok(await p.getSession('kept'));
      assert.equal((await p.listSubscriptions('kept')).length, 1);
      assert.equal((await p.listDeliveries('kept')).length, 1);
      assert.deepEqual(await p.listIncomingQos2('kept'), [7]);
    });

    withP('a session can be created again after deleteSession', async (p) => {
      await p.saveSession({ clientId: 'c', protocolVersion: 5, expiryInterval: 1 });
      await p.putDelivery('c', delivery(1));
      await p.deleteSession('c');
      await p.saveSession({ clientId: 'c', protocolVersion: 4, expiryInterval: 2 });
      await p.putDelivery('c', delivery(1, { message: plainMessage('new') }));
      assert.equal((await p.getSession('c'))?.protocolVersion, 4);
      const ds = await p.listDeliveries('c');
      assert.deepEqual(
        ds.map((d) => d.message.topic),
        ['new'],
      );
    });

    withP('subscriptions keep every option and the subscription identifier', async (p) => {
      const subs = [
        sub('c1', 'plant/+/temp', {
          qos: 2,
          noLocal: true,
          retainAsPublished: true,
          retainHandling: 2,
          subscriptionIdentifier: 268_435_455,
        }),
        sub('c1', '$share/g1/jobs/#', { topicFilter: 'jobs/#', group: 'g1', qos: 0 }),
        sub('c1', '#', { retainHandling: 1 }),
      ];
      for (const s of subs) await p.putSubscription('c1', s);
      await p.putSubscription('c2', sub('c2', 'other'));
      const back = await p.listSubscriptions('c1');
      const byFilter = (a: Subscription, b: Subscription) => (a.filter < b.filter ? -1 : 1);
      assert.deepEqual([...back].sort(byFilter), [...subs].sort(byFilter));
      assert.ok(!('subscriptionIdentifier' in back.find((s) => s.filter === '#')!));
      assert.ok(!('group' in back.find((s) => s.filter === '#')!));
      assert.deepEqual(await p.listSubscriptions('nobody'), []);
    });

    withP('putSubscription replaces by filter; deleteSubscription removes one', async (p) => {
      await p.putSubscription('c1', sub('c1', 'a', { qos: 0, subscriptionIdentifier: 1 }));
      await p.putSubscription('c1', sub('c1', 'a', { qos: 2 }));
      await p.putSubscription('c1', sub('c1', 'b'));
      assert.deepEqual(
        (await p.listSubscriptions('c1')).find((s) => s.filter === 'a'),
        sub('c1', 'a', { qos: 2 }),
      );
      await p.deleteSubscription('c1', 'a');
      await p.deleteSubscription('c1', 'never-there');
      assert.deepEqual(
        (await p.listSubscriptions('c1')).map((s) => s.filter),
        ['b'],
      );
    });

    withP('retained messages round-trip, replace by topic and are deleted', async (p) => {
      const full = fullMessage('r/full');
      const plain = plainMessage('r/plain');
      await p.putRetained(full);
      await p.putRetained(plain);
      await p.putRetained({ ...plainMessage('r/plain', 'newer'), retain: true });
      const byTopic = new Map((await p.listRetained()).map((m) => [m.topic, m]));
      assert.equal(byTopic.size, 2);
      assert.deepEqual(byTopic.get('r/full'), full);
      assert.deepEqual(byTopic.get('r/plain'), {
        ...plainMessage('r/plain', 'newer'),
        retain: true,
      });
      assert.ok(!('expiresAt' in byTopic.get('r/plain')!));
      assert.ok(!('origin' in byTopic.get('r/plain')!));
      await p.deleteRetained('r/full');
      await p.deleteRetained('r/never');
      assert.deepEqual(
        (await p.listRetained()).map((m) => m.topic),
        ['r/plain'],
      );
    });

    withP('correlation data and user properties survive exactly [MQTT-3.3.2-18]', async (p) => {
      const m = fullMessage('r/props');
      await p.putRetained(m);
      const [back] = await p.listRetained();
      assert.ok(Buffer.isBuffer(back!.properties.correlationData));
      assert.ok(back!.properties.correlationData!.equals(m.properties.correlationData!));
      assert.deepEqual(back!.properties.userProperties, m.properties.userProperties);
      assert.ok(back!.payload.equals(BINARY));
    });

    withP('deliveries round-trip in every state, ordered by seq', async (p) => {
      const ds: StoredDelivery[] = [
        delivery(3, { state: 'pubrel', packetId: 65535, qos: 2 }),
        delivery(1),
        delivery(2, {
          state: 'publish',
          packetId: 1,
          qos: 2,
          retain: true,
          subscriptionIds: [1, 268_435_455],
          message: fullMessage('d/full'),
        }),
        delivery(4, { group: 'g1', subscriptionIds: [5], qos: 0 }),
      ];
      for (const d of ds) await p.putDelivery('c1', d);
      await p.putDelivery('c2', delivery(1, { message: plainMessage('other') }));
      const back = await p.listDeliveries('c1');
      assert.deepEqual(
        back,
        [...ds].sort((a, b) => a.seq - b.seq),
      );
      assert.ok(!('packetId' in back[0]!) && !('subscriptionIds' in back[0]!));
      assert.ok(!('group' in back[0]!));
      assert.deepEqual(await p.listDeliveries('nobody'), []);
    });

    withP('putDelivery replaces by seq through queued, publish and pubrel', async (p) => {
      const d = delivery(9, { qos: 2 });
      await p.putDelivery('c1', d);
      await p.putDelivery('c1', { ...d, state: 'publish', packetId: 42 });
      await p.putDelivery('c1', { ...d, state: 'pubrel', packetId: 42 });
      assert.deepEqual(await p.listDeliveries('c1'), [{ ...d, state: 'pubrel', packetId: 42 }]);
      await p.deleteDelivery('c1', 9);
      await p.deleteDelivery('c1', 10);
      assert.deepEqual(await p.listDeliveries('c1'), []);
    });

    withP('stored state does not alias the objects the broker goes on mutating', async (p) => {
      const d = delivery(1, { subscriptionIds: [1] });
      const putting = p.putDelivery('c1', d);
      d.state = 'publish';
      d.packetId = 5;
      d.subscriptionIds!.push(2);
      // Payload Buffers are not copied by every backend: the broker never writes into them.
      await putting;
      const [back] = await p.listDeliveries('c1');
      assert.equal(back!.state, 'queued');
      assert.equal(back!.packetId, undefined);
      assert.deepEqual(back!.subscriptionIds, [1]);
      back!.message.topic = 'changed';
      assert.equal((await p.listDeliveries('c1'))[0]!.message.topic, 't/1');
    });

    withP('incoming QoS 2 identifiers are a set per client [MQTT-4.3.3-9]', async (p) => {
      await p.addIncomingQos2('c1', 300);
      await p.addIncomingQos2('c1', 2);
      await p.addIncomingQos2('c1', 2);
      await p.addIncomingQos2('c2', 2);
      assert.deepEqual(await p.listIncomingQos2('c1'), [2, 300]);
      await p.deleteIncomingQos2('c1', 2);
      await p.deleteIncomingQos2('c1', 4);
      assert.deepEqual(await p.listIncomingQos2('c1'), [300]);
      assert.deepEqual(await p.listIncomingQos2('c2'), [2]);
    });

    withP('reads see every write made before them, awaited or not', async (p) => {
      void p.saveSession({ clientId: 'c', protocolVersion: 5, expiryInterval: 1 });
      void p.putSubscription('c', sub('c', 'a'));
      void p.putDelivery('c', delivery(1));
      void p.putDelivery('c', delivery(2));
      void p.deleteDelivery('c', 1);
      void p.addIncomingQos2('c', 3);
      void p.putRetained(plainMessage('r'));
      assert.equal((await p.listSessions()).length, 1);
      assert.equal((await p.listSubscriptions('c')).length, 1);
      assert.deepEqual(
        (await p.listDeliveries('c')).map((d) => d.seq),
        [2],
      );
      assert.deepEqual(await p.listIncomingQos2('c'), [3]);
      assert.equal((await p.listRetained()).length, 1);
      await p.flush?.();
    });

    withP('everything awaited is there after a reopen (durable backends)', async (p, f) => {
      if (!f.reopen) return;
      const session: StoredSession = {
        clientId: 'c1',
        protocolVersion: 5,
        expiryInterval: 3600,
        disconnectedAt: 1,
        will: { delayInterval: 10, message: fullMessage('will') },
      };
      const s1 = sub('c1', 'plant/#', { qos: 2, subscriptionIdentifier: 7 });
      const d1 = delivery(1, { state: 'publish', packetId: 3, message: fullMessage('d') });
      const d2 = delivery(2, { qos: 2 });
      await Promise.all([
        p.saveSession(session),
        p.putSubscription('c1', s1),
        p.putDelivery('c1', d1),
        p.putDelivery('c1', d2),
        p.addIncomingQos2('c1', 11),
        p.putRetained(fullMessage('r')),
      ]);
      const q = await f.reopen();
      assert.deepEqual(await q.listSessions(), [session]);
      assert.deepEqual(await q.listSubscriptions('c1'), [s1]);
      assert.deepEqual(await q.listDeliveries('c1'), [d1, d2]);
      assert.deepEqual(await q.listIncomingQos2('c1'), [11]);
      assert.deepEqual(await q.listRetained(), [fullMessage('r')]);
    });
  });
}
