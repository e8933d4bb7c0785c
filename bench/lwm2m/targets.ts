/**
 * The servers of the CoAP/LwM2M benchmark, one per child process (forked by run.ts with an IPC
 * channel): `echo` (raw node:dgram echo, the physical limit), `coap-npm` (the npm `coap`
 * server), `tandem-coap` (Tandem's CoAP endpoint), `tandem-lwm2m` (Tandem's LwM2M server
 * alone) and `tandem` (the whole Tandem server as `tandem start` runs it: LwM2M server, device
 * registry, telemetry into its SQLite store, the MQTT bridge; data directory in argv[3],
 * storage.telemetryWorker in argv[4]).
 * Each binds 127.0.0.1:0 and sends `{ port }` to the parent, then answers its commands.
 */
import { createSocket } from 'node:dgram';
import { Code } from '../../src/coap/code.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { UdpTransport, udpPeer } from '../../src/coap/udp-transport.js';
import { configSchema } from '../../src/config/schema.js';
import { createUdpLwm2mServer } from '../../src/lwm2m/server/create.js';
import type { Lwm2mServer } from '../../src/lwm2m/server/server.js';
import { Tandem } from '../../src/server/tandem.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';

export type TargetName = 'echo' | 'coap-npm' | 'tandem-coap' | 'tandem-lwm2m' | 'tandem';

/** Parent → child. */
export type TargetCommand =
  | { cmd: 'observe'; endpoints: string[]; path: string }
  /** `stored` also counts the telemetry rows (a table scan: not while measuring). */
  | { cmd: 'counters'; stored?: boolean }
  | { cmd: 'memory'; devices: number };

/** Child → parent. */
export type TargetReply =
  | { port: number }
  | { observing: number }
  | { notifications: number; registrations: number; telemetryRows: number }
  | { memory: { devices: number; heapBytesPerDevice: number; rssBytesPerDevice: number } };

const send = (reply: TargetReply) => process.send?.(reply);
// The parent stops a profiled target with SIGTERM: exit normally so that --cpu-prof is written.
process.on('SIGTERM', () => process.exit(0));
const name = process.argv[2] as TargetName;

async function main(): Promise<void> {
  switch (name) {
    case 'echo': {
      const socket = createSocket('udp4');
      socket.on('message', (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
      socket.bind(0, '127.0.0.1', () => send({ port: socket.address().port }));
      return;
    }
    case 'coap-npm': {
      const coap = await import('coap');
      const server = coap.createServer({ type: 'udp4' }, (_req, res) => {
        res.code = '2.05';
        res.end('ok');
      });
      server.listen(0, '127.0.0.1', () => {
        const address = (server as unknown as { _sock: { address(): { port: number } } })._sock;
        send({ port: address.address().port });
      });
      return;
    }
    case 'tandem-coap': {
      const transport = await UdpTransport.bind({
        address: '127.0.0.1',
        port: 0,
        recvBufferSize: 8 << 20,
        sendBufferSize: 8 << 20,
      });
      new CoapEndpoint(transport, {
        handler: () => ({ code: Code.Content, payload: Buffer.from('ok') }),
      });
      send({ port: transport.address()!.port });
      return;
    }
    case 'tandem-lwm2m': {
      const s = await createUdpLwm2mServer({
        udp: { address: '127.0.0.1', port: 0, recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 },
      });
      return lwm2m(s.server, s.port, () => 0);
    }
    case 'tandem':
      return tandem(process.argv[3]!, process.argv[4] !== 'false');
  }
}

/** The whole server with its default settings, only the CoAP listener open. */
async function tandem(dataDir: string, telemetryWorker: boolean): Promise<void> {
  const off = { port: 'off' as const };
  const server = new Tandem({
    config: configSchema.parse({
      dataDir,
      logLevel: 'silent',
      storage: { telemetryWorker },
      listeners: {
        http: off,
        mqtt: off,
        mqtts: off,
        ws: off,
        coap: { port: 0 },
        coaps: off,
        bootstrap: off,
        bootstrapDtls: off,
      },
    }),
  });
  await server.start();
  if (!(server.store instanceof SqliteStore)) throw new Error('the default store is SQLite');
  const store = server.store;
  const count = store.db.prepare('SELECT count(*) AS n FROM telemetry');
  await lwm2m(server.lwm2m.server, server.coap.listeners.get('coap')!.port, async () => {
    await store.telemetry.flush();
    return (count.get() as { n: number }).n;
  });
}

async function lwm2m(
  server: Lwm2mServer,
  port: number,
  telemetryRows: () => number | Promise<number>,
) {
  let notifications = 0;
  let registrations = 0;
  server.on('notification', () => notifications++);
  server.on('registered', () => registrations++);
  send({ port });
  process.on('message', async (command: TargetCommand) => {
    if (command.cmd === 'counters') {
      // Counted when the flush takes the buffer: the rows it writes are those notifications'.
      const counted = { notifications, registrations };
      const rows = command.stored ? await telemetryRows() : 0;
      send({ ...counted, telemetryRows: rows });
    } else if (command.cmd === 'observe') {
      const started = await Promise.all(
        command.endpoints.map((ep) => server.observe(ep, { path: command.path })),
      );
      send({ observing: started.filter((r) => r.code === Code.Content).length });
    } else if (command.cmd === 'memory') {
      send({ memory: await registrationMemory(command.devices) });
    }
  });
}

/**
 * Memory per registered device: registers `devices` endpoints through the server's request
 * handler (no network: one fake peer each) and compares heap and RSS before and after, with
 * garbage collected (the child runs with --expose-gc).
 */
async function registrationMemory(devices: number) {
  const { server } = await createUdpLwm2mServer({ udp: { address: '127.0.0.1', port: 0 } });
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  const links = Buffer.from('</1/0>,</3/0>,</4/0>,</5/0>,</3303/0>,</3323/0>');
  for (let i = 0; i < devices; i++) {
    const peer = udpPeer(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 5683);
    const response = await server.handleRequest(
      {
        method: Code.Post,
        path: ['rd'],
        query: [`ep=mem-${i}`, 'lt=86400', 'lwm2m=1.1', 'b=U'],
        options: [],
        payload: links,
        contentFormat: 40,
        accept: undefined,
        observe: undefined,
        confirmable: true,
        token: Buffer.alloc(0),
        messageId: i & 0xffff,
      },
      peer,
    );
    if (response.code !== Code.Created) throw new Error(`registration ${i} got ${response.code}`);
  }
  gc?.();
  const heap = process.memoryUsage().heapUsed - heap0;
  const rss = process.memoryUsage().rss - rss0;
  return {
    devices,
    heapBytesPerDevice: Math.round(heap / devices),
    rssBytesPerDevice: Math.round(rss / devices),
  };
}

void main();
