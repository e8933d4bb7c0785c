/**
 * Interoperability with libcoap (Debian's libcoap3-bin): its coap-client against our endpoint as
 * server, and our endpoint as client against its coap-server. coap-client exits 0 even when a
 * request fails, so every check reads its output.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import { ContentFormat } from '../../src/coap/content-format.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { parseLinkFormat } from '../../src/coap/link-format.js';
import type { CoapResponse } from '../../src/coap/request.js';
import { UdpTransport } from '../../src/coap/udp-transport.js';

const CLIENT = '/usr/bin/coap-client-openssl';
const SERVER = '/usr/bin/coap-server-openssl';

function coapClient(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(CLIENT, ['-B', '10', ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${CLIENT} ${args.join(' ')}: ${err.message}\n${stderr}`));
      // coap-client ends its output with a newline of its own.
      else resolve({ stdout: stdout.replace(/\n$/, ''), stderr });
    });
  });
}

const text = (n: number) =>
  Array.from({ length: n }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');

describe('libcoap coap-client against our endpoint', () => {
  let endpoint: CoapEndpoint;
  let base: string;
  const store = new Map<string, Buffer>();
  const large = text(3000);
  const timers = new Set<NodeJS.Timeout>();
  let cancellations = 0;

  before(async () => {
    const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
    endpoint = new CoapEndpoint(transport, {
      handler: (req, peer) => {
        const path = req.path.join('/');
        if (path === 'hello')
          return { code: Code.Content, payload: 'world', contentFormat: ContentFormat.TextPlain };
        if (path === 'store') {
          if (req.method === Code.Put) {
            store.set('store', req.payload);
            return { code: Code.Changed };
          }
          return { code: Code.Content, payload: store.get('store') ?? Buffer.alloc(0) };
        }
        if (path === 'large') return { code: Code.Content, payload: large };
        if (path === 'obs') {
          if (req.observe === 0) {
            const observer = endpoint.acceptObserve(req, peer);
            observer.onCancel = () => cancellations++;
            let n = 0;
            const tick = () => {
              n++;
              observer.notify({ code: Code.Content, payload: `n${n}` }, { confirmable: n === 2 });
              if (n < 3) {
                const t = setTimeout(tick, 200);
                timers.add(t);
              }
            };
            const t = setTimeout(tick, 200);
            timers.add(t);
          }
          return { code: Code.Content, payload: 'n0' };
        }
        return { code: Code.NotFound };
      },
    });
    base = `coap://127.0.0.1:${transport.address()!.port}`;
  });

  after(async () => {
    for (const t of timers) clearTimeout(t);
    await endpoint.close();
  });

  test('answers a GET from coap-client (RFC 7252 §5.8.1)', async () => {
    const { stdout } = await coapClient([`${base}/hello`]);
    assert.equal(stdout, 'world');
  });

  test('answers 4.04 for an unknown path, which coap-client reports (RFC 7252 §5.9.2.5)', async () => {
    const { stdout, stderr } = await coapClient([`${base}/nothing`]);
    assert.equal(stdout, '');
    assert.match(stderr, /4\.04/);
  });

  test('reassembles a PUT sent with -b 64 block-wise, 1000 bytes (RFC 7959 §2.5)', async () => {
    const before = endpoint.stats.blockwiseTransfers;
    const requestsBefore = endpoint.stats.requestsIn;
    const payload = text(1000);
    const { stderr } = await coapClient(['-m', 'put', '-b', '64', '-e', payload, `${base}/store`]);
    assert.doesNotMatch(stderr, /[45]\.\d\d/);
    assert.equal(store.get('store')?.toString(), payload);
    assert.equal(endpoint.stats.blockwiseTransfers, before + 1);
    // 1000 bytes in 64-byte blocks take 16 requests.
    assert.equal(endpoint.stats.requestsIn - requestsBefore, 16);
    const { stdout } = await coapClient([`${base}/store`]);
    assert.ok(stdout === payload, `got ${stdout.length} bytes`);
  });

  test('serves a large resource with Block2 to coap-client (RFC 7959 §2.4)', async () => {
    const { stdout } = await coapClient([`${base}/large`]);
    assert.ok(stdout === large, `got ${stdout.length} bytes`);
  });

  test('follows the block size that coap-client asks for with -b 64 (RFC 7959 §2.4)', async () => {
    const before = endpoint.stats.requestsIn;
    const { stdout } = await coapClient(['-b', '64', `${base}/large`]);
    assert.ok(stdout === large, `got ${stdout.length} bytes`);
    // 3000 bytes in 64-byte blocks take 47 requests.
    assert.equal(endpoint.stats.requestsIn - before, 47);
  });

  test('sends notifications to coap-client -s 5 (RFC 7641 §4.2)', async () => {
    const { stdout } = await coapClient(['-s', '5', '-w', `${base}/obs`]);
    assert.deepEqual(stdout.trim().split('\n'), ['n0', 'n1', 'n2', 'n3']);
    // At the end of -s, coap-client deregisters with Observe=1 (RFC 7641 §3.6).
    assert.equal(endpoint.observerCount, 0);
    assert.equal(cancellations, 1);
  });

  test('answers a NON request from coap-client -N with a NON response (RFC 7252 §5.2.3)', async () => {
    const before = endpoint.stats.requestsIn;
    const { stdout } = await coapClient(['-N', `${base}/hello`]);
    assert.equal(stdout, 'world');
    assert.equal(endpoint.stats.requestsIn, before + 1);
  });
});

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A coap-server on a free port and our endpoint to talk to it; `stop()` ends both. */
async function startLibcoapServer(extraArgs: string[] = []) {
  const port = await freeUdpPort();
  const server: ChildProcess = spawn(
    SERVER,
    ['-A', '127.0.0.1', '-p', String(port), ...extraArgs],
    {
      stdio: 'ignore',
    },
  );
  const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const endpoint = new CoapEndpoint(transport);
  const stop = async () => {
    await endpoint.close();
    if (server.exitCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
  };
  // Wait until the server answers a ping (RFC 7252 §4.3); bounded number of tries.
  for (let i = 0; i < 50; i++) {
    if (await endpoint.ping(transport.peer('127.0.0.1', port), 200)) {
      return { endpoint, transport, port, stop };
    }
  }
  await stop();
  throw new Error('coap-server did not come up');
}

/** Resolves once `check()` holds (no deadline of its own: the runner's test timeout applies). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 50));
}

describe('our endpoint as client against libcoap coap-server', () => {
  let endpoint: CoapEndpoint;
  let transport: UdpTransport;
  let port: number;
  let stop: () => Promise<void>;

  before(async () => {
    ({ endpoint, transport, port, stop } = await startLibcoapServer());
  });

  after(async () => {
    await stop();
  });

  test('GETs / from coap-server (RFC 7252 §5.8.1)', async () => {
    const res = await endpoint.request(transport.peer('127.0.0.1', port), {
      code: Code.Get,
      path: '/',
    });
    assert.equal(res.code, Code.Content);
    assert.match(res.payload.toString(), /This is a test server made with libcoap/);
  });

  test('reads /.well-known/core and parses its link format (RFC 6690 §4)', async () => {
    const res = await endpoint.request(transport.peer('127.0.0.1', port), {
      code: Code.Get,
      path: '/.well-known/core',
    });
    assert.equal(res.contentFormat, ContentFormat.LinkFormat);
    const parsed = parseLinkFormat(res.payload);
    assert.ok(parsed.ok);
    const time = parsed.links.find((l) => l.uri === '/time');
    assert.equal(time?.attributes.obs, true);
    assert.equal(time?.attributes.title, 'Internal Clock');
  });

  test('observes /time, gets ordered notifications and cancels actively (RFC 7641 §3.1, §3.6)', async () => {
    const seen: CoapResponse[] = [];
    let enough: () => void = () => {};
    const gotTwo = new Promise<void>((resolve) => {
      enough = resolve;
    });
    const obs = endpoint.observe(
      transport.peer('127.0.0.1', port),
      { code: Code.Get, path: '/time' },
      (n) => {
        seen.push(n);
        if (seen.length === 2) enough();
      },
    );
    const first = await obs.response;
    assert.equal(first.code, Code.Content);
    assert.notEqual(first.observe, undefined);
    await gotTwo;
    assert.ok(seen[1]!.observe! > seen[0]!.observe!);
    const last = await obs.cancel(true);
    assert.equal(last?.code, Code.Content);
    assert.equal(last?.observe, undefined);
    assert.equal(obs.active, false);
  });

  test('PUTs 2000 bytes block-wise and GETs them back with Block2 of 64 bytes (RFC 7959 §2.4, §2.5)', async () => {
    const peer = transport.peer('127.0.0.1', port);
    const payload = text(2000);
    const put = await endpoint.request(peer, {
      code: Code.Put,
      path: '/example_data',
      payload,
      contentFormat: ContentFormat.TextPlain,
      blockSize: 256,
    });
    assert.ok(put.code === Code.Changed || put.code === Code.Created, `got ${put.code}`);
    const before = endpoint.stats.blockwiseTransfers;
    const got = await endpoint.request(peer, {
      code: Code.Get,
      path: '/example_data',
      blockSize: 64,
      earlyBlock2: true,
    });
    assert.equal(got.code, Code.Content);
    assert.equal(got.payload.toString(), payload);
    assert.equal(endpoint.stats.blockwiseTransfers, before + 1);
  });
});

describe('our endpoint observing libcoap coap-server -N (NON notifications)', () => {
  test('takes NON notifications in order and cancels passively with RST (RFC 7641 §3.4, §3.6)', async () => {
    const { endpoint, transport, port, stop } = await startLibcoapServer(['-N']);
    try {
      const seen: number[] = [];
      const obs = endpoint.observe(
        transport.peer('127.0.0.1', port),
        { code: Code.Get, path: '/time' },
        (n) => seen.push(n.observe!),
      );
      await obs.response;
      await until(() => seen.length >= 2);
      assert.ok(seen[1]! > seen[0]!);
      await obs.cancel();
      const count = seen.length;
      const rstBefore = endpoint.stats.rstOut;
      // The next notification meets an unknown token: RST, and the server forgets us.
      await until(() => endpoint.stats.rstOut > rstBefore);
      assert.equal(seen.length, count);
    } finally {
      await stop();
    }
  });
});
