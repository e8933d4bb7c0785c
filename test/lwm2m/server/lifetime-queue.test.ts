/**
 * Lifetimes and queue mode with deterministic time: a ManualClock drives the server and its
 * CoAP endpoint, and devices are raw datagram senders on an in-memory network.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import {
  type CoapMessage,
  decodeMessage,
  emptyMessage,
  encodeMessage,
  MessageType,
} from '../../../src/coap/message.js';
import { getUintOption, OptionNumber } from '../../../src/coap/option.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import type { Lwm2mSingleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mError, Lwm2mServer, type Registration } from '../../../src/lwm2m/server/index.js';
import { ManualClock } from '../../../src/util/clock.js';
import { MemoryNetwork, type MemoryTransport, opt, settle } from './helpers.js';

function setup(options: { queueAwakeMs?: number; queueTtlMs?: number } = {}) {
  const clock = new ManualClock();
  const network = new MemoryNetwork();
  const transport = network.transport('10.0.0.1', 5683);
  let server: Lwm2mServer | undefined;
  const endpoint = new CoapEndpoint(transport, {
    clock,
    random: () => 0,
    onPeerSeen: (p) => server?.peerSeen(p),
  });
  let n = 0;
  server = new Lwm2mServer({ endpoint, clock, generateId: () => `id${++n}`, ...options });
  return { clock, network, transport, endpoint, server };
}

/** A device on the in-memory network that keeps what the server sends it. */
class MemDevice {
  readonly inbox: CoapMessage[] = [];
  #mid = 1;
  constructor(
    readonly transport: MemoryTransport,
    readonly server: MemoryTransport,
  ) {
    transport.onReceive((data) => {
      const d = decodeMessage(data);
      if (d.ok) this.inbox.push(d.message);
    });
  }

  send(code: number, path: string[], query: string[] = [], payload = '', format?: number): number {
    const messageId = this.#mid++;
    const options = [
      ...path.map(opt.uriPath),
      ...(format === undefined ? [] : [opt.contentFormat(format)]),
      ...query.map(opt.uriQuery),
    ].sort((a, b) => a.number - b.number);
    this.transport.send(
      this.server.self,
      encodeMessage({
        type: MessageType.Con,
        code,
        messageId,
        token: Buffer.from([messageId & 0xff]),
        options,
        payload: Buffer.from(payload),
      }),
    );
    return messageId;
  }

  register(ep: string, query: string[] = []): number {
    return this.send(Code.Post, ['rd'], [`ep=${ep}`, ...query], '</3/0>', ContentFormat.LINK);
  }

  ping(): void {
    this.transport.send(
      this.server.self,
      encodeMessage(emptyMessage(MessageType.Con, this.#mid++)),
    );
  }

  /** Answers a request of the server with a piggy-backed text response. */
  answer(request: CoapMessage, text: string): void {
    this.transport.send(
      this.server.self,
      encodeMessage({
        type: MessageType.Ack,
        code: Code.Content,
        messageId: request.messageId,
        token: request.token,
        options: [opt.contentFormat(ContentFormat.TEXT)],
        payload: Buffer.from(text),
      }),
    );
  }

  /** The requests (not ACK/RST) the server sent. */
  requests(): CoapMessage[] {
    return this.inbox.filter((m) => m.type === MessageType.Con && m.code >= 1 && m.code <= 7);
  }
}

async function until(condition: () => boolean, rounds = 5000): Promise<void> {
  for (let i = 0; i < rounds && !condition(); i++) await settle(1);
  assert.ok(condition(), 'condition not reached');
}

describe('registration lifetimes with a manual clock (LwM2M-TS-Core 1.1 §6.2.1, §6.2.2)', () => {
  test('expires 2,000 registrations when their lifetime passes without Update, each with an expired event', async () => {
    const { clock, network, transport, endpoint, server } = setup();
    const devices: MemDevice[] = [];
    for (let i = 0; i < 2000; i++) {
      devices.push(new MemDevice(network.transport(`10.1.${i >> 8}.${i & 255}`, 5683), transport));
    }
    for (const [i, d] of devices.entries()) d.register(`dev-${i}`, ['lt=60']);
    await until(() => devices.every((d) => d.inbox.length === 1));
    assert.ok(devices.every((d) => d.inbox[0]!.code === Code.Created));
    assert.equal(await server.store.size(), 2000);
    const ids = new Set((await server.registrations()).map((r) => r.id));
    assert.equal(ids.size, 2000, 'registration IDs are unique');

    const expired: Registration[] = [];
    server.on('expired', (r) => expired.push(r));
    clock.advance(59_999);
    await settle();
    assert.equal(expired.length, 0);
    clock.advance(1);
    await until(() => expired.length === 2000);
    assert.equal(await server.store.size(), 0);
    assert.equal(new Set(expired.map((r) => r.endpoint)).size, 2000);
    await server.close();
    await endpoint.close();
  });

  test('an Update restarts the lifetime: updated devices outlive the others (LwM2M-TS-Core 1.1 §6.2.2)', async () => {
    const { clock, network, transport, endpoint, server } = setup();
    const devices = Array.from(
      { length: 200 },
      (_, i) => new MemDevice(network.transport(`10.2.0.${i}`, 5683), transport),
    );
    for (const [i, d] of devices.entries()) d.register(`u-${i}`, ['lt=60']);
    await until(() => devices.every((d) => d.inbox.length === 1));
    clock.advance(30_000);
    const half = devices.slice(0, 100);
    for (const [i, d] of half.entries()) d.send(Code.Post, ['rd', `id${i + 1}`]);
    await until(() => half.every((d) => d.inbox.length === 2));
    assert.ok(half.every((d) => d.inbox[1]!.code === Code.Changed));
    const expired: string[] = [];
    server.on('expired', (r) => expired.push(r.endpoint));
    clock.advance(30_000);
    await until(() => expired.length === 100);
    assert.ok(expired.every((ep) => Number(ep.slice(2)) >= 100));
    clock.advance(30_000);
    await until(() => expired.length === 200);
    await server.close();
    await endpoint.close();
  });

  test('keeps a registration for the grace period after its lifetime when configured', async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork();
    const transport = network.transport('10.0.0.1', 5683);
    const endpoint = new CoapEndpoint(transport, { clock });
    const server = new Lwm2mServer({ endpoint, clock, lifetimeGraceMs: 5_000 });
    const d = new MemDevice(network.transport('10.3.0.1', 5683), transport);
    d.register('grace', ['lt=10']);
    await until(() => d.inbox.length === 1);
    clock.advance(14_999);
    await settle();
    assert.ok(await server.getRegistration('grace'));
    clock.advance(1);
    await settle();
    assert.equal(await server.getRegistration('grace'), undefined);
    await server.close();
    await endpoint.close();
  });
  test('keeps a registration with the longest lifetime, 2^32-1 s, beyond the 24.8 days of one Node timer (LwM2M-TS-Core 1.1 Appendix E.2)', async () => {
    const { clock, network, transport, endpoint, server } = setup();
    const d = new MemDevice(network.transport('10.3.0.2', 5683), transport);
    d.register('forever', ['lt=4294967295']);
    await until(() => d.inbox.length === 1);
    assert.equal(d.inbox[0]!.code, Code.Created);
    clock.advance(30 * 86_400_000);
    await settle();
    assert.ok(await server.getRegistration('forever'));
    const expired: string[] = [];
    server.on('expired', (r) => expired.push(r.endpoint));
    clock.advance(4_294_967_295_000 - 30 * 86_400_000);
    await until(() => expired.length === 1);
    assert.equal(await server.getRegistration('forever'), undefined);
    await server.close();
    await endpoint.close();
  });
});

describe('queue mode with a manual clock (LwM2M-TS-Core 1.1 §6.5)', () => {
  async function queued() {
    const s = setup({ queueAwakeMs: 93_000, queueTtlMs: 60_000 });
    const d = new MemDevice(s.network.transport('10.4.0.1', 5683), s.transport);
    d.register('sleepy', ['lwm2m=1.1', 'lt=3600', 'Q']);
    await until(() => d.inbox.length === 1);
    return { ...s, d };
  }

  test('sends at once while the device is awake after its registration', async () => {
    const { d, server, endpoint } = await queued();
    const read = server.read('sleepy', { path: '/3/0/0' });
    await until(() => d.requests().length === 1);
    d.answer(d.requests()[0]!, 'ACME');
    assert.equal(((await read).content as Lwm2mSingleResource).value.value, 'ACME');
    await server.close();
    await endpoint.close();
  });

  test('holds a request for a sleeping device until its next Update, then sends it there', async () => {
    const { d, server, endpoint, clock } = await queued();
    clock.advance(93_000);
    const read = server.read('sleepy', { path: '/3/0/0' });
    await settle();
    assert.equal(server.queuedRequests('sleepy'), 1);
    assert.equal(d.requests().length, 0);
    d.send(Code.Post, ['rd', 'id1']);
    await until(() => d.requests().length === 1);
    assert.equal(server.queuedRequests('sleepy'), 0);
    d.answer(d.requests()[0]!, 'ACME');
    assert.equal((await read).code, Code.Content);
    await server.close();
    await endpoint.close();
  });

  test('any message from the device wakes it, a CoAP ping too (LwM2M-TS-Core 1.1 §6.5)', async () => {
    const { d, server, endpoint, clock } = await queued();
    clock.advance(100_000);
    const read = server.read('sleepy', { path: '/3/0/0' });
    await settle();
    assert.equal(server.queuedRequests('sleepy'), 1);
    d.ping();
    await until(() => d.requests().length === 1);
    d.answer(d.requests()[0]!, 'ACME');
    assert.equal((await read).code, Code.Content);
    await server.close();
    await endpoint.close();
  });

  test('holds an Observe for a sleeping device too, and starts it when the device shows up (LwM2M-TS-Core 1.1 §6.5)', async () => {
    const { d, server, endpoint, clock } = await queued();
    clock.advance(93_000);
    const observing = server.observe('sleepy', { path: '/3/0/9', format: ContentFormat.TEXT });
    await settle();
    assert.equal(server.queuedRequests('sleepy'), 1);
    d.ping();
    await until(() => d.requests().length === 1);
    const request = d.requests()[0]!;
    assert.equal(getUintOption(request.options, OptionNumber.Observe), 0);
    d.transport.send(
      d.server.self,
      encodeMessage({
        type: MessageType.Ack,
        code: Code.Content,
        messageId: request.messageId,
        token: request.token,
        options: [opt.observe(2), opt.contentFormat(ContentFormat.TEXT)],
        payload: Buffer.from('80'),
      }),
    );
    const o = await observing;
    assert.ok(o.observation?.active);
    assert.equal(server.observations('sleepy').length, 1);
    assert.equal(await server.cancelObservations('sleepy'), 1);
    assert.equal(server.observations('sleepy').length, 0);
    await server.close();
    await endpoint.close();
  });

  test('fails a queued request with LWM2M_ERR_QUEUE_EXPIRED when its time-to-live passes', async () => {
    const { d, server, endpoint, clock } = await queued();
    clock.advance(93_000);
    const read = server.read('sleepy', { path: '/3/0/0' }, { queueTtlMs: 5_000 });
    const rejected = assert.rejects(
      read,
      (e: unknown) =>
        e instanceof Lwm2mError && e.code === 'LWM2M_ERR_QUEUE_EXPIRED' && /sleepy/.test(e.message),
    );
    await settle();
    clock.advance(5_000);
    await rejected;
    assert.equal(server.queuedRequests('sleepy'), 0);
    d.send(Code.Post, ['rd', 'id1']);
    await until(() => d.inbox.length === 2);
    assert.equal(d.requests().length, 0);
    await server.close();
    await endpoint.close();
  });

  test('a queued request withdrawn by its AbortSignal fails LWM2M_ERR_CANCELLED and is never sent', async () => {
    const { d, server, endpoint, clock } = await queued();
    clock.advance(93_000);
    const abort = new AbortController();
    let sent = 0;
    const read = server.read(
      'sleepy',
      { path: '/3/0/0' },
      { signal: abort.signal, onSent: () => sent++ },
    );
    const kept = server.read('sleepy', { path: '/3/0/1' }, { onSent: () => sent++ });
    await settle();
    assert.equal(server.queuedRequests('sleepy'), 2);
    abort.abort();
    await assert.rejects(
      read,
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_CANCELLED',
    );
    assert.equal(server.queuedRequests('sleepy'), 1);
    // The device wakes: only the request that was not withdrawn goes out.
    d.send(Code.Post, ['rd', 'id1']);
    await until(() => d.requests().length === 1);
    assert.deepEqual(
      d
        .requests()[0]!
        .options.filter((o) => o.number === OptionNumber.UriPath)
        .map((o) => o.value.toString()),
      ['3', '0', '1'],
    );
    assert.equal(sent, 1);
    // An abort after the request left changes nothing: the answer still comes back.
    abort.abort();
    d.answer(d.requests()[0]!, 'x');
    assert.equal((await kept).code, Code.Content);
    await server.close();
    await endpoint.close();
  });

  test('an already aborted signal fails the request at once, asleep or awake', async () => {
    const { server, endpoint } = await queued();
    await assert.rejects(
      server.read('sleepy', { path: '/3/0/0' }, { signal: AbortSignal.abort() }),
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_CANCELLED',
    );
    assert.equal(server.queuedRequests('sleepy'), 0);
    await server.close();
    await endpoint.close();
  });

  test('fails queued requests with LWM2M_ERR_CANCELLED when the device de-registers', async () => {
    const { d, server, endpoint, clock } = await queued();
    clock.advance(93_000);
    const read = server.read('sleepy', { path: '/3/0/0' });
    const rejected = assert.rejects(
      read,
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_CANCELLED',
    );
    await settle();
    d.send(Code.Delete, ['rd', 'id1']);
    await rejected;
    await server.close();
    await endpoint.close();
  });

  test('a device that does not answer times out with LWM2M_ERR_TIMEOUT and counts as asleep (RFC 7252 §4.2)', async () => {
    const { d, server, endpoint, clock } = await queued();
    const read = server.read('sleepy', { path: '/3/0/0' });
    const rejected = assert.rejects(
      read,
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_TIMEOUT',
    );
    await until(() => d.requests().length === 1);
    // RFC 7252 §4.8.2: MAX_TRANSMIT_WAIT is 93 s; retransmissions are not answered either.
    for (let i = 0; i < 10; i++) {
      clock.advance(10_000);
      await settle();
    }
    await rejected;
    const seen = new Set(d.requests().map((m) => m.messageId));
    const next = server.read('sleepy', { path: '/3/0/0' });
    await settle();
    assert.equal(server.queuedRequests('sleepy'), 1);
    d.send(Code.Post, ['rd', 'id1']);
    const fresh = () => d.requests().filter((m) => !seen.has(m.messageId));
    await until(() => fresh().length === 1);
    assert.equal(getUintOption(fresh()[0]!.options, OptionNumber.Accept), ContentFormat.TLV);
    d.answer(fresh()[0]!, 'ACME');
    assert.equal((await next).code, Code.Content);
    await server.close();
    await endpoint.close();
  });
});

describe('registrations of secured peers (LwM2M-TS-Transport 1.1 §5.2)', () => {
  test('refuses an Update, De-register or Send from another identity with 4.03, and takes one from the same identity at a new address', async () => {
    const { network, transport, endpoint, server } = setup();
    const owner = new MemDevice(
      network.transport('10.5.0.1', 5683, { kind: 'psk', identity: 'dev-a' }),
      transport,
    );
    const intruder = new MemDevice(
      network.transport('10.5.0.2', 5683, { kind: 'psk', identity: 'dev-b' }),
      transport,
    );
    const plain = new MemDevice(network.transport('10.5.0.3', 5683), transport);
    owner.register('secure', ['lwm2m=1.1']);
    await until(() => owner.inbox.length === 1);
    assert.equal((await server.getRegistration('secure'))?.peer.identity?.kind, 'psk');
    intruder.send(Code.Post, ['rd', 'id1']);
    plain.send(Code.Delete, ['rd', 'id1']);
    intruder.send(Code.Post, ['dp'], [], '[{"n":"/3/0/0","vs":"x"}]', ContentFormat.SENML_JSON);
    await until(() => intruder.inbox.length === 2 && plain.inbox.length === 1);
    assert.deepEqual(
      [...intruder.inbox, ...plain.inbox].map((m) => m.code),
      [Code.Forbidden, Code.NotFound, Code.Forbidden],
    );
    assert.ok(await server.getRegistration('secure'));
    // The same identity from a new address (a DTLS session resumed behind NAT) is the owner.
    const moved = new MemDevice(
      network.transport('10.5.0.9', 5683, { kind: 'psk', identity: 'dev-a' }),
      transport,
    );
    moved.send(Code.Post, ['rd', 'id1']);
    await until(() => moved.inbox.length === 1);
    assert.equal(moved.inbox[0]!.code, Code.Changed);
    await server.close();
    await endpoint.close();
  });

  test('refuses a Register that the authorizer rejects with 4.03 (LwM2M 1.0 §8.2.3 Table 24)', async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork();
    const transport = network.transport('10.0.0.1', 5683);
    const endpoint = new CoapEndpoint(transport, { clock });
    // Only the PSK identity named after the endpoint may register it.
    const server = new Lwm2mServer({
      endpoint,
      clock,
      authorize: (params, peer) =>
        peer.identity?.kind === 'psk' && peer.identity.identity === params.endpoint,
    });
    const good = new MemDevice(
      network.transport('10.6.0.1', 5683, { kind: 'psk', identity: 'meter-1' }),
      transport,
    );
    const bad = new MemDevice(
      network.transport('10.6.0.2', 5683, { kind: 'psk', identity: 'meter-2' }),
      transport,
    );
    good.register('meter-1');
    bad.register('meter-1');
    await until(() => good.inbox.length === 1 && bad.inbox.length === 1);
    assert.equal(good.inbox[0]!.code, Code.Created);
    assert.equal(bad.inbox[0]!.code, Code.Forbidden);
    assert.equal((await server.getRegistration('meter-1'))?.peer.address, '10.6.0.1');
    await server.close();
    await endpoint.close();
  });
});
