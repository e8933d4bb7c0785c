import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
import { Registry } from 'prom-client';
import { DeviceEventFeed } from '../../src/hub/device-events.js';
import { DeviceRegistry } from '../../src/hub/device-registry.js';
import { HubError } from '../../src/hub/errors.js';
import type { DeliveryObserver, DeliveryPolicy } from '../../src/hub/webhook-delivery.js';
import { Webhooks } from '../../src/hub/webhooks.js';
import { silentLogger } from '../../src/log.js';
import { webhookMetrics } from '../../src/server/webhook-metrics.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { captureLogs } from '../helpers/log-capture.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  json: { type: string; device: string; [k: string]: unknown };
}

/** What the receiver answers to its n-th request (from 0): a status and headers, or nothing. */
type Answer = (
  n: number,
  r: Received,
) => { status: number; headers?: Record<string, string> } | 'hang';

/** A local HTTP server on port 0 that records every request and answers as told. */
async function receiver(t: TestContext, answer: Answer = () => ({ status: 204 })) {
  const requests: Received[] = [];
  const hanging: ServerResponse[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      const r = { headers: req.headers, body, json: JSON.parse(body) as Received['json'] };
      const a = answer(requests.length, r);
      requests.push(r);
      for (const w of waiters.filter((w) => requests.length >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      if (a === 'hang') hanging.push(res);
      else res.writeHead(a.status, a.headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?k=1`,
    requests,
    /** Resolves once `n` requests have come. */
    received: (n: number) =>
      new Promise<void>((resolve) => {
        if (requests.length >= n) resolve();
        else waiters.push({ n, resolve });
      }),
    /** Answers every hanging request with this status. */
    release: (status = 204) => {
      for (const res of hanging.splice(0)) res.writeHead(status).end();
    },
  };
}

type Signal = { kind: keyof DeliveryObserver; args: unknown[] };

/** An observer that records what it is told and lets a test wait for the next of a kind. */
function observed() {
  const signals: Signal[] = [];
  const waiters: { kind: string; seen: number; resolve: (s: Signal) => void }[] = [];
  const record =
    (kind: keyof DeliveryObserver) =>
    (...args: unknown[]) => {
      const s = { kind, args };
      signals.push(s);
      for (const w of [...waiters]) {
        const same = signals.filter((x) => x.kind === w.kind);
        if (same.length > w.seen) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(same[w.seen]!);
        }
      }
    };
  const observer: DeliveryObserver = {
    delivered: record('delivered'),
    failed: record('failed'),
    dropped: record('dropped'),
    retrying: record('retrying'),
  };
  /** The `index`-th (from 0) signal of `kind`, once it comes. */
  const nth = (kind: keyof DeliveryObserver, index: number) =>
    new Promise<Signal>((resolve) => {
      const same = signals.filter((x) => x.kind === kind);
      if (same.length > index) resolve(same[index]!);
      else waiters.push({ kind, seen: index, resolve });
    });
  return { observer, signals, nth, of: (kind: string) => signals.filter((s) => s.kind === kind) };
}

/** A registry on an in-memory store, its event feed and webhooks on a manual clock. */
async function setup(
  t: TestContext,
  options: {
    policy?: Partial<DeliveryPolicy>;
    random?: () => number;
    logger?: ReturnType<typeof silentLogger>;
  } = {},
) {
  const store = new SqliteStore({ dataDir: ':memory:' });
  const clock = new ManualClock();
  const devices = new DeviceRegistry({ store: store.devices });
  const events = new DeviceEventFeed({ devices, clock });
  const signals = observed();
  const webhooks = new Webhooks({
    store: store.webhooks,
    events,
    clock,
    logger: options.logger ?? silentLogger(),
    userAgent: 'Tandem/test',
    observer: signals.observer,
    random: options.random ?? (() => 0.5),
    ...(options.policy ? { policy: options.policy } : {}),
  });
  await webhooks.start();
  t.after(async () => {
    await webhooks.close();
    events.close();
    await store.close();
  });
  const device = (id: string) => devices.create({ id, protocol: 'mqtt' });
  return { store, clock, devices, events, webhooks, device, ...signals };
}

const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

describe('webhooks', () => {
  test('each event is POSTed as JSON with the Standard Webhooks headers and a signature that verifies', async (t) => {
    const hook = await receiver(t);
    const { webhooks, device, nth } = await setup(t);
    const created = await webhooks.create({ url: hook.url, secret: SECRET });
    assert.equal(created.signed, true);
    assert.equal('secret' in created, false, 'a given secret is not echoed');
    await device('d1');
    await nth('delivered', 0);
    const [r] = hook.requests;
    assert.equal(r!.headers['content-type'], 'application/json');
    assert.equal(r!.headers['user-agent'], 'Tandem/test');
    assert.equal(r!.headers['x-tandem-webhook'], created.id);
    assert.equal(r!.headers['x-tandem-event'], 'registered');
    assert.equal(r!.json.type, 'registered');
    assert.equal(r!.json.device, 'd1');
    assert.equal((r!.json.data as { id: string }).id, 'd1');
    // Standard Webhooks 1.0, "Verifying webhook authenticity": HMAC-SHA256 with the base64
    // key of the secret over "{webhook-id}.{webhook-timestamp}.{body}".
    const id = r!.headers['webhook-id'] as string;
    const timestamp = r!.headers['webhook-timestamp'] as string;
    assert.match(id, /^msg_[0-9a-f-]{36}$/);
    assert.equal(Number(timestamp), 1_700_000_000, 'seconds since the epoch, from the clock');
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${r!.body}`).digest();
    const [version, signature] = (r!.headers['webhook-signature'] as string).split(',');
    assert.equal(version, 'v1');
    assert.ok(timingSafeEqual(Buffer.from(signature!, 'base64'), expected));
  });

  test('without a secret, deliveries carry no signature', async (t) => {
    const hook = await receiver(t);
    const { webhooks, device, nth } = await setup(t);
    assert.equal((await webhooks.create({ url: hook.url })).signed, false);
    await device('d1');
    await nth('delivered', 0);
    assert.equal(hook.requests[0]!.headers['webhook-signature'], undefined);
    assert.ok(hook.requests[0]!.headers['webhook-id']);
  });

  test('a 5xx is retried with exponential back-off and jitter, under the same webhook-id', async (t) => {
    const hook = await receiver(t, (n) => ({ status: n < 3 ? 503 : 200 }));
    const { webhooks, device, clock, nth } = await setup(t, { random: () => 0.5 });
    await webhooks.create({ url: hook.url });
    await device('d1');
    // Equal jitter: half the doubled delay plus random() of the other half (1 s, 2 s, 4 s).
    for (const [i, delay] of [750, 1500, 3000].entries()) {
      const retry = await nth('retrying', i);
      assert.deepEqual(retry.args.slice(1), [i + 1, delay]);
      clock.advance(delay);
    }
    const delivered = await nth('delivered', 0);
    assert.deepEqual(delivered.args.slice(1), [4], 'delivered at the fourth attempt');
    const ids = new Set(hook.requests.map((r) => r.headers['webhook-id']));
    assert.equal(ids.size, 1, 'the id is the idempotency key: the same on every attempt');
    assert.deepEqual(
      hook.requests.map((r) => r.headers['x-tandem-attempt']),
      ['1', '2', '3', '4'],
    );
  });

  test('the back-off is capped at maxDelayMs, and random() spreads it', async (t) => {
    const hook = await receiver(t, (n) => ({ status: n < 4 ? 500 : 200 }));
    const { webhooks, device, clock, nth } = await setup(t, {
      random: () => 1,
      policy: { baseDelayMs: 100, maxDelayMs: 300 },
    });
    await webhooks.create({ url: hook.url });
    await device('d1');
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const delay = (await nth('retrying', i)).args[2] as number;
      delays.push(delay);
      clock.advance(delay);
    }
    assert.deepEqual(delays, [100, 200, 300, 300]);
    await nth('delivered', 0);
  });

  test('Retry-After is honoured, as delay-seconds and as an HTTP-date (RFC 9110 §10.2.3)', async (t) => {
    const clockStart = 1_700_000_000_000;
    const hook = await receiver(t, (n) =>
      n === 0
        ? { status: 429, headers: { 'retry-after': '7' } }
        : n === 1
          ? {
              status: 503,
              headers: { 'retry-after': new Date(clockStart + 7000 + 30_000).toUTCString() },
            }
          : { status: 200 },
    );
    const { webhooks, device, clock, nth } = await setup(t);
    await webhooks.create({ url: hook.url });
    await device('d1');
    const first = await nth('retrying', 0);
    assert.equal(first.args[2], 7000, 'RFC 6585 §4: 429 Too Many Requests with Retry-After: 7');
    clock.advance(7000);
    const second = await nth('retrying', 1);
    assert.equal(second.args[2], 30_000, 'Retry-After as an HTTP-date, 30 s ahead');
    clock.advance(30_000);
    await nth('delivered', 0);
  });

  test('another 4xx is not retried, and the next event goes on', async (t) => {
    const hook = await receiver(t, (n) => ({ status: n === 0 ? 410 : 200 }));
    const { webhooks, device, nth, of } = await setup(t);
    await webhooks.create({ url: hook.url });
    await device('d1');
    await device('d2');
    await nth('delivered', 0);
    assert.deepEqual(of('failed')[0]!.args.slice(1), ['rejected']);
    assert.equal(of('retrying').length, 0);
    assert.deepEqual(
      hook.requests.map((r) => r.json.device),
      ['d1', 'd2'],
    );
  });

  test('a redirect is not followed: a POST would become a GET (RFC 9110 §15.4)', async (t) => {
    const hook = await receiver(t, () => ({ status: 302, headers: { location: '/elsewhere' } }));
    const { webhooks, device, nth } = await setup(t);
    await webhooks.create({ url: hook.url });
    await device('d1');
    assert.deepEqual((await nth('failed', 0)).args.slice(1), ['rejected']);
    assert.equal(hook.requests.length, 1);
  });

  test('after maxAttempts an event is given up', async (t) => {
    const hook = await receiver(t, () => ({ status: 500 }));
    const { webhooks, device, clock, nth } = await setup(t, { policy: { maxAttempts: 3 } });
    await webhooks.create({ url: hook.url });
    await device('d1');
    for (let i = 0; i < 2; i++) clock.advance((await nth('retrying', i)).args[2] as number);
    assert.deepEqual((await nth('failed', 0)).args.slice(1), ['exhausted']);
    assert.equal(hook.requests.length, 3);
  });

  test('a refused connection and an attempt past the timeout are retried', async (t) => {
    const hook = await receiver(t, (n) => (n === 0 ? 'hang' : { status: 200 }));
    const { webhooks, device, clock, nth } = await setup(t, { policy: { timeoutMs: 5000 } });
    await webhooks.create({ url: hook.url });
    await device('d1');
    await hook.received(1);
    clock.advance(5000);
    const retry = await nth('retrying', 0);
    assert.equal(retry.args[1], 1);
    clock.advance(retry.args[2] as number);
    await nth('delivered', 0);

    // Nothing listens on the port of a closed server.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await webhooks.create({ url: `http://127.0.0.1:${port}/` });
    await device('d2');
    const refused = await nth('retrying', 1);
    assert.equal(refused.args[1], 1, 'the refused attempt is retried');
  });

  test('events reach a webhook in order, even when the first needs retries', async (t) => {
    const hook = await receiver(t, (n) => ({ status: n < 2 ? 500 : 200 }));
    const { webhooks, device, clock, nth } = await setup(t);
    await webhooks.create({ url: hook.url });
    for (const id of ['d1', 'd2', 'd3']) await device(id);
    for (let i = 0; i < 2; i++) clock.advance((await nth('retrying', i)).args[2] as number);
    await nth('delivered', 2);
    assert.deepEqual(
      hook.requests.map((r) => r.json.device),
      ['d1', 'd1', 'd1', 'd2', 'd3'],
    );
  });

  test('a full queue drops new events, counts them in the metrics and logs it', async (t) => {
    const hook = await receiver(t, (n) => (n === 0 ? 'hang' : { status: 200 }));
    const registry = new Registry();
    const { logger, lines } = captureLogs('warn');
    const store = new SqliteStore({ dataDir: ':memory:' });
    const devices = new DeviceRegistry({ store: store.devices });
    const clock = new ManualClock();
    const events = new DeviceEventFeed({ devices, clock });
    let webhooks: Webhooks | undefined;
    const metrics = webhookMetrics(registry, () => webhooks?.queued() ?? []);
    const seen = observed();
    webhooks = new Webhooks({
      store: store.webhooks,
      events,
      clock,
      logger,
      userAgent: 'Tandem/test',
      policy: { queueLimit: 2 },
      observer: {
        ...metrics,
        delivered: (w, n) => {
          metrics.delivered(w, n);
          seen.observer.delivered(w, n);
        },
      },
    });
    t.after(async () => {
      await webhooks?.close();
      events.close();
      await store.close();
    });
    const { id } = await webhooks.create({ url: hook.url });
    for (const d of ['d1', 'd2', 'd3', 'd4', 'd5']) {
      await devices.create({ id: d, protocol: 'mqtt' });
    }
    await hook.received(1);
    const metric = async (name: string) =>
      (await registry.getSingleMetric(name)!.get()).values.map((v) => [v.labels, v.value]);
    assert.deepEqual(await metric('tandem_webhook_dropped_total'), [
      [{ webhook: id, reason: 'overflow' }, 3],
    ]);
    assert.deepEqual(await metric('tandem_webhook_queued'), [[{ webhook: id }, 2]]);
    assert.equal(lines.filter((l) => /webhook queue full/.test(l.msg as string)).length, 1);
    hook.release(200);
    await hook.received(2);
    await devices.create({ id: 'd6', protocol: 'mqtt' });
    await hook.received(3);
    assert.deepEqual(
      hook.requests.map((r) => r.json.device),
      ['d1', 'd2', 'd6'],
    );
    assert.ok(lines.some((l) => l.dropped === 3 && /room again/.test(l.msg as string)));
    await seen.nth('delivered', 2);
    assert.deepEqual(await metric('tandem_webhook_events_total'), [
      [{ webhook: id, outcome: 'delivered' }, 3],
    ]);
  });

  test('close cuts the request in flight and counts what is left undelivered', async (t) => {
    const hook = await receiver(t, () => 'hang');
    const { webhooks, device, nth } = await setup(t);
    await webhooks.create({ url: hook.url });
    for (const id of ['d1', 'd2', 'd3']) await device(id);
    await hook.received(1);
    await webhooks.close();
    assert.deepEqual((await nth('dropped', 0)).args.slice(1), ['shutdown', 3]);
    await device('d4');
    assert.equal(hook.requests.length, 1, 'nothing after close');
  });

  test('a webhook takes only the event types, devices and paths it names', async (t) => {
    const hook = await receiver(t);
    const { webhooks, devices, device, nth } = await setup(t);
    await webhooks.create({ url: hook.url, events: ['online', 'deleted'], devices: ['a'] });
    await device('a');
    await device('b');
    devices.attach('b', { protocol: 'mqtt', close: () => undefined });
    devices.attach('a', { protocol: 'mqtt', close: () => undefined });
    await devices.delete('a');
    await nth('delivered', 1);
    assert.deepEqual(
      hook.requests.map((r) => [r.json.type, r.json.device]),
      [
        ['online', 'a'],
        ['deleted', 'a'],
      ],
    );
  });

  test('deleting a webhook stops its deliveries; start() resumes the stored ones', async (t) => {
    const hook = await receiver(t);
    const { store, events, webhooks, device, clock } = await setup(t);
    const kept = await webhooks.create({ url: hook.url, events: ['registered'] });
    const gone = await webhooks.create({ url: `${hook.url}&gone`, events: ['registered'] });
    await webhooks.delete(gone.id);
    await assert.rejects(webhooks.delete(gone.id), { code: 'TANDEM_ERR_WEBHOOK_NOT_FOUND' });
    assert.deepEqual(
      (await webhooks.list()).map((w) => w.id),
      [kept.id],
    );
    await webhooks.close();
    // A new instance on the same store, as after a restart.
    const again = new Webhooks({
      store: store.webhooks,
      events,
      clock,
      logger: silentLogger(),
      userAgent: 'Tandem/test',
    });
    await again.start();
    t.after(() => again.close());
    await device('d1');
    await hook.received(1);
    assert.equal(hook.requests.length, 1, 'only the kept webhook');
    assert.equal(hook.requests[0]!.headers['x-tandem-webhook'], kept.id);
  });

  test('checks its input: URL, event types, device and path filters, secret', async (t) => {
    const { webhooks } = await setup(t);
    const field = async (input: Parameters<Webhooks['create']>[0]) => {
      try {
        await webhooks.create(input);
      } catch (e) {
        assert.ok(e instanceof HubError, String(e));
        return e.field;
      }
      assert.fail('accepted');
    };
    assert.equal(await field({ url: 'ftp://example.com/' }), 'url');
    assert.equal(await field({ url: 'not a url' }), 'url');
    assert.equal(await field({ url: 'http://user:pw@example.com/' }), 'url');
    assert.equal(await field({ url: 'http://example.com/', events: ['exploded'] }), 'events');
    assert.equal(await field({ url: 'http://example.com/', paths: ['3303'] }), 'paths');
    assert.equal(await field({ url: 'http://example.com/', paths: ['/3303/x'] }), 'paths');
    assert.equal(await field({ url: 'http://example.com/', secret: 'hunter2' }), 'secret');
    assert.equal(
      await field({
        url: 'http://example.com/',
        secret: `whsec_${Buffer.alloc(8).toString('base64')}`,
      }),
      'secret',
      'Standard Webhooks: at least 24 bytes',
    );
    assert.equal((await webhooks.list()).length, 0);
  });

  test('secret: true makes a whsec_ secret, shown once', async (t) => {
    const { webhooks } = await setup(t);
    const created = await webhooks.create({ url: 'https://example.com/hook', secret: true });
    assert.match(created.secret ?? '', /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(created.secret!.slice(6), 'base64').length, 32);
    const listed = await webhooks.get(created.id);
    assert.equal(listed.signed, true);
    assert.equal('secret' in listed, false);
  });
});
