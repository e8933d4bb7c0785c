import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import { ContentFormat } from '../../src/coap/content-format.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { CoapResetError, CoapTimeoutError } from '../../src/coap/errors.js';
import { type CoapMessage, emptyMessage, MessageType } from '../../src/coap/message.js';
import {
  getStringOptions,
  getUintOption,
  OptionNumber,
  stringOption,
  uintOption,
} from '../../src/coap/option.js';
import { ManualClock } from '../../src/util/clock.js';
import { devicePeer, FakeTransport, otherPeer, settle } from './fake-transport.js';

function setup(random = () => 0) {
  const transport = new FakeTransport();
  const clock = new ManualClock();
  const endpoint = new CoapEndpoint(transport, { clock, random });
  return { transport, clock, endpoint };
}

function reply(request: CoapMessage, over: Partial<CoapMessage>): CoapMessage {
  return {
    type: MessageType.Ack,
    code: Code.Content,
    messageId: request.messageId,
    token: request.token,
    options: [],
    payload: Buffer.alloc(0),
    ...over,
  };
}

describe('CoAP endpoint as client (RFC 7252)', () => {
  test('sends a CON request with an 8-byte random token and the given options (RFC 7252 §5.3.1)', async () => {
    const { transport, endpoint } = setup();
    const p = endpoint.request(devicePeer, {
      code: Code.Put,
      path: '/3/0/15',
      query: ['x=1'],
      payload: 'Europe/Paris',
      contentFormat: ContentFormat.TextPlain,
      accept: ContentFormat.SenmlCbor,
    });
    await settle();
    const req = transport.takeOne();
    assert.equal(req.type, MessageType.Con);
    assert.equal(req.code, Code.Put);
    assert.equal(req.token.length, 8);
    assert.deepEqual(getStringOptions(req.options, OptionNumber.UriPath), ['3', '0', '15']);
    assert.deepEqual(getStringOptions(req.options, OptionNumber.UriQuery), ['x=1']);
    assert.equal(getUintOption(req.options, OptionNumber.ContentFormat), 0);
    assert.equal(getUintOption(req.options, OptionNumber.Accept), 112);
    assert.equal(req.payload.toString(), 'Europe/Paris');
    transport.deliver(devicePeer, reply(req, { code: Code.Changed }));
    const res = await p;
    assert.equal(res.code, Code.Changed);
    assert.equal(endpoint.stats.requestsOut, 1);
    assert.equal(endpoint.stats.responsesIn, 1);
    await endpoint.close();
  });

  test('retransmits a CON with exponential back-off, then times out (RFC 7252 §4.2)', async () => {
    const { transport, clock, endpoint } = setup(() => 0);
    const p = endpoint.request(devicePeer, { code: Code.Get, path: '/1/0' });
    const outcome = p.then(
      () => 'resolved',
      (e) => e,
    );
    await settle();
    const first = transport.takeOne();
    // random() = 0: initial timeout ACK_TIMEOUT (2 s), doubling: 2, 4, 8, 16, then 32 s to give up.
    const sendTimes: number[] = [];
    for (const step of [1999, 1, 3999, 1, 7999, 1, 15_999, 1]) {
      clock.advance(step);
      for (const m of transport.take()) {
        assert.deepEqual(m, first);
        sendTimes.push(clock.now());
      }
    }
    const t0 = clock.now() - 30_000;
    assert.deepEqual(
      sendTimes.map((t) => t - t0),
      [2000, 6000, 14_000, 30_000],
    );
    assert.equal(endpoint.stats.retransmissions, 4);
    clock.advance(31_999);
    await settle();
    assert.equal(transport.take().length, 0);
    clock.advance(1);
    const err = await outcome;
    assert.ok(err instanceof CoapTimeoutError);
    assert.equal(endpoint.stats.timeouts, 1);
    await endpoint.close();
  });

  test('randomises the initial timeout between ACK_TIMEOUT and 1.5 times it (RFC 7252 §4.2)', async () => {
    const { transport, clock, endpoint } = setup(() => 0.999999);
    const p = endpoint.request(devicePeer, { code: Code.Get, path: '/1/0', timeoutMs: 1000_000 });
    p.catch(() => {});
    await settle();
    transport.take();
    clock.advance(2999);
    assert.equal(transport.take().length, 0);
    clock.advance(1);
    assert.equal(transport.take().length, 1);
    await endpoint.close();
  });

  test('accepts an empty ACK and then a separate CON response, which it acknowledges (RFC 7252 §5.2.2)', async () => {
    const { transport, clock, endpoint } = setup();
    const p = endpoint.request(devicePeer, { code: Code.Post, path: '/1/0/8' });
    await settle();
    const req = transport.takeOne();
    transport.deliver(devicePeer, emptyMessage(MessageType.Ack, req.messageId));
    clock.advance(60_000);
    assert.equal(transport.take().length, 0, 'no retransmission after the empty ACK');
    transport.deliver(devicePeer, {
      type: MessageType.Con,
      code: Code.Changed,
      messageId: 0x7001,
      token: req.token,
      options: [],
      payload: Buffer.alloc(0),
    });
    const ack = transport.takeOne();
    assert.equal(ack.type, MessageType.Ack);
    assert.equal(ack.code, Code.Empty);
    assert.equal(ack.messageId, 0x7001);
    assert.equal((await p).code, Code.Changed);
    // The duplicate of the separate response is acknowledged again (RFC 7252 §4.5).
    transport.deliver(devicePeer, {
      type: MessageType.Con,
      code: Code.Changed,
      messageId: 0x7001,
      token: req.token,
      options: [],
      payload: Buffer.alloc(0),
    });
    assert.deepEqual(transport.takeOne(), ack);
    await endpoint.close();
  });

  test('takes a separate response whose empty ACK was lost as the end of retransmission (RFC 7252 §5.2.2)', async () => {
    const { transport, clock, endpoint } = setup();
    const p = endpoint.request(devicePeer, { code: Code.Get, path: '/x' });
    await settle();
    const req = transport.takeOne();
    transport.deliver(devicePeer, {
      type: MessageType.Non,
      code: Code.Content,
      messageId: 0x7002,
      token: req.token,
      options: [],
      payload: Buffer.from('v'),
    });
    assert.equal((await p).payload.toString(), 'v');
    clock.advance(100_000);
    assert.equal(transport.take().length, 0);
    await endpoint.close();
  });

  test('rejects with CoapResetError when the peer answers RST (RFC 7252 §4.2)', async () => {
    const { transport, endpoint } = setup();
    const p = endpoint.request(devicePeer, { code: Code.Get, path: '/x' });
    await settle();
    const req = transport.takeOne();
    transport.deliver(devicePeer, emptyMessage(MessageType.Rst, req.messageId));
    await assert.rejects(p, CoapResetError);
    assert.equal(endpoint.stats.rstIn, 1);
    await endpoint.close();
  });

  test('ignores a piggy-backed response from another peer (RFC 7252 §4.4: MIDs are per peer)', async () => {
    const { transport, endpoint } = setup();
    const p = endpoint.request(devicePeer, { code: Code.Get, path: '/x' });
    await settle();
    const req = transport.takeOne();
    transport.deliver(otherPeer, reply(req, { payload: Buffer.from('spoofed') }));
    transport.deliver(devicePeer, reply(req, { payload: Buffer.from('real') }));
    assert.equal((await p).payload.toString(), 'real');
    await endpoint.close();
  });

  test('keeps one outstanding interaction per peer and queues the rest (RFC 7252 §4.7 NSTART)', async () => {
    const { transport, endpoint } = setup();
    const a = endpoint.request(devicePeer, { code: Code.Get, path: '/a' });
    const b = endpoint.request(devicePeer, { code: Code.Get, path: '/b' });
    const c = endpoint.request(otherPeer, { code: Code.Get, path: '/c' });
    await settle();
    const first = transport.take();
    assert.deepEqual(
      first.map((m) => getStringOptions(m.options, OptionNumber.UriPath)[0]),
      ['a', 'c'],
    );
    transport.deliver(devicePeer, reply(first[0]!, {}));
    await a;
    await settle();
    const second = transport.takeOne();
    assert.deepEqual(getStringOptions(second.options, OptionNumber.UriPath), ['b']);
    transport.deliver(devicePeer, reply(second, {}));
    transport.deliver(otherPeer, reply(first[1]!, {}));
    await Promise.all([b, c]);
    await endpoint.close();
  });

  test('paces NONs to a peer that does not answer at PROBING_RATE (RFC 7252 §4.7)', async () => {
    const { transport, clock, endpoint } = setup();
    const a = endpoint.request(devicePeer, {
      code: Code.Get,
      path: '/a',
      confirmable: false,
      timeoutMs: 5000,
    });
    a.catch(() => {});
    const b = endpoint.request(devicePeer, {
      code: Code.Get,
      path: '/b',
      confirmable: false,
      timeoutMs: 500_000,
    });
    await settle();
    const first = transport.takeOne();
    assert.equal(first.type, MessageType.Non);
    clock.advance(5000);
    await assert.rejects(a, CoapTimeoutError);
    // The first NON was about 16 bytes: at 1 byte/s the next may only go 16 s or so after it.
    clock.advance(5000);
    assert.equal(transport.take().length, 0);
    clock.advance(30_000);
    const second = transport.takeOne();
    assert.deepEqual(getStringOptions(second.options, OptionNumber.UriPath), ['b']);
    transport.deliver(devicePeer, { ...reply(second, {}), type: MessageType.Non, messageId: 9 });
    assert.equal((await b).code, Code.Content);
    await endpoint.close();
  });

  test('returns Location-Path, Content-Format and payload of the response (RFC 7252 §5.10)', async () => {
    const { transport, endpoint } = setup();
    const p = endpoint.request(devicePeer, { code: Code.Post, path: 'rd' });
    await settle();
    const req = transport.takeOne();
    transport.deliver(
      devicePeer,
      reply(req, {
        code: Code.Created,
        options: [
          stringOption(OptionNumber.LocationPath, 'rd'),
          stringOption(OptionNumber.LocationPath, 'x1'),
          uintOption(OptionNumber.ContentFormat, ContentFormat.LinkFormat),
        ],
        payload: Buffer.from('</1>'),
      }),
    );
    const res = await p;
    assert.deepEqual(res.locationPath, ['rd', 'x1']);
    assert.equal(res.contentFormat, 40);
    assert.equal(res.peer, devicePeer);
    await endpoint.close();
  });

  test('fails a request whose piggy-backed response has an unknown critical option (RFC 7252 §5.4.1)', async () => {
    const { transport, endpoint } = setup();
    const p = endpoint.request(devicePeer, { code: Code.Get, path: '/x' });
    await settle();
    const req = transport.takeOne();
    transport.deliver(
      devicePeer,
      reply(req, { options: [{ number: 2051, value: Buffer.from('?') }] }),
    );
    await assert.rejects(p, { code: 'COAP_ERR_RESPONSE' });
    assert.equal(endpoint.stats.badOption, 1);
    await endpoint.close();
  });

  test('rejects a CON response with an unknown critical option with RST (RFC 7252 §5.4.1, §4.2)', async () => {
    const { transport, endpoint } = setup();
    const p = endpoint.request(devicePeer, { code: Code.Get, path: '/x' });
    await settle();
    const req = transport.takeOne();
    transport.deliver(devicePeer, emptyMessage(MessageType.Ack, req.messageId));
    transport.deliver(devicePeer, {
      ...reply(req, { options: [{ number: 2051, value: Buffer.from('?') }] }),
      type: MessageType.Con,
      messageId: 0x7100,
    });
    const rst = transport.takeOne();
    assert.equal(rst.type, MessageType.Rst);
    assert.equal(rst.messageId, 0x7100);
    await assert.rejects(p, { code: 'COAP_ERR_RESPONSE' });
    await endpoint.close();
  });

  test('rejects a NON request that the peer answers with RST (RFC 7252 §4.3)', async () => {
    const { transport, endpoint } = setup();
    const p = endpoint.request(devicePeer, { code: Code.Get, path: '/x', confirmable: false });
    await settle();
    const req = transport.takeOne();
    assert.equal(req.type, MessageType.Non);
    transport.deliver(devicePeer, emptyMessage(MessageType.Rst, req.messageId));
    await assert.rejects(p, CoapResetError);
    await endpoint.close();
  });

  test('counts message IDs per peer, from a random start (RFC 7252 §4.4)', async () => {
    const transport = new FakeTransport();
    const values = [0.5, 0.25];
    const endpoint = new CoapEndpoint(transport, {
      clock: new ManualClock(),
      random: () => values.shift() ?? 0,
    });
    const a1 = endpoint.request(devicePeer, { code: Code.Get, path: '/a', confirmable: false });
    const b1 = endpoint.request(otherPeer, { code: Code.Get, path: '/b', confirmable: false });
    await settle();
    const [ma, mb] = transport.take();
    assert.equal(ma!.messageId, 0x8000);
    assert.equal(mb!.messageId, 0x4000);
    transport.deliver(devicePeer, { ...reply(ma!, {}), type: MessageType.Non, messageId: 1 });
    await a1;
    const a2 = endpoint.request(devicePeer, { code: Code.Get, path: '/a', confirmable: false });
    await settle();
    assert.equal(transport.takeOne().messageId, 0x8001);
    a2.catch(() => {});
    b1.catch(() => {});
    await endpoint.close();
  });

  test('pings a peer with an empty CON and takes RST as alive (RFC 7252 §4.3)', async () => {
    const { transport, endpoint } = setup();
    const p = endpoint.ping(devicePeer);
    const ping = transport.takeOne();
    assert.equal(ping.type, MessageType.Con);
    assert.equal(ping.code, Code.Empty);
    transport.deliver(devicePeer, emptyMessage(MessageType.Rst, ping.messageId));
    assert.equal(await p, true);
    await endpoint.close();
  });

  test('rejects pending requests when closed, and leaves no timer behind', async () => {
    const { clock, endpoint } = setup();
    const p = endpoint.request(devicePeer, { code: Code.Get, path: '/x' });
    await settle();
    await endpoint.close();
    await assert.rejects(p, /closed/);
    assert.equal(clock.pending, 0);
  });
});
