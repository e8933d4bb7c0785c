/**
 * The servers of the CoAP/LwM2M benchmark, one per child process (forked by run.ts with an IPC
 * channel): `echo` (raw node:dgram echo, the physical limit), `coap-npm` (the npm `coap`
 * server), `tandem-coap` (Tandem's CoAP endpoint) and `tandem-lwm2m` (Tandem's LwM2M server).
 * Each binds 127.0.0.1:0 and sends `{ port }` to the parent, then answers its commands.
 */
import { createSocket } from 'node:dgram';
import { Code } from '../../src/coap/code.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { UdpTransport, udpPeer } from '../../src/coap/udp-transport.js';
import { createUdpLwm2mServer } from '../../src/lwm2m/server/create.js';

export type TargetName = 'echo' | 'coap-npm' | 'tandem-coap' | 'tandem-lwm2m';

/** Parent → child. */
export type TargetCommand =
  | { cmd: 'observe'; endpoints: string[]; path: string }
  | { cmd: 'counters' }
  | { cmd: 'memory'; devices: number };

/** Child → parent. */
export type TargetReply =
  | { port: number }
  | { observing: number }
  | { notifications: number; registrations: number }
  | { memory: { devices: number; heapBytesPerDevice: number; rssBytesPerDevice: number } };

const send = (reply: TargetReply) => process.send?.(reply);
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
    case 'tandem-lwm2m':
      return lwm2m();
  }
}

async function lwm2m(): Promise<void> {
  const s = await createUdpLwm2mServer({
    udp: { address: '127.0.0.1', port: 0, recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 },
  });
  let notifications = 0;
  let registrations = 0;
  s.server.on('notification', () => notifications++);
  s.server.on('registered', () => registrations++);
  send({ port: s.port });
  process.on('message', async (command: TargetCommand) => {
    if (command.cmd === 'counters') send({ notifications, registrations });
    else if (command.cmd === 'observe') {
      const started = await Promise.all(
        command.endpoints.map((ep) => s.server.observe(ep, { path: command.path })),
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
