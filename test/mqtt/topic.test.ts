import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RetainedStore } from '../../src/mqtt/topic/retained-store.js';
import type { Subscription } from '../../src/mqtt/topic/subscription.js';
import { TopicTrie } from '../../src/mqtt/topic/trie.js';
import {
  isValidTopicFilter,
  isValidTopicName,
  parseSharedFilter,
  topicMatches,
} from '../../src/mqtt/topic/validate.js';

function sub(clientId: string, filter: string, group?: string): Subscription {
  const s: Subscription = {
    clientId,
    filter: group ? `$share/${group}/${filter}` : filter,
    topicFilter: filter,
    qos: 0,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
  };
  if (group) s.group = group;
  return s;
}

function matches(trie: TopicTrie, topic: string): string[] {
  const out: string[] = [];
  trie.match(
    topic,
    (s) => out.push(`${s.clientId}:${s.filter}`),
    (g) => out.push(`group:${g.name}`),
  );
  return out.sort();
}

describe('topic names and filters', () => {
  test('accepts filters with whole-level wildcards and rejects others [MQTT-4.7.1-2] [MQTT-4.7.1-3]', () => {
    for (const f of ['#', '+', 'a/#', 'a/+/b', '+/+', '/', 'a//b', '+/#', 'sport/tennis/#']) {
      assert.equal(isValidTopicFilter(f), true, f);
    }
    for (const f of ['', 'a#', 'a/#/b', 'a/b#', 'a+', 'a/+b', '#/a', '##']) {
      assert.equal(isValidTopicFilter(f), false, f);
    }
  });

  test('rejects wildcards and empty strings in topic names [MQTT-3.3.2-2] [MQTT-4.7.3-1]', () => {
    assert.equal(isValidTopicName('a/b'), true);
    assert.equal(isValidTopicName('/'), true);
    assert.equal(isValidTopicName(''), false);
    assert.equal(isValidTopicName('a/+'), false);
    assert.equal(isValidTopicName('a/#'), false);
  });

  test('parses shared subscriptions and rejects bad share names [MQTT-4.8.2-1] [MQTT-4.8.2-2]', () => {
    assert.deepEqual(parseSharedFilter('$share/g/a/+'), { group: 'g', filter: 'a/+' });
    assert.equal(parseSharedFilter('a/b'), null);
    for (const f of [
      '$share/g',
      '$share//a',
      '$share/g+/a',
      '$share/g#/a',
      '$share/g/',
      '$share',
    ]) {
      assert.equal(parseSharedFilter(f), 'invalid', f);
    }
  });

  test('matches like the specification examples (MQTT 5.0 §4.7.1)', () => {
    assert.equal(topicMatches('sport/tennis/player1/#', 'sport/tennis/player1'), true);
    assert.equal(topicMatches('sport/tennis/player1/#', 'sport/tennis/player1/ranking'), true);
    assert.equal(topicMatches('sport/#', 'sport'), true);
    assert.equal(topicMatches('sport/tennis/+', 'sport/tennis/player1'), true);
    assert.equal(topicMatches('sport/tennis/+', 'sport/tennis/player1/ranking'), false);
    assert.equal(topicMatches('sport/+', 'sport'), false);
    assert.equal(topicMatches('sport/+', 'sport/'), true);
    assert.equal(topicMatches('+/+', '/finance'), true);
    assert.equal(topicMatches('/+', '/finance'), true);
    assert.equal(topicMatches('+', '/finance'), false);
  });

  test('does not match $ topics with leading wildcards [MQTT-4.7.2-1]', () => {
    assert.equal(topicMatches('#', '$SYS/broker'), false);
    assert.equal(topicMatches('+/broker', '$SYS/broker'), false);
    assert.equal(topicMatches('$SYS/#', '$SYS/broker'), true);
    assert.equal(topicMatches('$SYS/+', '$SYS/broker'), true);
  });
});

describe('topic trie', () => {
  test('matches exact, + and # branches and the parent level of # (MQTT 5.0 §4.7.1.2)', () => {
    const t = new TopicTrie();
    t.add(sub('a', 'sport/tennis/player1'));
    t.add(sub('b', 'sport/tennis/+'));
    t.add(sub('c', 'sport/#'));
    t.add(sub('d', '#'));
    t.add(sub('e', '+/+/+/ranking'));
    assert.deepEqual(matches(t, 'sport/tennis/player1'), [
      'a:sport/tennis/player1',
      'b:sport/tennis/+',
      'c:sport/#',
      'd:#',
    ]);
    assert.deepEqual(matches(t, 'sport'), ['c:sport/#', 'd:#']);
    assert.deepEqual(matches(t, 'sport/tennis/player1/ranking'), [
      'c:sport/#',
      'd:#',
      'e:+/+/+/ranking',
    ]);
    assert.equal(t.size, 5);
  });

  test('keeps $ topics away from leading wildcards [MQTT-4.7.2-1]', () => {
    const t = new TopicTrie();
    t.add(sub('a', '#'));
    t.add(sub('b', '+/info'));
    t.add(sub('c', '$SYS/#'));
    t.add(sub('d', '$SYS/+'));
    assert.deepEqual(matches(t, '$SYS/info'), ['c:$SYS/#', 'd:$SYS/+']);
  });

  test('replaces one subscription per client and filter, and prunes on removal (MQTT 5.0 §3.8.4)', () => {
    const t = new TopicTrie();
    t.add(sub('a', 'x/y'));
    t.add(sub('a', 'x/y'));
    assert.equal(t.size, 1);
    assert.equal(t.remove('a', 'x/y'), true);
    assert.equal(t.remove('a', 'x/y'), false);
    assert.equal(t.size, 0);
    assert.deepEqual(matches(t, 'x/y'), []);
  });

  test('holds shared groups apart from ordinary subscriptions (MQTT 5.0 §4.8.2)', () => {
    const t = new TopicTrie();
    t.add(sub('a', 'q/+', 'g'));
    t.add(sub('b', 'q/+', 'g'));
    t.add(sub('c', 'q/+', 'h'));
    t.add(sub('d', 'q/+'));
    assert.deepEqual(matches(t, 'q/1'), ['d:q/+', 'group:g', 'group:h']);
    assert.equal(t.size, 4);
    t.remove('a', 'q/+', 'g');
    t.remove('b', 'q/+', 'g');
    assert.deepEqual(matches(t, 'q/1'), ['d:q/+', 'group:h']);
  });

  test('handles many subscriptions without visiting unrelated branches', () => {
    const t = new TopicTrie();
    for (let i = 0; i < 2000; i++) t.add(sub(`c${i}`, `dev/${i}/temp`));
    t.add(sub('all', 'dev/+/temp'));
    assert.deepEqual(matches(t, 'dev/1234/temp'), ['all:dev/+/temp', 'c1234:dev/1234/temp']);
  });
});

describe('retained store', () => {
  const msg = (topic: string) => ({
    topic,
    payload: Buffer.from(topic),
    qos: 0 as const,
    retain: true,
    properties: {},
  });
  const topics = [
    'a',
    'a/b',
    'a/b/c',
    'a//c',
    '/a',
    '/',
    'b/x',
    '$SYS/up',
    '$SYS/a/b',
    'sport/tennis/player1',
    'sport/tennis/player1/ranking',
    'sport',
  ];
  const filters = [
    '#',
    '+',
    '+/+',
    'a/#',
    'a/+',
    'a/+/c',
    '/+',
    '+/#',
    '$SYS/#',
    '$SYS/+',
    'sport/#',
    'sport/tennis/+',
    'a//c',
    'nothing/#',
    '/',
  ];

  test('matches exactly what the filter rules match, $ topics included [MQTT-4.7.2-1] [MQTT-4.7.1-2]', () => {
    const store = new RetainedStore();
    for (const t of topics) store.set(t, msg(t));
    assert.equal(store.size, topics.length);
    for (const f of filters) {
      const got = store
        .match(f)
        .map((m) => m.topic)
        .sort();
      const want = topics.filter((t) => topicMatches(f, t)).sort();
      assert.deepEqual(got, want, f);
    }
  });

  test('replaces, deletes and prunes by topic [MQTT-3.3.1-5] [MQTT-3.3.1-6]', () => {
    const store = new RetainedStore();
    store.set('x/y', msg('x/y'));
    store.set('x/y', { ...msg('x/y'), payload: Buffer.from('new') });
    store.set('x', msg('x'));
    assert.equal(store.size, 2);
    assert.equal(store.match('x/y')[0]!.payload.toString(), 'new');
    assert.equal(store.delete('x/y'), true);
    assert.equal(store.delete('x/y'), false);
    assert.deepEqual(
      store.match('#').map((m) => m.topic),
      ['x'],
    );
    assert.deepEqual(
      [...store.values()].map((m) => m.topic),
      ['x'],
    );
  });
});
