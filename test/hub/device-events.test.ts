import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkEventFilter,
  type DeviceEvent,
  DeviceEventFeed,
  eventMatches,
} from '../../src/hub/device-events.js';
import { DeviceRegistry } from '../../src/hub/device-registry.js';
import { HubError } from '../../src/hub/errors.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { ManualClock } from '../../src/util/clock.js';

const FIELDS = { types: 'type', devices: 'device', paths: 'path' };
const data = (path: string): DeviceEvent => ({ type: 'data', device: 'd', ts: '', path });

describe('device events', () => {
  test('a path filter takes the path and what is below it, at segment boundaries (LwM2M-TS-Core 1.1 §6.1)', () => {
    const filter = checkEventFilter({ paths: ['/3303/', '/3/0/9'] }, FIELDS);
    assert.deepEqual(filter.paths, ['/3303', '/3/0/9'], 'a trailing slash is dropped');
    assert.equal(eventMatches(filter, data('/3303')), true);
    assert.equal(eventMatches(filter, data('/3303/0/5700')), true);
    assert.equal(eventMatches(filter, data('/33030/0/1')), false);
    assert.equal(eventMatches(filter, data('/3/0/9')), true);
    assert.equal(eventMatches(filter, data('/3/0/90')), false);
    assert.equal(
      eventMatches(filter, { type: 'online', device: 'd', ts: '' }),
      false,
      'events without a path do not pass a path filter',
    );
    assert.equal(eventMatches({}, { type: 'online', device: 'd', ts: '' }), true);
  });

  test('a filter is checked: known types, LwM2M paths, bounded lists', () => {
    const field = (input: Parameters<typeof checkEventFilter>[0]) => {
      try {
        checkEventFilter(input, FIELDS);
      } catch (e) {
        assert.ok(e instanceof HubError);
        return e.field;
      }
      return undefined;
    };
    assert.equal(field({ types: ['online', 'exploded'] }), 'type');
    assert.equal(field({ types: 'online' }), 'type', 'a list, not a string');
    assert.equal(field({ paths: ['/3303/0/5700/0/1'] }), 'path', 'at most four levels');
    assert.equal(field({ paths: ['/a'] }), 'path');
    assert.equal(field({ devices: Array.from({ length: 101 }, (_, i) => `d${i}`) }), 'device');
    assert.equal(field({ devices: [''] }), 'device');
    assert.deepEqual(checkEventFilter({ types: [], devices: ['a', 'a'] }, FIELDS), {
      devices: ['a'],
    });
  });

  test('the registry events as JSON, to each consumer its own filter; close detaches', async (t) => {
    const clock = new ManualClock(0);
    const store = new SqliteStore({ dataDir: ':memory:', clock });
    t.after(() => store.close());
    const devices = new DeviceRegistry({ store: store.devices });
    const feed = new DeviceEventFeed({ devices, clock });
    const all: DeviceEvent[] = [];
    const onlyB: DeviceEvent[] = [];
    feed.subscribe({}, (e) => all.push(e));
    const stop = feed.subscribe({ devices: ['b'], types: ['registered'] }, (e) => onlyB.push(e));
    await devices.create({ id: 'a', protocol: 'mqtt', tags: ['t'] });
    await devices.create({ id: 'b', protocol: 'lwm2m' });
    const release = devices.attach('a', { protocol: 'mqtt', close: () => undefined });
    release();
    stop();
    await devices.create({ id: 'c', protocol: 'mqtt' });
    assert.deepEqual(
      all.map((e) => [e.type, e.device]),
      [
        ['registered', 'a'],
        ['registered', 'b'],
        ['online', 'a'],
        ['offline', 'a'],
        ['registered', 'c'],
      ],
    );
    assert.deepEqual(all[0]!.data, {
      id: 'a',
      protocol: 'mqtt',
      tags: ['t'],
      metadata: {},
      credentials: {},
      online: false,
      createdAt: '1970-01-01T00:00:00.000Z',
      updatedAt: '1970-01-01T00:00:00.000Z',
    });
    assert.equal(all[2]!.protocol, 'mqtt');
    assert.equal(all[2]!.ts, '1970-01-01T00:00:00.000Z');
    assert.deepEqual(
      onlyB.map((e) => e.device),
      ['b'],
    );
    feed.close();
    assert.equal(devices.events.listenerCount('registered'), 0);
  });
});
