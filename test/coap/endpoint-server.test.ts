import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Code } from '../../src/coap/code.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { type CoapMessage, emptyMessage, MessageType } from '../../src/coap/message.js';
import { getStringOptions, OptionNumber, stringOption } from '../../src/coap/option.js';
import type { CoapRequest } from '../../src/coap/request.js';
import { CoapRouter } from '../../src/coap/router.js';
import { ManualClock } from '../../src/util/clock.js';
import { devicePeer, FakeTransport, otherPeer, settle } from './fake-transport.js';

const token = Buffer.from('a1b2c3d4', 'hex');

function get(messageId: number, path: string[], type: 0 | 1 = MessageType.Con): CoapMessage {
  return {
    type,
    code: Code.Get,
    messageId,
    token,
    options: path.map((p) => stringOption(OptionNumber.UriPath, p)),
    payload: Buffer.alloc(0),
  };
}

function setup(handler?: (req: CoapRequest) => Promise<{ code: number; payload?: string }>) {
  const transport = new FakeTransport();
  const clock = new ManualClock();
  let calls = 0;
  const endpoint = new CoapEndpoint(transport, {
    clock,
    random: () => 0,
    handler: async (req) => {
      calls++;
      return handler
        ? handler(req)
        : { code: Code.Content, payload: `hello ${req.path.join('/')}` };
    },
  });
  return { transport, clock, endpoint, calls: () => calls };
}

describe('CoAP endpoint as server (RFC 7252)', () => {
  test('answers a CON request with a piggy-backed response echoing MID and token (RFC 7252 §5.2.1)', async () => {
    const { transport, endpoint } = setup();
    transport.deliver(devicePeer, get(0x10, ['3', '0']));
    await settle();
    // Byte-exact: 64 = ver 1, ACK, TKL 4 | 45 = 2.05 | 0010 = MID | token | ff | payload.
    assert.equal(
      transport.sent[0]!.data.toString('hex'),
      `64450010a1b2c3d4ff${Buffer.from('hello 3/0').toString('hex')}`,
    );
    const ack = transport.takeOne();
    assert.equal(ack.type, MessageType.Ack);
    assert.equal(ack.messageId, 0x10);
    assert.equal(ack.code, Code.Content);
    assert.deepEqual(ack.token, token);
    assert.equal(ack.payload.toString(), 'hello 3/0');
    assert.equal(endpoint.stats.requestsIn, 1);
    assert.equal(endpoint.stats.responsesOut, 1);
    await endpoint.close();
  });

  test('replays the cached response for a duplicate CON (RFC 7252 §4.5)', async () => {
    const { transport, endpoint, calls } = setup();
    transport.deliver(devicePeer, get(0x20, ['a']));
    await settle();
    const first = transport.take();
    transport.deliver(devicePeer, get(0x20, ['a']));
    await settle();
    const second = transport.take();
    assert.deepEqual(second, first);
    assert.equal(calls(), 1);
    assert.equal(endpoint.stats.duplicates, 1);
    await endpoint.close();
  });

  test('processes the same MID from another peer as a new message (RFC 7252 §4.5)', async () => {
    const { transport, endpoint, calls } = setup();
    transport.deliver(devicePeer, get(0x21, ['a']));
    transport.deliver(otherPeer, get(0x21, ['a']));
    await settle();
    assert.equal(transport.take().length, 2);
    assert.equal(calls(), 2);
    await endpoint.close();
  });

  test('forgets a message ID after EXCHANGE_LIFETIME (RFC 7252 §4.8.2)', async () => {
    const { transport, endpoint, calls, clock } = setup();
    transport.deliver(devicePeer, get(0x22, ['a']));
    await settle();
    clock.advance(247_001);
    transport.deliver(devicePeer, get(0x22, ['a']));
    await settle();
    assert.equal(calls(), 2);
    await endpoint.close();
  });

  test('drops a duplicate NON without processing it again (RFC 7252 §4.5)', async () => {
    const { transport, endpoint, calls } = setup();
    transport.deliver(devicePeer, get(0x30, ['a'], MessageType.Non));
    transport.deliver(devicePeer, get(0x30, ['a'], MessageType.Non));
    await settle();
    const out = transport.take();
    assert.equal(out.length, 1);
    assert.equal(out[0]!.type, MessageType.Non);
    assert.notEqual(out[0]!.messageId, 0x30);
    assert.deepEqual(out[0]!.token, token);
    assert.equal(calls(), 1);
    await endpoint.close();
  });

  test('answers a ping (empty CON) with RST (RFC 7252 §4.3)', async () => {
    const { transport, endpoint } = setup();
    transport.deliver(devicePeer, Buffer.from('40004242', 'hex'));
    // Byte-exact: 70 = ver 1, RST, TKL 0 | 00 = Empty | 4242 = the ping's MID.
    assert.equal(transport.sent[0]!.data.toString('hex'), '70004242');
    const rst = transport.takeOne();
    assert.equal(rst.type, MessageType.Rst);
    assert.equal(rst.code, Code.Empty);
    assert.equal(rst.messageId, 0x4242);
    assert.equal(endpoint.stats.rstOut, 1);
    await endpoint.close();
  });

  test('rejects a malformed CON with RST (RFC 7252 §4.2)', async () => {
    const { transport, endpoint } = setup();
    // CON GET, MID 0x0102, token length 9: a format error (RFC 7252 §3).
    transport.deliver(devicePeer, Buffer.from('490101020102030405060708ff', 'hex'));
    const rst = transport.takeOne();
    assert.equal(rst.type, MessageType.Rst);
    assert.equal(rst.messageId, 0x0102);
    assert.equal(endpoint.stats.malformed, 1);
    await endpoint.close();
  });

  test('drops a malformed NON silently (RFC 7252 §4.3)', async () => {
    const { transport, endpoint } = setup();
    transport.deliver(devicePeer, Buffer.from('5101010201ff', 'hex'));
    assert.equal(transport.take().length, 0);
    assert.equal(endpoint.stats.malformed, 1);
    await endpoint.close();
  });

  test('ignores a message with an unknown version even when CON (RFC 7252 §3)', async () => {
    const { transport, endpoint } = setup();
    transport.deliver(devicePeer, Buffer.from('80010001', 'hex'));
    assert.equal(transport.take().length, 0);
    assert.equal(endpoint.stats.malformed, 1);
    await endpoint.close();
  });

  test('answers an unknown critical option in a CON request with 4.02 (RFC 7252 §5.4.1)', async () => {
    const { transport, endpoint, calls } = setup();
    const msg = get(0x50, ['a']);
    transport.deliver(devicePeer, {
      ...msg,
      options: [...msg.options, { number: 2051, value: Buffer.from('x') }],
    });
    await settle();
    const ack = transport.takeOne();
    assert.equal(ack.code, Code.BadOption);
    assert.equal(ack.type, MessageType.Ack);
    assert.equal(calls(), 0);
    assert.equal(endpoint.stats.badOption, 1);
    await endpoint.close();
  });

  test('ignores an unknown elective option (RFC 7252 §5.4.1)', async () => {
    const { transport, endpoint, calls } = setup();
    const msg = get(0x51, ['a']);
    transport.deliver(devicePeer, {
      ...msg,
      options: [...msg.options, { number: 2050, value: Buffer.from('x') }],
    });
    await settle();
    assert.equal(transport.takeOne().code, Code.Content);
    assert.equal(calls(), 1);
    await endpoint.close();
  });

  test('treats a repeated non-repeatable critical option as unrecognised (RFC 7252 §5.4.5)', async () => {
    const { transport, endpoint } = setup();
    const msg = get(0x52, ['a']);
    transport.deliver(devicePeer, {
      ...msg,
      options: [
        ...msg.options,
        { number: OptionNumber.Accept, value: Buffer.from([0]) },
        { number: OptionNumber.Accept, value: Buffer.from([40]) },
      ],
    });
    await settle();
    assert.equal(transport.takeOne().code, Code.BadOption);
    await endpoint.close();
  });

  test('answers an unknown method with 4.05 (RFC 7252 §5.8)', async () => {
    const { transport, endpoint } = setup();
    transport.deliver(devicePeer, { ...get(0x53, ['a']), code: 0x1f });
    await settle();
    assert.equal(transport.takeOne().code, Code.MethodNotAllowed);
    await endpoint.close();
  });

  test('answers Proxy-Uri with 5.05, as we are no proxy (RFC 7252 §5.10.2)', async () => {
    const { transport, endpoint } = setup();
    transport.deliver(devicePeer, {
      ...get(0x54, []),
      options: [stringOption(OptionNumber.ProxyUri, 'coap://example.org/x')],
    });
    await settle();
    assert.equal(transport.takeOne().code, Code.ProxyingNotSupported);
    await endpoint.close();
  });

  test('sends an empty ACK, then a CON response, when the handler is slow (RFC 7252 §5.2.2)', async () => {
    let release: () => void = () => {};
    const { transport, endpoint, clock } = setup(
      () =>
        new Promise((resolve) => {
          release = () => resolve({ code: Code.Changed });
        }),
    );
    transport.deliver(devicePeer, get(0x60, ['slow']));
    await settle();
    assert.equal(transport.take().length, 0);
    clock.advance(1000);
    const ack = transport.takeOne();
    assert.equal(ack.type, MessageType.Ack);
    assert.equal(ack.code, Code.Empty);
    assert.equal(ack.messageId, 0x60);
    // A retransmitted request now gets the empty ACK again (RFC 7252 §4.5).
    transport.deliver(devicePeer, get(0x60, ['slow']));
    assert.deepEqual(transport.takeOne(), ack);
    release();
    await settle();
    const response = transport.takeOne();
    assert.equal(response.type, MessageType.Con);
    assert.equal(response.code, Code.Changed);
    assert.deepEqual(response.token, token);
    assert.notEqual(response.messageId, 0x60);
    // The separate response is retransmitted until the client acknowledges it (RFC 7252 §4.2).
    clock.advance(2000);
    assert.deepEqual(transport.takeOne(), response);
    transport.deliver(devicePeer, emptyMessage(MessageType.Ack, response.messageId));
    clock.advance(60_000);
    assert.equal(transport.take().length, 0);
    assert.equal(endpoint.stats.retransmissions, 1);
    await endpoint.close();
  });

  test('answers 5.00 when the handler throws, and stays up (RFC 7252 §5.9.3.1)', async () => {
    const { transport, endpoint } = setup(async () => {
      throw new Error('boom');
    });
    transport.deliver(devicePeer, get(0x61, ['x']));
    await settle();
    assert.equal(transport.takeOne().code, Code.InternalServerError);
    assert.equal(endpoint.stats.handlerErrors, 1);
    await endpoint.close();
  });

  test('answers 5.00 when the handler returns nothing or an unencodable response', async () => {
    const transport = new FakeTransport();
    let n = 0;
    const endpoint = new CoapEndpoint(transport, {
      clock: new ManualClock(),
      handler: (() => (n++ === 0 ? undefined : { code: Code.Content, maxAge: -1 })) as never,
    });
    transport.deliver(devicePeer, get(0x63, ['x']));
    transport.deliver(devicePeer, get(0x64, ['x']));
    await settle();
    assert.deepEqual(
      transport.take().map((m) => m.code),
      [Code.InternalServerError, Code.InternalServerError],
    );
    assert.equal(endpoint.stats.handlerErrors, 2);
    await endpoint.close();
  });

  test('rejects an unexpected CON response with RST (RFC 7252 §4.2)', async () => {
    const { transport, endpoint } = setup();
    transport.deliver(devicePeer, { ...get(0x62, []), code: Code.Content });
    const rst = transport.takeOne();
    assert.equal(rst.type, MessageType.Rst);
    assert.equal(rst.messageId, 0x62);
    await endpoint.close();
  });

  test('routes by path prefix, longest first, and answers 4.04 elsewhere (RFC 7252 §5.9.2.5)', async () => {
    const transport = new FakeTransport();
    const router = new CoapRouter()
      .add('/rd', () => ({ code: Code.Created, locationPath: '/rd/5a3f' }))
      .add('/rd/special', () => ({ code: Code.Deleted }));
    const endpoint = new CoapEndpoint(transport, {
      clock: new ManualClock(),
      handler: router.handle,
    });
    transport.deliver(devicePeer, get(1, ['rd']));
    transport.deliver(devicePeer, get(2, ['rd', 'special']));
    transport.deliver(devicePeer, get(3, ['bs']));
    await settle();
    const [a, b, c] = transport.take();
    assert.equal(a!.code, Code.Created);
    assert.deepEqual(getStringOptions(a!.options, OptionNumber.LocationPath), ['rd', '5a3f']);
    assert.equal(b!.code, Code.Deleted);
    assert.equal(c!.code, Code.NotFound);
    await endpoint.close();
  });

  test('reports every well-formed datagram to onPeerSeen, and takes a new handler with setHandler', async () => {
    const transport = new FakeTransport();
    const seen: string[] = [];
    const endpoint = new CoapEndpoint(transport, {
      clock: new ManualClock(),
      onPeerSeen: (peer) => seen.push(peer.key),
    });
    transport.deliver(devicePeer, get(0x80, ['x']));
    await settle();
    assert.equal(transport.takeOne().code, Code.NotFound, 'no handler yet');
    endpoint.setHandler(() => ({ code: Code.Valid }));
    transport.deliver(otherPeer, emptyMessage(MessageType.Con, 0x81));
    transport.deliver(devicePeer, Buffer.from('4f', 'hex'));
    transport.deliver(devicePeer, get(0x82, ['x']));
    await settle();
    assert.deepEqual(
      transport.take().map((m) => m.code),
      [Code.Empty, Code.Valid],
    );
    assert.deepEqual(seen, [devicePeer.key, otherPeer.key, devicePeer.key]);
    await endpoint.close();
  });

  test('traces messages and logs malformed ones through a pino logger', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'trace' },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const transport = new FakeTransport();
    const endpoint = new CoapEndpoint(transport, {
      clock: new ManualClock(),
      logger,
      handler: () => ({ code: Code.Content }),
    });
    transport.deliver(devicePeer, get(0x70, ['x']));
    transport.deliver(devicePeer, Buffer.from('4f010001', 'hex'));
    await settle();
    assert.ok(lines.some((l) => l.includes('coap in CON 0.01 mid=112 token=a1b2c3d4 /x')));
    assert.ok(lines.some((l) => l.includes('malformed datagram')));
    await endpoint.close();
  });

  test('never lets a hostile datagram raise past the endpoint (RFC 7252 §3)', async () => {
    const { transport, endpoint } = setup();
    let seed = 99;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    for (let n = 0; n < 2000; n++) {
      const buf = Buffer.alloc(Math.floor(rnd() * 30));
      for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(rnd() * 256);
      if (buf.length > 0) buf[0] = (buf[0]! & 0x3f) | 0x40;
      transport.deliver(devicePeer, buf);
    }
    await settle();
    transport.take();
    assert.ok(endpoint.stats.malformed > 0);
    assert.equal(endpoint.stats.messagesIn, 2000);
    await endpoint.close();
  });
});
