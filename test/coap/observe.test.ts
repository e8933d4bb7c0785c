import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeBlock } from '../../src/coap/block-option.js';
import { Code } from '../../src/coap/code.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { type CoapMessage, MessageType } from '../../src/coap/message.js';
import { isNewerNotification } from '../../src/coap/observe-client.js';
import type { ServerObservation } from '../../src/coap/observe-server.js';
import {
  getOption,
  getStringOptions,
  getUintOption,
  OptionNumber,
  uintOption,
} from '../../src/coap/option.js';
import type { CoapResponse } from '../../src/coap/request.js';
import { ManualClock } from '../../src/util/clock.js';
import { devicePeer, FakeTransport, linkTransports, otherPeer, settle } from './fake-transport.js';

function setup() {
  const transport = new FakeTransport();
  const clock = new ManualClock();
  const endpoint = new CoapEndpoint(transport, { clock, random: () => 0 });
  const seen: CoapResponse[] = [];
  return { transport, clock, endpoint, seen };
}

let nextMid = 0x5000;
function notification(
  token: Buffer,
  seq: number | undefined,
  payload: string,
  type: 0 | 1 = MessageType.Con,
  code: number = Code.Content,
): CoapMessage {
  return {
    type,
    code,
    messageId: nextMid++,
    token,
    options: seq === undefined ? [] : [uintOption(OptionNumber.Observe, seq)],
    payload: Buffer.from(payload),
  };
}

async function register(s: ReturnType<typeof setup>, seq = 5) {
  const obs = s.endpoint.observe(devicePeer, { code: Code.Get, path: '/3303/0/5700' }, (n) =>
    s.seen.push(n),
  );
  await settle();
  const req = s.transport.takeOne();
  assert.equal(getUintOption(req.options, OptionNumber.Observe), 0);
  assert.deepEqual(req.token, obs.token);
  s.transport.deliver(devicePeer, {
    type: MessageType.Ack,
    code: Code.Content,
    messageId: req.messageId,
    token: req.token,
    options: [uintOption(OptionNumber.Observe, seq)],
    payload: Buffer.from('first'),
  });
  const first = await obs.response;
  assert.equal(first.observe, seq);
  assert.equal(first.payload.toString(), 'first');
  return obs;
}

describe('Observe as client (RFC 7641)', () => {
  test('compares sequence numbers with wrap-around and the 128-second rule (RFC 7641 §3.4)', () => {
    assert.equal(isNewerNotification(5, 0, 6, 1), true);
    assert.equal(isNewerNotification(6, 0, 5, 1), false);
    assert.equal(isNewerNotification(0xfffffe, 0, 2, 1), true);
    assert.equal(isNewerNotification(2, 0, 0xfffffe, 1), false);
    assert.equal(isNewerNotification(6, 0, 5, 128_001), true);
    assert.equal(isNewerNotification(6, 0, 5, 128_000), false);
  });

  test('registers with Observe=0 and acknowledges CON notifications (RFC 7641 §3.1, §4.2)', async () => {
    const s = setup();
    const obs = await register(s);
    assert.equal(obs.active, true);
    s.transport.deliver(devicePeer, notification(obs.token, 6, 'b'));
    const ack = s.transport.takeOne();
    assert.equal(ack.type, MessageType.Ack);
    assert.equal(ack.code, Code.Empty);
    await settle();
    assert.deepEqual(
      s.seen.map((n) => [n.observe, n.payload.toString()]),
      [[6, 'b']],
    );
    assert.equal(s.endpoint.stats.notificationsIn, 1);
    await s.endpoint.close();
  });

  test('delivers notifications in order and drops reordered ones (RFC 7641 §3.4)', async () => {
    const s = setup();
    const obs = await register(s, 10);
    for (const [seq, text] of [
      [12, 'c'],
      [11, 'b'],
      [13, 'd'],
      [10, 'a'],
    ] as const) {
      s.transport.deliver(devicePeer, notification(obs.token, seq, text, MessageType.Non));
    }
    await settle();
    assert.deepEqual(
      s.seen.map((n) => n.payload.toString()),
      ['c', 'd'],
    );
    assert.equal(s.transport.take().length, 0, 'NON notifications are not acknowledged');
    await s.endpoint.close();
  });

  test('keeps delivering after a listener throws', async () => {
    const s = setup();
    const obs = s.endpoint.observe(devicePeer, { code: Code.Get, path: '/1' }, (n) => {
      s.seen.push(n);
      throw new Error('listener bug');
    });
    await settle();
    const req = s.transport.takeOne();
    s.transport.deliver(devicePeer, {
      type: MessageType.Ack,
      code: Code.Content,
      messageId: req.messageId,
      token: req.token,
      options: [uintOption(OptionNumber.Observe, 1)],
      payload: Buffer.alloc(0),
    });
    await obs.response;
    s.transport.deliver(devicePeer, notification(obs.token, 2, 'a', MessageType.Non));
    s.transport.deliver(devicePeer, notification(obs.token, 3, 'b', MessageType.Non));
    await settle();
    assert.deepEqual(
      s.seen.map((n) => n.payload.toString()),
      ['a', 'b'],
    );
    assert.equal(s.endpoint.stats.internalErrors, 0);
    await s.endpoint.close();
  });

  test('takes an older sequence number as newer after 128 seconds (RFC 7641 §3.4)', async () => {
    const s = setup();
    const obs = await register(s, 100);
    s.clock.advance(128_001);
    s.transport.deliver(devicePeer, notification(obs.token, 3, 'rebooted', MessageType.Non));
    await settle();
    assert.deepEqual(
      s.seen.map((n) => n.payload.toString()),
      ['rebooted'],
    );
    await s.endpoint.close();
  });

  test('cancels passively: the next notification is answered with RST (RFC 7641 §3.6)', async () => {
    const s = setup();
    const obs = await register(s);
    assert.equal(await obs.cancel(), undefined);
    assert.equal(obs.active, false);
    s.transport.deliver(devicePeer, notification(obs.token, 7, 'late'));
    const rst = s.transport.takeOne();
    assert.equal(rst.type, MessageType.Rst);
    await settle();
    assert.equal(s.seen.length, 0);
    await s.endpoint.close();
  });

  test('answers a notification with an unknown token with RST (RFC 7641 §3.6)', async () => {
    const s = setup();
    s.transport.deliver(
      devicePeer,
      notification(Buffer.from('0102030405060708', 'hex'), 7, 'x', MessageType.Non),
    );
    assert.equal(s.transport.takeOne().type, MessageType.Rst);
    await s.endpoint.close();
  });

  test('cancels actively with a GET carrying Observe=1 and the same token (RFC 7641 §3.6)', async () => {
    const s = setup();
    const obs = await register(s);
    const done = obs.cancel(true);
    await settle();
    const req = s.transport.takeOne();
    assert.equal(req.code, Code.Get);
    assert.equal(getUintOption(req.options, OptionNumber.Observe), 1);
    assert.deepEqual(req.token, obs.token);
    assert.deepEqual(getStringOptions(req.options, OptionNumber.UriPath), ['3303', '0', '5700']);
    s.transport.deliver(devicePeer, {
      type: MessageType.Ack,
      code: Code.Content,
      messageId: req.messageId,
      token: req.token,
      options: [],
      payload: Buffer.from('last'),
    });
    assert.equal((await done)?.payload.toString(), 'last');
    assert.equal(obs.active, false);
    await s.endpoint.close();
  });

  test('resumes an observation by its token without sending; its first notification is taken whatever its number (RFC 7641 §3.4, §3.6)', async () => {
    const s = setup();
    const token = Buffer.from('0102030405060708', 'hex');
    const obs = s.endpoint.resumeObservation(
      devicePeer,
      token,
      { code: Code.Get, path: '/3303/0/5700' },
      (n) => s.seen.push(n),
    );
    await settle();
    assert.equal(s.transport.take().length, 0, 'nothing is sent to the device');
    assert.equal(obs.active, true);
    // A restarted server has no last number: 3 is taken, then ordered as usual (2 is older).
    for (const [seq, text] of [
      [3, 'a'],
      [2, 'old'],
      [4, 'b'],
    ] as const) {
      s.transport.deliver(devicePeer, notification(token, seq, text));
      assert.equal(s.transport.takeOne().type, MessageType.Ack, 'acknowledged, not RST');
    }
    await settle();
    assert.deepEqual(
      s.seen.map((n) => n.payload.toString()),
      ['a', 'b'],
    );
    // Active cancel sends the GET with Observe=1 and the kept token.
    const done = obs.cancel(true);
    await settle();
    const req = s.transport.takeOne();
    assert.equal(getUintOption(req.options, OptionNumber.Observe), 1);
    assert.deepEqual(req.token, token);
    s.transport.deliver(devicePeer, {
      type: MessageType.Ack,
      code: Code.Content,
      messageId: req.messageId,
      token,
      options: [],
      payload: Buffer.from('last'),
    });
    assert.equal((await done)?.payload.toString(), 'last');
    s.transport.deliver(devicePeer, notification(token, 5, 'late', MessageType.Non));
    assert.equal(s.transport.takeOne().type, MessageType.Rst);
    await s.endpoint.close();
  });

  test('re-registers with the same token (RFC 7641 §3.3.1)', async () => {
    const s = setup();
    const obs = await register(s, 20);
    const again = obs.reregister();
    await settle();
    const req = s.transport.takeOne();
    assert.deepEqual(req.token, obs.token);
    assert.equal(getUintOption(req.options, OptionNumber.Observe), 0);
    s.transport.deliver(devicePeer, {
      type: MessageType.Ack,
      code: Code.Content,
      messageId: req.messageId,
      token: req.token,
      options: [uintOption(OptionNumber.Observe, 21)],
      payload: Buffer.from('again'),
    });
    assert.equal((await again).payload.toString(), 'again');
    s.transport.deliver(devicePeer, notification(obs.token, 22, 'next', MessageType.Non));
    await settle();
    assert.deepEqual(
      s.seen.map((n) => n.payload.toString()),
      ['next'],
    );
    await s.endpoint.close();
  });

  test('ends the observation on an error notification (RFC 7641 §3.2)', async () => {
    const s = setup();
    const obs = await register(s);
    s.transport.deliver(
      devicePeer,
      notification(obs.token, 6, 'gone', MessageType.Non, Code.NotFound),
    );
    await settle();
    assert.equal(s.seen[0]?.code, Code.NotFound);
    assert.equal(obs.active, false);
    s.transport.deliver(devicePeer, notification(obs.token, 7, 'x', MessageType.Non));
    assert.equal(s.transport.takeOne().type, MessageType.Rst);
    await s.endpoint.close();
  });

  test('is not registered when the response carries no Observe option (RFC 7641 §3.1)', async () => {
    const s = setup();
    const obs = s.endpoint.observe(devicePeer, { code: Code.Get, path: '/1' }, () => {});
    await settle();
    const req = s.transport.takeOne();
    s.transport.deliver(devicePeer, {
      type: MessageType.Ack,
      code: Code.Content,
      messageId: req.messageId,
      token: req.token,
      options: [],
      payload: Buffer.from('plain'),
    });
    assert.equal((await obs.response).observe, undefined);
    assert.equal(obs.active, false);
    await s.endpoint.close();
  });

  test('registers a FETCH whose body needs Block1, every block with the observation token (RFC 8132 §2.4, RFC 7959 §2.6)', async () => {
    const s = setup();
    const payload = Buffer.from('["/3/0/0","/3/0/1","/3/0/2","/3/0/3"]');
    const obs = s.endpoint.observe(
      devicePeer,
      { code: Code.Fetch, path: '/', payload, blockSize: 16, contentFormat: 112 },
      (n) => s.seen.push(n),
    );
    const parts: Buffer[] = [];
    for (;;) {
      await settle();
      const req = s.transport.takeOne();
      assert.deepEqual(req.token, obs.token);
      assert.equal(getUintOption(req.options, OptionNumber.Observe), 0);
      parts.push(req.payload);
      const b1 = getOption(req.options, OptionNumber.Block1)!;
      const more = (b1[b1.length - 1]! & 0x08) !== 0;
      s.transport.deliver(devicePeer, {
        type: MessageType.Ack,
        code: more ? Code.Continue : Code.Content,
        messageId: req.messageId,
        token: req.token,
        options: more
          ? [{ number: OptionNumber.Block1, value: b1 }]
          : [uintOption(OptionNumber.Observe, 9), { number: OptionNumber.Block1, value: b1 }],
        payload: more ? Buffer.alloc(0) : Buffer.from('values'),
      });
      if (!more) break;
    }
    assert.deepEqual(Buffer.concat(parts), payload);
    const first = await obs.response;
    assert.equal(first.observe, 9);
    assert.equal(obs.active, true);
    s.transport.deliver(devicePeer, notification(obs.token, 10, 'next', MessageType.Non));
    await settle();
    assert.deepEqual(
      s.seen.map((n) => n.payload.toString()),
      ['next'],
    );
    await s.endpoint.close();
  });

  test('fetches the rest of a large notification with GET and Block2, without Observe (RFC 7959 §2.6, §3.3)', async () => {
    const s = setup();
    const obs = await register(s);
    s.transport.deliver(devicePeer, {
      ...notification(obs.token, 6, 'A'.repeat(16), MessageType.Non),
      options: [
        uintOption(OptionNumber.Observe, 6),
        { number: OptionNumber.Block2, value: encodeBlock({ num: 0, more: true, szx: 0 }) },
      ],
    });
    await settle();
    const req = s.transport.takeOne();
    assert.equal(getOption(req.options, OptionNumber.Observe), undefined);
    assert.notDeepEqual(req.token, obs.token);
    assert.deepEqual(
      getOption(req.options, OptionNumber.Block2),
      encodeBlock({ num: 1, more: false, szx: 0 }),
    );
    s.transport.deliver(devicePeer, {
      type: MessageType.Ack,
      code: Code.Content,
      messageId: req.messageId,
      token: req.token,
      options: [
        { number: OptionNumber.Block2, value: encodeBlock({ num: 1, more: false, szx: 0 }) },
      ],
      payload: Buffer.from('BBB'),
    });
    await settle();
    assert.deepEqual(
      s.seen.map((n) => [n.observe, n.payload.toString()]),
      [[6, `${'A'.repeat(16)}BBB`]],
    );
    await s.endpoint.close();
  });
});

describe('Observe as server (RFC 7641 §4)', () => {
  function pair() {
    const st = new FakeTransport();
    const ct = new FakeTransport();
    // The server sees the client as devicePeer; the client sees the server as otherPeer.
    linkTransports(st, otherPeer, ct, devicePeer);
    const observers: ServerObservation[] = [];
    let cancelled = 0;
    const server = new CoapEndpoint(st, {
      clock: new ManualClock(),
      handler: (req, peer) => {
        if (req.observe === 0) {
          const o = server.acceptObserve(req, peer);
          o.onCancel = () => cancelled++;
          observers.push(o);
        }
        return { code: Code.Content, payload: 'v0' };
      },
    });
    const client = new CoapEndpoint(ct, { clock: new ManualClock() });
    return { server, client, observers, cancelled: () => cancelled };
  }

  test('sends notifications with increasing sequence numbers to an observing client (RFC 7641 §4.2, §4.4)', async () => {
    const { server, client, observers } = pair();
    const seen: string[] = [];
    const obs = client.observe(otherPeer, { code: Code.Get, path: '/time' }, (n) =>
      seen.push(`${n.observe}:${n.payload}`),
    );
    const first = await obs.response;
    assert.equal(first.payload.toString(), 'v0');
    assert.equal(first.observe, 2);
    assert.equal(server.observerCount, 1);
    observers[0]!.notify({ code: Code.Content, payload: 'v1' });
    observers[0]!.notify({ code: Code.Content, payload: 'v2' }, { confirmable: true });
    await settle();
    assert.deepEqual(seen, ['3:v1', '4:v2']);
    await client.close();
    await server.close();
  });

  test('accepts an observation of a FETCH and rejects one of a POST (RFC 8132 §2.4, RFC 7641 §2)', async () => {
    const transport = new FakeTransport();
    const errors: string[] = [];
    const server = new CoapEndpoint(transport, {
      clock: new ManualClock(),
      handler: (req, peer) => {
        try {
          server.acceptObserve(req, peer);
        } catch (err) {
          errors.push((err as { code: string }).code);
        }
        return { code: Code.Content, payload: 'v' };
      },
    });
    for (const [mid, code] of [
      [1, Code.Fetch],
      [2, Code.Post],
    ] as const) {
      transport.deliver(devicePeer, {
        type: MessageType.Con,
        code,
        messageId: mid,
        token: Buffer.from([mid]),
        options: [uintOption(OptionNumber.Observe, 0)],
        payload: Buffer.from('["/3/0/9"]'),
      });
    }
    await settle();
    const [fetch, post] = transport.take();
    assert.equal(getUintOption(fetch!.options, OptionNumber.Observe), 2);
    assert.equal(getUintOption(post!.options, OptionNumber.Observe), undefined);
    assert.deepEqual(errors, ['COAP_ERR_RESPONSE']);
    assert.equal(server.observerCount, 1);
    await server.close();
  });

  test('declines observers beyond maxObservers; the response then carries no Observe (RFC 7641 §4.1)', async () => {
    const transport = new FakeTransport();
    const server = new CoapEndpoint(transport, {
      clock: new ManualClock(),
      maxObservers: 1,
      handler: (req, peer) => {
        try {
          server.acceptObserve(req, peer);
        } catch {}
        return { code: Code.Content };
      },
    });
    for (const mid of [1, 2]) {
      transport.deliver(devicePeer, {
        type: MessageType.Con,
        code: Code.Get,
        messageId: mid,
        token: Buffer.from([mid]),
        options: [uintOption(OptionNumber.Observe, 0)],
        payload: Buffer.alloc(0),
      });
    }
    await settle();
    const [a, b] = transport.take();
    assert.equal(getUintOption(a!.options, OptionNumber.Observe), 2);
    assert.equal(getUintOption(b!.options, OptionNumber.Observe), undefined);
    assert.equal(server.observerCount, 1);
    await server.close();
  });

  test('forgets an observer that rejects a notification with RST (RFC 7641 §3.6)', async () => {
    const { server, client, observers, cancelled } = pair();
    const obs = client.observe(otherPeer, { code: Code.Get, path: '/time' }, () => {});
    await obs.response;
    await obs.cancel();
    observers[0]!.notify({ code: Code.Content, payload: 'v1' });
    await settle();
    assert.equal(observers[0]!.active, false);
    assert.equal(cancelled(), 1);
    assert.equal(server.observerCount, 0);
    await client.close();
    await server.close();
  });

  test('makes a notification CON once a day, and a newer CON replaces one in retransmission (RFC 7641 §4.5, §4.5.2)', async () => {
    const transport = new FakeTransport();
    const clock = new ManualClock();
    let observer: ServerObservation | undefined;
    const server = new CoapEndpoint(transport, {
      clock,
      random: () => 0,
      handler: (req, peer) => {
        observer = server.acceptObserve(req, peer);
        return { code: Code.Content, payload: 'v0' };
      },
    });
    transport.deliver(devicePeer, {
      type: MessageType.Con,
      code: Code.Get,
      messageId: 1,
      token: Buffer.from('0a0b', 'hex'),
      options: [uintOption(OptionNumber.Observe, 0)],
      payload: Buffer.alloc(0),
    });
    await settle();
    assert.equal(getUintOption(transport.takeOne().options, OptionNumber.Observe), 2);
    observer!.notify({ code: Code.Content, payload: 'v1' });
    assert.equal(transport.takeOne().type, MessageType.Non);
    clock.advance(24 * 3600 * 1000);
    observer!.notify({ code: Code.Content, payload: 'v2' });
    const daily = transport.takeOne();
    assert.equal(daily.type, MessageType.Con);
    observer!.notify({ code: Code.Content, payload: 'v3' }, { confirmable: true });
    const newer = transport.takeOne();
    clock.advance(2000);
    assert.deepEqual(transport.take(), [newer], 'only the newer CON is retransmitted');
    transport.deliver(devicePeer, {
      ...newer,
      type: MessageType.Ack,
      code: Code.Empty,
      token: Buffer.alloc(0),
      options: [],
      payload: Buffer.alloc(0),
    });
    clock.advance(100_000);
    assert.equal(transport.take().length, 0);
    assert.equal(observer!.active, true);
    await server.close();
  });

  test('removes an observer on a GET with Observe=1 (RFC 7641 §3.6)', async () => {
    const { server, client, observers } = pair();
    const obs = client.observe(otherPeer, { code: Code.Get, path: '/time' }, () => {});
    await obs.response;
    const last = await obs.cancel(true);
    assert.equal(last?.observe, undefined);
    assert.equal(observers[0]!.active, false);
    assert.equal(server.observerCount, 0);
    await client.close();
    await server.close();
  });
});
