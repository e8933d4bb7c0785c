/**
 * How fast device events leave Tandem over HTTP: WebSocket streams (`/api/stream`) and
 * webhooks, on loopback, one process. Events are emitted as the device registry emits them
 * (`online`, about 120 bytes of JSON), in bursts of 100 with the event loop free in between,
 * and timed until every consumer has them all.
 *
 *   node --import tsx bench/events/run.ts [--events N] [--runs N] [--out FILE]
 *
 * Not part of `npm test`.
 */

import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { buildApi } from '../../src/api/app.js';
import { issueToken } from '../../src/hub/api-tokens.js';
import { DeviceEventFeed } from '../../src/hub/device-events.js';
import { DeviceRegistry } from '../../src/hub/device-registry.js';
import { Webhooks } from '../../src/hub/webhooks.js';
import { silentLogger } from '../../src/log.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { systemClock } from '../../src/util/clock.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    runs: { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});
const EVENTS = Number(args.events);
const RUNS = Number(args.runs);

async function setup() {
  const store = new SqliteStore({ dataDir: ':memory:' });
  const devices = new DeviceRegistry({ store: store.devices });
  const events = new DeviceEventFeed({ devices, clock: systemClock });
  let delivered = 0;
  const webhooks = new Webhooks({
    store: store.webhooks,
    events,
    clock: systemClock,
    logger: silentLogger(),
    userAgent: 'Tandem/bench',
    policy: { queueLimit: EVENTS },
    observer: { delivered: () => delivered++ },
  });
  const app = await buildApi({
    version: 'bench',
    logger: silentLogger(),
    health: () => ({
      status: 'ok',
      version: 'bench',
      uptimeSeconds: 0,
      listeners: {},
      storage: { status: 'ok', backend: 'sqlite' },
    }),
    metrics: new Registry(),
    devices,
    tokens: store.tokens,
    events,
    webhooks,
    stream: { maxBufferedBytes: 64 * 1024 * 1024 },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const token = (await issueToken(store.tokens, 'read-only')).token;
  const port = (app.server.address() as AddressInfo).port;
  return {
    devices,
    webhooks,
    delivered: () => delivered,
    url: `ws://127.0.0.1:${port}/api/stream?type=online`,
    token,
    close: async () => {
      await webhooks.close();
      await app.close();
      events.close();
      await store.close();
    },
  };
}

/** Emits EVENTS `online` events in bursts of 100, yielding to I/O between bursts. */
async function emit(devices: DeviceRegistry): Promise<void> {
  for (let i = 0; i < EVENTS; i += 100) {
    for (let j = i; j < Math.min(EVENTS, i + 100); j++) {
      devices.events.emit('online', { id: `d${j % 1000}`, protocol: 'mqtt' });
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function streamRun(clients: number): Promise<number> {
  const s = await setup();
  const sockets = await Promise.all(
    Array.from({ length: clients }, () => {
      const ws = new WebSocket(s.url, { headers: { authorization: `Bearer ${s.token}` } });
      return new Promise<WebSocket>((resolve) => ws.once('open', () => resolve(ws)));
    }),
  );
  const done = sockets.map(
    (ws) =>
      new Promise<void>((resolve) => {
        let n = 0;
        ws.on('message', () => {
          if (++n === EVENTS) resolve();
        });
      }),
  );
  const start = process.hrtime.bigint();
  await emit(s.devices);
  await Promise.all(done);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  for (const ws of sockets) ws.terminate();
  await s.close();
  return (EVENTS * clients) / seconds;
}

async function webhookRun(hooks: number): Promise<number> {
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const target = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
  const s = await setup();
  for (let i = 0; i < hooks; i++) await s.webhooks.create({ url: `${target}${i}`, secret: true });
  const start = process.hrtime.bigint();
  await emit(s.devices);
  while (s.delivered() < EVENTS * hooks) await new Promise((resolve) => setTimeout(resolve, 5));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await s.close();
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
  return (EVENTS * hooks) / seconds;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: [string, number][] = [];
for (const [name, run] of [
  ['WebSocket, 1 client', () => streamRun(1)],
  ['WebSocket, 10 clients', () => streamRun(10)],
  ['webhooks, 1 (signed)', () => webhookRun(1)],
  ['webhooks, 10 (signed)', () => webhookRun(10)],
] as const) {
  const results: number[] = [];
  for (let r = 0; r < RUNS; r++) results.push(await run());
  rows.push([name, median(results)]);
  console.log(`${name}: ${results.map((x) => Math.round(x)).join(', ')} events/s`);
}
const table = [
  `Device events leaving over HTTP: ${EVENTS} events per consumer, median of ${RUNS} runs, loopback, one process.`,
  '',
  '| consumers | events delivered per second (all consumers) |',
  '| --- | ---: |',
  ...rows.map(([name, rate]) => `| ${name} | ${Math.round(rate).toLocaleString('en')} |`),
  '',
].join('\n');
console.log(`\n${table}`);
if (args.out) writeFileSync(args.out, table);
