/**
 * Structured fuzzing of the endpoint: well-formed and malformed messages with random types,
 * codes, tokens, block, observe and unknown options, from several peers, with time moving on.
 * Whatever arrives, nothing escapes the endpoint and it still serves a plain request afterwards.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { type CoapMessage, encodeMessage, MessageType } from '../../src/coap/message.js';
import { type CoapOption, OptionNumber, stringOption } from '../../src/coap/option.js';
import { ManualClock } from '../../src/util/clock.js';
import { FakeTransport, settle } from './fake-transport.js';

function rng(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x80000000;
  };
}

describe('Endpoint under structured fuzzing (RFC 7252 §3, §4; RFC 7959; RFC 7641)', () => {
  test('survives 6000 random messages from 5 peers and still answers (RFC 7252 §4.2, §4.3)', async () => {
    const r = rng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const bytes = (n: number) =>
      Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
    const transport = new FakeTransport();
    const clock = new ManualClock();
    const endpoint = new CoapEndpoint(transport, {
      clock,
      random: r,
      blockSize: 64,
      blockwise: { maxBodySize: 4096, maxTotalBytes: 16_384 },
      handler: async (req, peer) => {
        if (req.observe === 0 && req.method === Code.Get && r() < 0.5) {
          const o = endpoint.acceptObserve(req, peer);
          if (r() < 0.5) o.notify({ code: Code.Content, payload: bytes(Math.floor(r() * 200)) });
        }
        return {
          code: pick([Code.Content, Code.Changed, Code.NotFound]),
          payload: bytes(Math.floor(r() * 300)),
        };
      },
    });
    // Some requests of our own, for the responses below to meet.
    const peers = Array.from({ length: 5 }, (_, i) => ({
      key: `udp:203.0.113.${i}:5683`,
      address: `203.0.113.${i}`,
      port: 5683,
    }));
    const outcomes: Promise<unknown>[] = [];
    for (const peer of peers) {
      outcomes.push(
        endpoint.request(peer, { code: Code.Get, path: '/x', timeoutMs: 10_000 }).catch(() => {}),
      );
      endpoint.observe(peer, { code: Code.Get, path: '/o' }, () => {}).response.catch(() => {});
    }
    const codes = [
      Code.Get,
      Code.Post,
      Code.Put,
      Code.Delete,
      Code.Fetch,
      0x08,
      Code.Content,
      Code.Continue,
      Code.NotFound,
      Code.Empty,
      0x21,
      0xe0,
    ];
    const optionMakers: (() => CoapOption)[] = [
      () => ({ number: OptionNumber.Block1, value: bytes(Math.floor(r() * 4)) }),
      () => ({ number: OptionNumber.Block2, value: bytes(Math.floor(r() * 4)) }),
      () => ({ number: OptionNumber.Observe, value: bytes(Math.floor(r() * 4)) }),
      () => ({ number: OptionNumber.Size1, value: bytes(Math.floor(r() * 5)) }),
      () => stringOption(OptionNumber.UriPath, pick(['a', 'b', 'o', 'x'])),
      () => ({ number: pick([9, 2051, 65001, 2050]), value: bytes(2) }),
      () => ({ number: OptionNumber.ContentFormat, value: bytes(Math.floor(r() * 3)) }),
    ];
    const tokens = Array.from({ length: 6 }, () => bytes(Math.floor(r() * 9)));
    for (let i = 0; i < 6000; i++) {
      const peer = pick(peers);
      const code = pick(codes);
      const options = Array.from({ length: Math.floor(r() * 4) }, () => pick(optionMakers)()).sort(
        (a, b) => a.number - b.number,
      );
      const message: CoapMessage = {
        type: pick([MessageType.Con, MessageType.Non, MessageType.Ack, MessageType.Rst]),
        code,
        messageId: Math.floor(r() * 64),
        token: code === Code.Empty ? Buffer.alloc(0) : pick(tokens),
        options: code === Code.Empty ? [] : options,
        payload:
          code === Code.Empty || r() < 0.3 ? Buffer.alloc(0) : bytes(1 + Math.floor(r() * 100)),
      };
      let data = encodeMessage(message);
      if (r() < 0.1) data = data.subarray(0, Math.floor(r() * data.length));
      transport.deliver(peer, data);
      if (r() < 0.05) clock.advance(Math.floor(r() * 30_000));
      if (i % 500 === 0) {
        await settle(2);
        transport.take();
      }
    }
    // Whatever the peers did, the block-wise state stayed within its limit.
    assert.ok(endpoint.gauges().blockwiseBytes <= 16_384);
    // Handlers still running answer now; then their exchanges and transfers run out.
    clock.advance(300_000);
    await settle();
    clock.advance(600_000);
    await settle();
    const g = endpoint.gauges();
    assert.equal(g.blockwiseTransfers, 0);
    assert.equal(g.blockwiseBytes, 0);
    assert.equal(g.pendingRequests, 0);
    assert.equal(g.retransmitting, 0);
    assert.equal(g.dedupEntries, 0);
    assert.equal(g.dedupReplyBytes, 0);
    await Promise.all(outcomes);
    transport.take();
    assert.equal(endpoint.stats.internalErrors, 0);
    assert.ok(endpoint.stats.malformed > 0);
    // Still serving: a plain CON GET gets its piggy-backed answer.
    transport.deliver(peers[0]!, {
      type: MessageType.Con,
      code: Code.Get,
      messageId: 0xbeef,
      token: Buffer.from('feed', 'hex'),
      options: [stringOption(OptionNumber.UriPath, 'health')],
      payload: Buffer.alloc(0),
    });
    await settle();
    const answer = transport.take().find((m) => m.messageId === 0xbeef);
    assert.equal(answer?.type, MessageType.Ack);
    await endpoint.close();
    assert.equal(
      clock.pending <= 5,
      true,
      'only separate-response timers of unanswered handlers may remain',
    );
  });
});
