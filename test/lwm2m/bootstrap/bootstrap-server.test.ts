import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { describe, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { Code } from '../../../src/coap/code.js';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { UdpTransport } from '../../../src/coap/udp-transport.js';
import {
  Lwm2mBootstrapServer,
  MemoryBootstrapConfigStore,
} from '../../../src/lwm2m/bootstrap/index.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import { PSK_ACCOUNT } from './config-store-contract.js';
import { type Script, scriptedClient, writtenResources } from './scripted-client.js';

const run = promisify(execFile);

async function bootstrapServer(t: TestContext, configs = new MemoryBootstrapConfigStore()) {
  const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const endpoint = new CoapEndpoint(transport);
  const server = new Lwm2mBootstrapServer({ endpoint, configs, timeoutMs: 3000 });
  endpoint.setHandler(server.handleRequest);
  t.after(() => endpoint.close());
  return { server, configs, port: transport.address()!.port };
}

async function client(t: TestContext, script?: Script) {
  const c = await scriptedClient(script);
  t.after(() => c.close());
  return c;
}

describe('LwM2M Bootstrap-Server', () => {
  test('client-initiated bootstrap: discover, delete, write Security and Server, finish (LightweightM2M-1.1-int-1)', async (t) => {
    const bs = await bootstrapServer(t);
    await bs.configs.put('dev-1', PSK_ACCOUNT);
    const device = await client(t);
    const finished = once(bs.server, 'finished');
    const answer = await device.bootstrapRequest(bs.port, ['ep=dev-1']);
    assert.equal(
      answer.code,
      Code.Changed,
      'Bootstrap-Request answers 2.04 (TS-Transport 1.1 §6.1)',
    );
    const [event] = await finished;
    assert.deepEqual(
      device.received.map((r) => `${r.method} ${r.path}`),
      [
        `${Code.Get} /0`,
        `${Code.Delete} /`,
        `${Code.Put} /0/1`,
        `${Code.Put} /1/1`,
        `${Code.Post} /bs`,
      ],
      'instance 0 holds the Bootstrap-Server account, so the new account takes 1',
    );
    assert.equal(event.endpoint, 'dev-1');
    assert.equal(device.received[0]!.payload.length, 0);

    const security = writtenResources(device.received[2]!);
    assert.equal(device.received[2]!.contentFormat, ContentFormat.TLV, 'TLV by default');
    assert.equal(security.get(0), 'coaps://127.0.0.1:5684');
    assert.equal(security.get(1), false, 'not a Bootstrap-Server account');
    assert.equal(security.get(2), 0, 'Security Mode 0: PSK');
    assert.deepEqual(security.get(3), Buffer.from('dev-1'));
    assert.deepEqual(security.get(5), PSK_ACCOUNT.servers[0]!.secretKey);
    assert.equal(security.get(10), 101);

    const server = writtenResources(device.received[3]!);
    assert.equal(server.get(0), 101);
    assert.equal(server.get(1), 300);
    assert.equal(server.get(7), 'U');
  });

  test('the preferred content format (pct) is used for Bootstrap-Write (TS-Core 1.1 §6.1)', async (t) => {
    const bs = await bootstrapServer(t);
    await bs.configs.put('dev-*', PSK_ACCOUNT);
    const device = await client(t);
    const finished = once(bs.server, 'finished');
    await device.bootstrapRequest(bs.port, ['ep=dev-cbor', `pct=${ContentFormat.SENML_CBOR}`]);
    await finished;
    const writes = device.received.filter((r) => r.method === Code.Put);
    assert.deepEqual(
      writes.map((w) => w.contentFormat),
      [ContentFormat.SENML_CBOR, ContentFormat.SENML_CBOR],
    );
    assert.equal(writtenResources(writes[0]!).get(0), 'coaps://127.0.0.1:5684');
  });

  test('a 1.0 client that refuses Bootstrap-Discover is still bootstrapped (LwM2M 1.0 §5.2.7)', async (t) => {
    const bs = await bootstrapServer(t);
    await bs.configs.put('old', { ...PSK_ACCOUNT, deleteFirst: false });
    const device = await client(t, (r) =>
      r.method === Code.Get ? { code: Code.MethodNotAllowed } : undefined,
    );
    const finished = once(bs.server, 'finished');
    await device.bootstrapRequest(bs.port, ['ep=old']);
    await finished;
    assert.deepEqual(
      device.received.map((r) => r.path),
      ['/0', '/0/0', '/1/0', '/bs'],
      'no Delete when deleteFirst is false; instance 0 is free',
    );
  });

  test('a refused Bootstrap-Write ends the sequence without Bootstrap-Finish', async (t) => {
    const bs = await bootstrapServer(t);
    await bs.configs.put('dev-1', PSK_ACCOUNT);
    const device = await client(t, (r) =>
      r.method === Code.Put && r.path[0] === '1' ? { code: Code.BadRequest } : undefined,
    );
    const failed = once(bs.server, 'failed');
    await device.bootstrapRequest(bs.port, ['ep=dev-1']);
    const [event] = await failed;
    assert.equal(event.code, Code.BadRequest);
    assert.deepEqual(event.step, { operation: 'write', path: '/1/1' });
    assert.equal(device.received.at(-1)!.path, '/1/1', 'nothing after the failed step');
  });

  test('Bootstrap-Finish answered 4.06 (inconsistent configuration) is a failure (TS-Core 1.1 §6.1.7)', async (t) => {
    const bs = await bootstrapServer(t);
    await bs.configs.put('dev-1', PSK_ACCOUNT);
    const device = await client(t, (r) =>
      r.method === Code.Post ? { code: Code.NotAcceptable } : undefined,
    );
    const failed = once(bs.server, 'failed');
    await device.bootstrapRequest(bs.port, ['ep=dev-1']);
    const [event] = await failed;
    assert.deepEqual(event.step, { operation: 'finish', path: '/bs' });
    assert.equal(event.code, Code.NotAcceptable);
  });

  test('a Bootstrap-Request without ep, or without a configuration, is a 4.00', async (t) => {
    const bs = await bootstrapServer(t);
    const device = await client(t);
    const noEp = await device.bootstrapRequest(bs.port, []);
    assert.equal(noEp.code, Code.BadRequest);
    const unknown = await device.bootstrapRequest(bs.port, ['ep=nobody']);
    assert.equal(unknown.code, Code.BadRequest);
    assert.match(unknown.payload.toString(), /no bootstrap configuration for nobody/);
    assert.equal(device.received.length, 0, 'the server sent the client nothing');
  });

  test('libcoap sends a Bootstrap-Request and gets 2.04 (coap-client-openssl)', async (t) => {
    const bs = await bootstrapServer(t);
    await bs.configs.put('libcoap', PSK_ACCOUNT);
    const failed = once(bs.server, 'failed');
    const { stdout, stderr } = await run('coap-client-openssl', [
      '-v',
      '7',
      '-B',
      '3',
      '-m',
      'post',
      `coap://127.0.0.1:${bs.port}/bs?ep=libcoap`,
    ]);
    assert.match(stdout + stderr, /2\.04/);
    // coap-client is gone before the server's Bootstrap-Discover: the sequence fails cleanly.
    const [event] = await failed;
    assert.equal(event.endpoint, 'libcoap');
  });
});
