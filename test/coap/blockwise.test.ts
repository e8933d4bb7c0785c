/**
 * Block-wise transfers (RFC 7959) as lockstep scripts: the RFC's examples replayed message by
 * message against one endpoint over a fake transport.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeBlock, encodeBlock } from '../../src/coap/block-option.js';
import { Code } from '../../src/coap/code.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { type CoapMessage, MessageType } from '../../src/coap/message.js';
import {
  type CoapOption,
  getOption,
  getUintOption,
  OptionNumber,
  stringOption,
  uintOption,
} from '../../src/coap/option.js';
import { ManualClock } from '../../src/util/clock.js';
import { devicePeer, FakeTransport, linkTransports, otherPeer, settle } from './fake-transport.js';

const body = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => 65 + (i % 26)));

/** `2:1/0/128`-style notation of a block option, as in RFC 7959's figures. */
function blk(message: CoapMessage, number: number): string | undefined {
  const v = getOption(message.options, number);
  if (v === undefined) return undefined;
  const b = decodeBlock(v)!;
  return `${b.num}/${b.more ? 1 : 0}/${16 << b.szx}`;
}

function block(number: number, text: string): CoapOption {
  const [num, more, size] = text.split('/').map(Number) as [number, number, number];
  return { number, value: encodeBlock({ num, more: more === 1, szx: Math.log2(size) - 4 }) };
}

let mid = 1234;
function request(
  code: number,
  path: string,
  opts: CoapOption[],
  payload = Buffer.alloc(0),
  token = Buffer.from([mid & 0xff]),
): CoapMessage {
  return {
    type: MessageType.Con,
    code,
    messageId: mid++,
    token,
    options: [stringOption(OptionNumber.UriPath, path), ...opts].sort(
      (a, b) => a.number - b.number,
    ),
    payload,
  };
}

function server(opts: { blockSize?: number; resource?: Buffer; maxBodySize?: number } = {}) {
  const transport = new FakeTransport();
  const clock = new ManualClock();
  const received: Buffer[] = [];
  let calls = 0;
  const endpoint = new CoapEndpoint(transport, {
    clock,
    blockSize: opts.blockSize ?? 128,
    blockwise: { maxBodySize: opts.maxBodySize ?? 4096 },
    handler: (req) => {
      calls++;
      if (req.method === Code.Get)
        return { code: Code.Content, payload: opts.resource ?? body(300) };
      received.push(req.payload);
      return { code: Code.Changed };
    },
  });
  return { transport, clock, endpoint, received, calls: () => calls };
}

describe('Block-wise transfers, server side (RFC 7959)', () => {
  test('Block2 simple GET, lockstep (RFC 7959 §3.1 figure 2)', async () => {
    const { transport, endpoint, calls } = server();
    const resource = body(300);
    // CON [MID=1234], GET, /status  ------>  ACK [MID=1234], 2.05 Content, 2:0/1/128
    transport.deliver(devicePeer, request(Code.Get, 'status', []));
    await settle();
    let r = transport.takeOne();
    assert.equal(r.type, MessageType.Ack);
    assert.equal(blk(r, OptionNumber.Block2), '0/1/128');
    assert.equal(getUintOption(r.options, OptionNumber.Size2), 300);
    assert.deepEqual(r.payload, resource.subarray(0, 128));
    // CON, GET, /status, 2:1/0/128  ------>  ACK, 2.05 Content, 2:1/1/128
    transport.deliver(
      devicePeer,
      request(Code.Get, 'status', [block(OptionNumber.Block2, '1/0/128')]),
    );
    await settle();
    r = transport.takeOne();
    assert.equal(blk(r, OptionNumber.Block2), '1/1/128');
    assert.deepEqual(r.payload, resource.subarray(128, 256));
    // CON, GET, /status, 2:2/0/128  ------>  ACK, 2.05 Content, 2:2/0/128
    transport.deliver(
      devicePeer,
      request(Code.Get, 'status', [block(OptionNumber.Block2, '2/0/128')]),
    );
    await settle();
    r = transport.takeOne();
    assert.equal(blk(r, OptionNumber.Block2), '2/0/128');
    assert.deepEqual(r.payload, resource.subarray(256));
    // The later blocks came from the transfer's cache, not from the handler.
    assert.equal(calls(), 1);
    assert.equal(endpoint.stats.blockwiseTransfers, 1);
    await endpoint.close();
  });

  test('Block2 early negotiation (RFC 7959 §2.4, §3.1 figure 3)', async () => {
    const { transport, endpoint } = server();
    const resource = body(300);
    // CON, GET, /status, 2:0/0/64  ------>  ACK, 2.05 Content, 2:0/1/64
    transport.deliver(
      devicePeer,
      request(Code.Get, 'status', [block(OptionNumber.Block2, '0/0/64')]),
    );
    await settle();
    const got: string[] = [];
    let r = transport.takeOne();
    got.push(blk(r, OptionNumber.Block2)!);
    const parts = [r.payload];
    for (let n = 1; n <= 4; n++) {
      transport.deliver(
        devicePeer,
        request(Code.Get, 'status', [block(OptionNumber.Block2, `${n}/0/64`)]),
      );
      await settle();
      r = transport.takeOne();
      got.push(blk(r, OptionNumber.Block2)!);
      parts.push(r.payload);
    }
    assert.deepEqual(got, ['0/1/64', '1/1/64', '2/1/64', '3/1/64', '4/0/64']);
    assert.deepEqual(Buffer.concat(parts), resource);
    await endpoint.close();
  });

  test('answers a Size2 request with the size of the representation (RFC 7959 §4)', async () => {
    const { transport, endpoint } = server({ resource: body(40) });
    transport.deliver(devicePeer, request(Code.Get, 'status', [uintOption(OptionNumber.Size2, 0)]));
    await settle();
    const r = transport.takeOne();
    assert.equal(getUintOption(r.options, OptionNumber.Size2), 40);
    assert.equal(getOption(r.options, OptionNumber.Block2), undefined);
    assert.equal(r.payload.length, 40);
    await endpoint.close();
  });

  test('answers a larger Block2 size than ours with our size (RFC 7959 §2.4)', async () => {
    const { transport, endpoint } = server({ blockSize: 64 });
    transport.deliver(
      devicePeer,
      request(Code.Get, 'status', [block(OptionNumber.Block2, '0/0/512')]),
    );
    await settle();
    assert.equal(blk(transport.takeOne(), OptionNumber.Block2), '0/1/64');
    await endpoint.close();
  });

  test('Block1 simple PUT, lockstep, with a new token per block as libcoap sends (RFC 7959 §3.2 figure 6)', async () => {
    const { transport, endpoint, received, calls } = server();
    const payload = body(300);
    const steps: [string, number, string][] = [
      ['0/1/128', Code.Continue, '0/1/128'],
      ['1/1/128', Code.Continue, '1/1/128'],
      ['2/0/128', Code.Changed, '2/0/128'],
    ];
    for (const [i, [sent, code, answer]] of steps.entries()) {
      transport.deliver(
        devicePeer,
        request(
          Code.Put,
          'options',
          [block(OptionNumber.Block1, sent)],
          payload.subarray(i * 128, i * 128 + 128),
          Buffer.from([0xa0 + i]),
        ),
      );
      await settle();
      const r = transport.takeOne();
      assert.equal(r.code, code);
      assert.deepEqual(r.token, Buffer.from([0xa0 + i]));
      assert.equal(blk(r, OptionNumber.Block1), answer);
    }
    assert.equal(calls(), 1);
    assert.deepEqual(received[0], payload);
    await endpoint.close();
  });

  test("keeps the first block's Content-Format when later blocks leave it out (RFC 7959 §2.5)", async () => {
    const transport = new FakeTransport();
    const formats: (number | undefined)[] = [];
    const endpoint = new CoapEndpoint(transport, {
      clock: new ManualClock(),
      handler: (req) => {
        formats.push(req.contentFormat);
        return { code: Code.Changed };
      },
    });
    transport.deliver(
      devicePeer,
      request(
        Code.Post,
        'dp',
        [block(OptionNumber.Block1, '0/1/16'), uintOption(OptionNumber.ContentFormat, 112)],
        body(16),
      ),
    );
    transport.deliver(
      devicePeer,
      request(Code.Post, 'dp', [block(OptionNumber.Block1, '1/0/16')], body(5)),
    );
    await settle();
    assert.deepEqual(
      transport.take().map((m) => m.code),
      [Code.Continue, Code.Changed],
    );
    assert.deepEqual(formats, [112]);
    await endpoint.close();
  });

  test('Block1 with the server asking for smaller blocks (RFC 7959 §3.2 figure 7)', async () => {
    const { transport, endpoint, received } = server({ blockSize: 32 });
    const payload = body(200);
    // 1:0/1/128 -> 2.31 1:0/1/32; then 1:4/1/32 -> 1:4/1/32; 1:5/1/32; 1:6/0/32 -> 2.04 1:6/0/32
    transport.deliver(
      devicePeer,
      request(
        Code.Put,
        'options',
        [block(OptionNumber.Block1, '0/1/128')],
        payload.subarray(0, 128),
      ),
    );
    await settle();
    let r = transport.takeOne();
    assert.equal(r.code, Code.Continue);
    assert.equal(blk(r, OptionNumber.Block1), '0/1/32');
    const rest: [string, number, number][] = [
      ['4/1/32', 128, Code.Continue],
      ['5/1/32', 160, Code.Continue],
      ['6/0/32', 192, Code.Changed],
    ];
    for (const [b, off, code] of rest) {
      transport.deliver(
        devicePeer,
        request(
          Code.Put,
          'options',
          [block(OptionNumber.Block1, b)],
          payload.subarray(off, off + 32),
        ),
      );
      await settle();
      r = transport.takeOne();
      assert.equal(r.code, code);
      assert.equal(blk(r, OptionNumber.Block1), b);
    }
    assert.deepEqual(received[0], payload);
    await endpoint.close();
  });

  test('answers an out-of-order Block1 with 4.08 Request Entity Incomplete (RFC 7959 §2.9.2)', async () => {
    const { transport, endpoint, calls } = server();
    transport.deliver(
      devicePeer,
      request(Code.Put, 'options', [block(OptionNumber.Block1, '0/1/128')], body(128)),
    );
    await settle();
    assert.equal(transport.takeOne().code, Code.Continue);
    transport.deliver(
      devicePeer,
      request(Code.Put, 'options', [block(OptionNumber.Block1, '2/1/128')], body(128)),
    );
    await settle();
    assert.equal(transport.takeOne().code, Code.RequestEntityIncomplete);
    // Without block 0 first, a later block is incomplete too.
    transport.deliver(
      devicePeer,
      request(Code.Put, 'other', [block(OptionNumber.Block1, '1/0/128')], body(10)),
    );
    await settle();
    assert.equal(transport.takeOne().code, Code.RequestEntityIncomplete);
    assert.equal(calls(), 0);
    await endpoint.close();
  });

  test('answers 4.13 with Size1 when the announced body is over our limit (RFC 7959 §2.9.3, §4)', async () => {
    const { transport, endpoint } = server({ maxBodySize: 256 });
    transport.deliver(
      devicePeer,
      request(
        Code.Put,
        'options',
        [block(OptionNumber.Block1, '0/1/128'), uintOption(OptionNumber.Size1, 1000)],
        body(128),
      ),
    );
    await settle();
    const r = transport.takeOne();
    assert.equal(r.code, Code.RequestEntityTooLarge);
    assert.equal(getUintOption(r.options, OptionNumber.Size1), 256);
    await endpoint.close();
  });

  test('answers 4.13 when the blocks grow past our limit without Size1 (RFC 7959 §2.9.3)', async () => {
    const { transport, endpoint } = server({ maxBodySize: 256 });
    const codes: number[] = [];
    for (let n = 0; n < 3; n++) {
      transport.deliver(
        devicePeer,
        request(Code.Put, 'options', [block(OptionNumber.Block1, `${n}/1/128`)], body(128)),
      );
      await settle();
      codes.push(transport.takeOne().code);
    }
    assert.deepEqual(codes, [Code.Continue, Code.Continue, Code.RequestEntityTooLarge]);
    await endpoint.close();
  });

  test('bounds the memory of all transfers together, answering 5.03 beyond it', async () => {
    const transport = new FakeTransport();
    const endpoint = new CoapEndpoint(transport, {
      clock: new ManualClock(),
      blockSize: 128,
      // Room for two one-block transfers: 128 bytes each plus about 600 of bookkeeping.
      blockwise: { maxTotalBytes: 2 * (128 + 96 + 512) },
      handler: () => ({ code: Code.Changed }),
    });
    const peers = [
      devicePeer,
      otherPeer,
      { key: 'udp:198.51.100.9:1', address: '198.51.100.9', port: 1 },
    ];
    for (const peer of peers) {
      transport.deliver(
        peer,
        request(Code.Put, 'fw', [block(OptionNumber.Block1, '0/1/128')], body(128)),
      );
    }
    await settle();
    assert.deepEqual(
      transport.take().map((m) => m.code),
      [Code.Continue, Code.Continue, Code.ServiceUnavailable],
    );
    await endpoint.close();
  });

  test('answers 4.00 to the reserved SZX 7 (RFC 7959 §2.2)', async () => {
    const { transport, endpoint } = server();
    transport.deliver(
      devicePeer,
      request(
        Code.Put,
        'options',
        [{ number: OptionNumber.Block1, value: Buffer.from([0x0f]) }],
        body(10),
      ),
    );
    await settle();
    assert.equal(transport.takeOne().code, Code.BadRequest);
    await endpoint.close();
  });

  test('expires an idle Block1 transfer (bounded memory)', async () => {
    const { transport, endpoint, clock } = server();
    transport.deliver(
      devicePeer,
      request(Code.Put, 'options', [block(OptionNumber.Block1, '0/1/128')], body(128)),
    );
    await settle();
    transport.take();
    clock.advance(247_001);
    transport.deliver(
      devicePeer,
      request(Code.Put, 'options', [block(OptionNumber.Block1, '1/0/128')], body(10)),
    );
    await settle();
    assert.equal(transport.takeOne().code, Code.RequestEntityIncomplete);
    await endpoint.close();
  });
});

describe('Block-wise transfers, client side (RFC 7959)', () => {
  function client() {
    const transport = new FakeTransport();
    const endpoint = new CoapEndpoint(transport, {
      clock: new ManualClock(),
      random: () => 0,
      blockSize: 128,
    });
    return { transport, endpoint };
  }
  const ack = (
    req: CoapMessage,
    code: number,
    options: CoapOption[],
    payload = Buffer.alloc(0),
  ): CoapMessage => ({
    type: MessageType.Ack,
    code,
    messageId: req.messageId,
    token: req.token,
    options,
    payload,
  });

  test('fetches every block of a Block2 response and returns the whole body (RFC 7959 §3.1)', async () => {
    const { transport, endpoint } = client();
    const resource = body(300);
    const p = endpoint.request(devicePeer, { code: Code.Get, path: '/status' });
    const seen: (string | undefined)[] = [];
    for (let n = 0; n < 3; n++) {
      await settle();
      const req = transport.takeOne();
      seen.push(blk(req, OptionNumber.Block2));
      const more = n < 2 ? 1 : 0;
      transport.deliver(
        devicePeer,
        ack(
          req,
          Code.Content,
          [block(OptionNumber.Block2, `${n}/${more}/128`)],
          resource.subarray(n * 128, n * 128 + 128),
        ),
      );
    }
    const res = await p;
    assert.deepEqual(seen, [undefined, '1/0/128', '2/0/128']);
    assert.deepEqual(res.payload, resource);
    assert.equal(endpoint.stats.blockwiseTransfers, 1);
    await endpoint.close();
  });

  test('asks for its block size in the first request on early negotiation (RFC 7959 §2.4)', async () => {
    const { transport, endpoint } = client();
    const p = endpoint.request(devicePeer, {
      code: Code.Get,
      path: '/status',
      earlyBlock2: true,
      blockSize: 64,
    });
    await settle();
    const req = transport.takeOne();
    assert.equal(blk(req, OptionNumber.Block2), '0/0/64');
    transport.deliver(devicePeer, ack(req, Code.Content, [], Buffer.from('small')));
    assert.equal((await p).payload.toString(), 'small');
    await endpoint.close();
  });

  test('sends a large body with Block1 and Size1, following a smaller size from 2.31 (RFC 7959 §2.3, §4)', async () => {
    const { transport, endpoint } = client();
    const payload = body(200);
    const p = endpoint.request(devicePeer, { code: Code.Put, path: '/options', payload });
    await settle();
    let req = transport.takeOne();
    assert.equal(blk(req, OptionNumber.Block1), '0/1/128');
    assert.equal(getUintOption(req.options, OptionNumber.Size1), 200);
    assert.deepEqual(req.payload, payload.subarray(0, 128));
    transport.deliver(devicePeer, ack(req, Code.Continue, [block(OptionNumber.Block1, '0/1/32')]));
    const sent: string[] = [];
    const parts: Buffer[] = [req.payload];
    for (;;) {
      await settle();
      req = transport.takeOne();
      sent.push(blk(req, OptionNumber.Block1)!);
      parts.push(req.payload);
      const b = decodeBlock(getOption(req.options, OptionNumber.Block1)!)!;
      transport.deliver(
        devicePeer,
        ack(req, b.more ? Code.Continue : Code.Changed, [
          block(OptionNumber.Block1, blk(req, OptionNumber.Block1)!),
        ]),
      );
      if (!b.more) break;
    }
    assert.deepEqual(sent, ['4/1/32', '5/1/32', '6/0/32']);
    assert.deepEqual(Buffer.concat(parts), payload);
    assert.equal((await p).code, Code.Changed);
    await endpoint.close();
  });

  test('fails a Block2 transfer whose non-final block is short, rather than loop (RFC 7959 §2.2)', async () => {
    const { transport, endpoint } = client();
    const p = endpoint.request(devicePeer, { code: Code.Get, path: '/status' });
    await settle();
    const req = transport.takeOne();
    transport.deliver(devicePeer, ack(req, Code.Content, [block(OptionNumber.Block2, '0/1/128')]));
    await assert.rejects(p, { code: 'COAP_ERR_BLOCKWISE' });
    await endpoint.close();
  });

  test('stops a Block1 transfer at an error response and returns it (RFC 7959 §2.3)', async () => {
    const { transport, endpoint } = client();
    const p = endpoint.request(devicePeer, {
      code: Code.Put,
      path: '/options',
      payload: body(300),
    });
    await settle();
    const req = transport.takeOne();
    transport.deliver(
      devicePeer,
      ack(req, Code.RequestEntityTooLarge, [uintOption(OptionNumber.Size1, 100)]),
    );
    const res = await p;
    assert.equal(res.code, Code.RequestEntityTooLarge);
    await settle();
    assert.equal(transport.take().length, 0);
    await endpoint.close();
  });
});

describe('Block-wise transfers between two endpoints (RFC 7959)', () => {
  test('POSTs a large body with Block1 and receives a large answer with Block2, handler run once (RFC 7959 §2.7)', async () => {
    const st = new FakeTransport();
    const ct = new FakeTransport();
    linkTransports(st, otherPeer, ct, devicePeer);
    let calls = 0;
    const server = new CoapEndpoint(st, {
      clock: new ManualClock(),
      blockSize: 128,
      handler: (req) => {
        calls++;
        return {
          code: Code.Changed,
          payload: Buffer.concat([req.payload, req.payload]).subarray(0, 500),
        };
      },
    });
    const client = new CoapEndpoint(ct, { clock: new ManualClock(), blockSize: 64 });
    const payload = body(300);
    const res = await client.request(otherPeer, { code: Code.Post, path: '/soap', payload });
    assert.equal(res.code, Code.Changed);
    assert.deepEqual(res.payload, Buffer.concat([payload, payload]).subarray(0, 500));
    assert.equal(calls, 1);
    // 5 Block1 requests of 64 bytes, then 3 more Block2 requests of 128-byte blocks.
    assert.equal(server.stats.requestsIn, 8);
    assert.equal(client.stats.blockwiseTransfers, 2);
    await client.close();
    await server.close();
  });

  test('answers 4.08 to a later Block2 of a POST whose transfer is gone (RFC 7959 §2.7)', async () => {
    const { transport, endpoint, calls } = server();
    transport.deliver(
      devicePeer,
      request(Code.Post, 'soap', [block(OptionNumber.Block2, '1/0/128')]),
    );
    await settle();
    assert.equal(transport.takeOne().code, Code.RequestEntityIncomplete);
    assert.equal(calls(), 0);
    await endpoint.close();
  });
});
