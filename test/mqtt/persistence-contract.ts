import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MqttMessage } from '../../src/mqtt/message.js';
import type {
  MaybePromise,
  MqttPersistence,
  StoredDelivery,
  StoredSession,
} from '../../src/mqtt/persistence/types.js';
import type { Subscription } from '../../src/mqtt/topic/subscription.js';

/** How the contract suite gets a backend. */
export interface PersistenceFactory {
  /** A fresh, empty store. */
  create(): MaybePromise<MqttPersistence>;
  /**
   * For durable backends: closes `previous` as a crash would leave it (no flush beyond what the
   * contract requires) and opens the same store again. Omit for memory-only backends.
   */
  reopen?(previous: MqttPersistence): MaybePromise<MqttPersistence>;
  /** Releases a store after a test. */
  destroy?(store: MqttPersistence): MaybePromise<void>;
}

function message(topic: string, extra: Partial<MqttMessage> = {}): MqttMessage {
  return {
    topic,
    payload: Buffer.from([0, 1, 2, 255]),
    qos: 1,
    retain: true,
    properties: {
      payloadFormatIndicator: false,
      messageExpiryInterval: 60,
      contentType: 'application/octet-stream',
      responseTopic: 'r/t',
      correlationData: Buffer.from('corr'),
      userProperties: [
        ['a', '1'],
        ['b', '2'],
        ['a', '3'],
      ],
    },
    expiresAt: 1_700_000_060_000,
    ...extra,
  };
}

function subscription(
  clientId: string,
  filter: string,
  extra: Partial<Subscription> = {},
): Subscription {
  return {
    clientId,
    filter,
    topicFilter: filter,
    qos: 1,
    noLocal: true,
    retainAsPublished: true,
    retainHandling: 1,
    subscriptionIdentifier: 42,
    ...extra,
  };
}

function delivery(seq: number, extra: Partial<StoredDelivery> = {}): StoredDelivery {
  return {
    seq,
    state: 'queued',
    qos: 1,
    retain: false,
    subscriptionIds: [1, 7],
    message: message(`d/${seq}`, { retain: false }),
    ...extra,
  };
}

const sorted = <T>(xs: T[], key: (x: T) => string) =>
  [...xs].sort((a, b) => key(a).localeCompare(key(b)));

/**
 * The behaviour every `MqttPersistence` backend must show. Call from a `*.test.ts` file:
 * `persistenceContract('memory', { create: () => new MemoryPersistence() })`.
 */
export function persistenceContract(name: string, factory: PersistenceFactory): void {
  async function withStore(fn: (p: MqttPersistence) => Promise<void>): Promise<void> {
    const p = await factory.create();
    try {
      await fn(p);
    } finally {
      await factory.destroy?.(p);
    }
  }

  describe(`MqttPersistence contract: ${name}`, () => {
    test('saves, replaces, lists and deletes sessions with their will', () =>
      withStore(async (p) => {
        const s: StoredSession = {
          clientId: 'c1',
          protocolVersion: 5,
          expiryInterval: 3600,
          disconnectedAt: 1_700_000_000_000,
          will: { delayInterval: 30, message: message('will/c1') },
        };
        await p.saveSession(s);
        await p.saveSession({ clientId: 'c2', protocolVersion: 4, expiryInterval: 0xffffffff });
        assert.deepEqual(await p.getSession('c1'), s);
        await p.saveSession({ ...s, expiryInterval: 10, will: undefined as never });
        const replaced = await p.getSession('c1');
        assert.equal(replaced?.expiryInterval, 10);
        assert.equal(replaced?.will, undefined);
        assert.deepEqual(
          sorted(await p.listSessions(), (x) => x.clientId).map((x) => x.clientId),
          ['c1', 'c2'],
        );
        await p.deleteSession('c1');
        assert.equal(await p.getSession('c1'), undefined);
        assert.equal((await p.listSessions()).length, 1);
      }));

    test('keeps message bytes, properties in order and expiry exactly', () =>
      withStore(async (p) => {
        const m = message('exact');
        await p.putRetained(m);
        const [back] = await p.listRetained();
        assert.deepEqual(back, m);
        assert.ok(Buffer.isBuffer(back!.payload));
        assert.ok(Buffer.isBuffer(back!.properties.correlationData));
      }));

    test('replaces and deletes retained messages by topic', () =>
      withStore(async (p) => {
        await p.putRetained(message('t/1'));
        await p.putRetained(message('t/2'));
        await p.putRetained(message('t/1', { payload: Buffer.from('new') }));
        const all = sorted(await p.listRetained(), (m) => m.topic);
        assert.deepEqual(
          all.map((m) => [m.topic, m.payload.toString('hex')]),
          [
            ['t/1', Buffer.from('new').toString('hex')],
            ['t/2', '000102ff'],
          ],
        );
        await p.deleteRetained('t/1');
        await p.deleteRetained('absent');
        assert.deepEqual(
          (await p.listRetained()).map((m) => m.topic),
          ['t/2'],
        );
      }));

    test('stores subscriptions per client, replaced by filter', () =>
      withStore(async (p) => {
        await p.putSubscription('c1', subscription('c1', 'a/+'));
        await p.putSubscription('c1', subscription('c1', 'a/+', { qos: 2 }));
        await p.putSubscription(
          'c1',
          subscription('c1', '$share/g/b', { topicFilter: 'b', group: 'g', noLocal: false }),
        );
        await p.putSubscription('c2', subscription('c2', 'x'));
        const subs = sorted(await p.listSubscriptions('c1'), (s) => s.filter);
        assert.equal(subs.length, 2);
        assert.deepEqual(
          subs[0],
          subscription('c1', '$share/g/b', { topicFilter: 'b', group: 'g', noLocal: false }),
        );
        assert.equal(subs[1]!.qos, 2);
        await p.deleteSubscription('c1', 'a/+');
        assert.equal((await p.listSubscriptions('c1')).length, 1);
        assert.equal((await p.listSubscriptions('c2')).length, 1);
        assert.deepEqual(await p.listSubscriptions('nobody'), []);
      }));

    test('stores deliveries in seq order and updates them in place', () =>
      withStore(async (p) => {
        await p.putDelivery('c1', delivery(3));
        await p.putDelivery('c1', delivery(1));
        await p.putDelivery('c1', delivery(2));
        await p.putDelivery('c1', delivery(1, { state: 'publish', packetId: 9 }));
        await p.putDelivery('c1', delivery(2, { state: 'pubrel', packetId: 10, qos: 2 }));
        const ds = await p.listDeliveries('c1');
        assert.deepEqual(
          ds.map((d) => [d.seq, d.state, d.packetId]),
          [
            [1, 'publish', 9],
            [2, 'pubrel', 10],
            [3, 'queued', undefined],
          ],
        );
        assert.deepEqual(ds[2], delivery(3));
        await p.deleteDelivery('c1', 2);
        assert.deepEqual(
          (await p.listDeliveries('c1')).map((d) => d.seq),
          [1, 3],
        );
        assert.deepEqual(await p.listDeliveries('c2'), []);
      }));

    test('tracks incoming QoS 2 packet identifiers', () =>
      withStore(async (p) => {
        await p.addIncomingQos2('c1', 5);
        await p.addIncomingQos2('c1', 2);
        await p.addIncomingQos2('c1', 5);
        assert.deepEqual(await p.listIncomingQos2('c1'), [2, 5]);
        await p.deleteIncomingQos2('c1', 5);
        assert.deepEqual(await p.listIncomingQos2('c1'), [2]);
        assert.deepEqual(await p.listIncomingQos2('c2'), []);
      }));

    test('deleteSession removes everything the session owns, and only that', () =>
      withStore(async (p) => {
        for (const id of ['gone', 'kept']) {
          await p.saveSession({ clientId: id, protocolVersion: 5, expiryInterval: 60 });
          await p.putSubscription(id, subscription(id, 'f'));
          await p.putDelivery(id, delivery(1));
          await p.addIncomingQos2(id, 1);
        }
        await p.putRetained(message('stays'));
        await p.deleteSession('gone');
        assert.deepEqual(await p.listSubscriptions('gone'), []);
        assert.deepEqual(await p.listDeliveries('gone'), []);
        assert.deepEqual(await p.listIncomingQos2('gone'), []);
        assert.equal((await p.listSubscriptions('kept')).length, 1);
        assert.equal((await p.listDeliveries('kept')).length, 1);
        assert.deepEqual(await p.listIncomingQos2('kept'), [1]);
        assert.equal((await p.listRetained()).length, 1);
      }));

    test('returns copies: changing what was stored or read does not change the store', () =>
      withStore(async (p) => {
        const m = message('copy');
        await p.putRetained(m);
        m.payload[0] = 99;
        m.properties.userProperties!.push(['z', 'z']);
        const [a] = await p.listRetained();
        assert.equal(a!.payload[0], 0);
        assert.equal(a!.properties.userProperties!.length, 3);
        a!.topic = 'changed';
        const [b] = await p.listRetained();
        assert.equal(b!.topic, 'copy');
      }));

    if (factory.reopen) {
      const reopen = factory.reopen.bind(factory);
      test('keeps every acknowledged write across a reopen (crash durability)', async () => {
        const first = await factory.create();
        await first.saveSession({ clientId: 'c', protocolVersion: 5, expiryInterval: 60 });
        await first.putSubscription('c', subscription('c', 's'));
        await first.putDelivery('c', delivery(1, { state: 'publish', packetId: 3 }));
        await first.addIncomingQos2('c', 8);
        await first.putRetained(message('r'));
        const second = await reopen(first);
        try {
          assert.equal((await second.getSession('c'))?.expiryInterval, 60);
          assert.equal((await second.listSubscriptions('c')).length, 1);
          assert.deepEqual(await second.listDeliveries('c'), [
            delivery(1, { state: 'publish', packetId: 3 }),
          ]);
          assert.deepEqual(await second.listIncomingQos2('c'), [8]);
          assert.deepEqual(await second.listRetained(), [message('r')]);
        } finally {
          await factory.destroy?.(second);
        }
      });
    }
  });
}
