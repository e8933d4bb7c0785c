import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { describe, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { Code } from '../../../src/coap/code.js';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import type { OutgoingResponse } from '../../../src/coap/request.js';
import { UdpTransport } from '../../../src/coap/udp-transport.js';
import {
  type BootstrapRead,
  Lwm2mBootstrapServer,
  MemoryBootstrapConfigStore,
} from '../../../src/lwm2m/bootstrap/index.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import type { Lwm2mObject, Lwm2mSingleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { OSCORE_ACCOUNT, PSK_ACCOUNT } from './config-store-contract.js';
import { type Script, scriptedClient, writtenResources } from './scripted-client.js';

const run = promisify(execFile);

/**
 * TLV (LwM2M 1.0 §6.4.3) of a Server object /1 with instance 0: Short Server ID 101, lifetime
 * 86400 (before) or 300 (after the write), binding U.
 */
const SERVER_TLV_BEFORE = Buffer.from('08000cc10065c40100015180c10755', 'hex');
const SERVER_TLV_AFTER = Buffer.from('08000ac10065c201012cc10755', 'hex');
/** An Access Control instance /2/0 for /1/0 owned by server 101 (LwM2M 1.0 Appendix E.3). */
const ACL_TLV = Buffer.from('080009c10001c10100c10365', 'hex');

async function bootstrapServer(t: TestContext, configs = new MemoryBootstrapConfigStore()) {
  const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const endpoint = new CoapEndpoint(transport);
  const server = new Lwm2mBootstrapServer({ endpoint, configs, timeoutMs: 3000 });
  endpoint.setHandler(server.handleRequest);
  t.after(() => endpoint.close());
  return { server, configs, port: transport.address()!.port };
}

/** A device that answers Bootstrap-Discover with `links` and every other GET with `other`. */
function answersDiscover(links: string, other: OutgoingResponse): Script {
  return (r) => {
    if (r.method !== Code.Get) return undefined;
    if (r.path.length > 0) return other;
    return { code: Code.Content, contentFormat: ContentFormat.LINK, payload: links };
  };
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
        `${Code.Get} /`,
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
      ['/', '/0/0', '/1/0', '/bs'],
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

  test('a 1.1 client: Bootstrap-Read of /1 and /2 before, the account replaced in place, /1 read again to verify (TS-Core 1.1 §5.2.7.4)', async (t) => {
    const bs = await bootstrapServer(t);
    await bs.configs.put('dev-11', { ...PSK_ACCOUNT, deleteFirst: false });
    let serverReads = 0;
    const device = await client(t, (r) => {
      if (r.method !== Code.Get) return undefined;
      const path = r.path.join('/');
      if (path === '') {
        return {
          code: Code.Content,
          contentFormat: ContentFormat.LINK,
          payload: '</>;lwm2m="1.1",</0/0>,</0/1>;ssid=101,</1/0>;ssid=101,</2/0>,</3/0>,</21>',
        };
      }
      if (path === '2')
        return { code: Code.Content, contentFormat: ContentFormat.TLV, payload: ACL_TLV };
      if (path !== '1') return { code: Code.MethodNotAllowed };
      serverReads++;
      return {
        code: Code.Content,
        contentFormat: ContentFormat.TLV,
        payload: serverReads === 1 ? SERVER_TLV_BEFORE : SERVER_TLV_AFTER,
      };
    });
    const reads: string[] = [];
    bs.server.on('read', (e) => reads.push(`${e.read.phase} ${e.read.path} ${e.read.code}`));
    const finished = once(bs.server, 'finished');
    await device.bootstrapRequest(bs.port, ['ep=dev-11']);
    const [outcome] = await finished;
    assert.deepEqual(
      device.received.map((r) => `${r.method} ${r.path}`),
      [
        `${Code.Get} /`,
        `${Code.Get} /1`,
        `${Code.Get} /2`,
        `${Code.Put} /0/1`,
        `${Code.Put} /1/0`,
        `${Code.Get} /1`,
        `${Code.Post} /bs`,
      ],
      'the account with Short Server ID 101 is written over its own instances /0/1 and /1/0',
    );
    assert.equal(outcome.lwm2mVersion, '1.1');
    assert.deepEqual(outcome.accounts, [
      { shortServerId: 101, securityInstance: 1, serverInstance: 0 },
    ]);
    assert.deepEqual(reads, [
      `before /1 ${Code.Content}`,
      `before /2 ${Code.Content}`,
      `after /1 ${Code.Content}`,
    ]);
    const before = outcome.reads[0]!.content!;
    assert.equal(before.kind, 'object');
    const lifetimeBefore = (
      (before as Lwm2mObject).instances.get(0)!.resources.get(1) as Lwm2mSingleResource
    ).value.value;
    assert.equal(lifetimeBefore, 86400, 'what the device had, decoded from its TLV');
    assert.equal(writtenResources(device.received[4]!).get(1), 300);
  });

  test('a 1.1 client whose Server object does not show the written account fails the verification, without Bootstrap-Finish', async (t) => {
    const bs = await bootstrapServer(t);
    await bs.configs.put('dev-11', { ...PSK_ACCOUNT, deleteFirst: false });
    // The device ignores the write: it still has the lifetime of before.
    const device = await client(
      t,
      answersDiscover('</>;lwm2m="1.1",</0/0>,</0/1>;ssid=101,</1/0>;ssid=101', {
        code: Code.Content,
        contentFormat: ContentFormat.TLV,
        payload: SERVER_TLV_BEFORE,
      }),
    );
    const failed = once(bs.server, 'failed');
    await device.bootstrapRequest(bs.port, ['ep=dev-11']);
    const [failure] = await failed;
    assert.deepEqual(failure.step, { operation: 'read', path: '/1' });
    assert.match(failure.reason, /verification: \/1\/0 has lifetime 86400, not 300/);
    assert.equal(failure.reads?.length, 2);
    assert.notEqual(device.received.at(-1)!.path, '/bs');
  });

  test('OSCORE: object 21 written byte for byte before the Security instance that links it with resource 17 (TS-Core 1.1 Appendix E.9, RFC 8613 §3.2)', async (t) => {
    const bs = await bootstrapServer(t);
    await bs.configs.put('oscore-dev', OSCORE_ACCOUNT);
    const device = await client(
      t,
      answersDiscover('</>;lwm2m="1.1",</0/0>,</1>,</3/0>,</21>', {
        code: Code.Content,
        contentFormat: ContentFormat.TLV,
        payload: Buffer.alloc(0),
      }),
    );
    const failed = once(bs.server, 'failed');
    await device.bootstrapRequest(bs.port, ['ep=oscore-dev']);
    // The hand-scripted device reads back an empty /1: the verification fails after the writes.
    await failed;
    const writes = device.received.filter((r) => r.method === Code.Put);
    assert.deepEqual(
      writes.map((w) => w.path),
      ['/21/0', '/0/1', '/1/1'],
    );
    assert.equal(
      writes[0]!.payload.toString('hex'),
      [
        'c80010',
        '0102030405060708090a0b0c0d0e0f10', // 0 Master Secret, 16 bytes
        'c001', // 1 Sender ID, empty (RFC 8613 Appendix C.1.1, the client)
        'c10201', // 2 Recipient ID 0x01
        'c1030a', // 3 AEAD 10, AES-CCM-16-64-128
        'c104f6', // 4 HKDF -10, SHA-256
        'c80508',
        '9e7ca92223786340', // 5 Master Salt, 8 bytes
      ].join(''),
    );
    // Resource 17 of the Security instance: Objlnk 21:0, two 16-bit ids (TS-Core 1.1 Appendix C).
    assert.ok(writes[1]!.payload.toString('hex').endsWith('c41100150000'));
    assert.equal(writtenResources(writes[1]!).get(2), 3, 'Security Mode NoSec: OSCORE only');
  });

  test('OSCORE in SenML JSON: binary resources as base64url vd, the link as vlo (RFC 8428 §4.3, TS-Core 1.1 §7.4.4)', async (t) => {
    const bs = await bootstrapServer(t);
    await bs.configs.put('oscore-dev', OSCORE_ACCOUNT);
    const device = await client(
      t,
      answersDiscover('</>;lwm2m="1.1",</0/0>,</21>', { code: Code.NotFound }),
    );
    const finished = once(bs.server, 'finished');
    await device.bootstrapRequest(bs.port, ['ep=oscore-dev', `pct=${ContentFormat.SENML_JSON}`]);
    const [outcome] = await finished;
    assert.deepEqual(outcome.accounts, [
      { shortServerId: 5, securityInstance: 1, serverInstance: 1, oscoreInstance: 0 },
    ]);
    assert.deepEqual(
      outcome.reads.map((r: BootstrapRead) => `${r.path} ${r.code}`),
      [`/1 ${Code.NotFound}`],
      'a device without Server instances answers 4.04; nothing is verified then',
    );
    const writes = device.received.filter((r) => r.method === Code.Put);
    assert.deepEqual(JSON.parse(writes[0]!.payload.toString()), [
      { bn: '/21/0/', n: '0', vd: 'AQIDBAUGBwgJCgsMDQ4PEA' },
      { n: '1', vd: '' },
      { n: '2', vd: 'AQ' },
      { n: '3', v: 10 },
      { n: '4', v: -10 },
      { n: '5', vd: 'nnypIiN4Y0A' },
    ]);
    const security = JSON.parse(writes[1]!.payload.toString()) as { n: string; vlo?: string }[];
    assert.deepEqual(security.at(-1), { n: '17', vlo: '21:0' });
  });

  test('OSCORE needs LwM2M 1.1: a 1.0 client, or one without object 21, gets nothing written', async (t) => {
    const bs = await bootstrapServer(t);
    await bs.configs.put('oscore-*', OSCORE_ACCOUNT);
    for (const [ep, discover, reason] of [
      ['oscore-10', '</0/0>,</1>,</3/0>', /OSCORE needs LwM2M 1.1; the client announced 1.0/],
      ['oscore-11', '</>;lwm2m="1.1",</0/0>,</3/0>', /no OSCORE object/],
    ] as const) {
      const device = await client(t, (r) =>
        r.method === Code.Get
          ? { code: Code.Content, contentFormat: ContentFormat.LINK, payload: discover }
          : undefined,
      );
      const failed = once(bs.server, 'failed');
      await device.bootstrapRequest(bs.port, [`ep=${ep}`]);
      const [failure] = await failed;
      assert.match(failure.reason, reason);
      assert.deepEqual(
        device.received.map((r) => r.path),
        ['/'],
      );
    }
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
