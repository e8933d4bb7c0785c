import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { udpPeer } from '../../src/coap/udp-transport.js';
import { DtlsClientTransport } from '../../src/dtls/client-transport.js';
import {
  DeviceObject,
  Lwm2mClient,
  SecurityObject,
  ServerObject,
} from '../../src/lwm2m/client/index.js';
import { startTandem } from '../helpers/tandem.js';
import { scriptedClient, writtenResources } from '../lwm2m/bootstrap/scripted-client.js';

const FACTORY_KEY = Buffer.from('f0e1d2c3b4a5968778695a4b3c2d1e0f', 'hex');

describe('bootstrap through Tandem', () => {
  test('a bootstrapped device registers over DTLS with the credentials the Bootstrap-Server wrote (LightweightM2M-1.1-int-1)', async (t) => {
    const tandem = await startTandem(t, { host: '0.0.0.0' });
    // Factory provisioning: the device's PSK is in the registry; the Bootstrap-Server tells it
    // where the LwM2M server is and which credentials to use there.
    await tandem.store.devices.create({
      id: 'boot-1',
      protocol: 'lwm2m',
      credentials: { psk: { identity: 'boot-1', key: FACTORY_KEY } },
    });
    tandem.psk.set('boot-1', 'boot-1', FACTORY_KEY);
    const coapsPort = tandem.address('coaps')!.port;
    await tandem.bootstrap.configs.put('boot-*', {
      servers: [
        {
          shortServerId: 1,
          uri: `coaps://127.0.0.1:${coapsPort}`,
          securityMode: 'psk',
          publicKeyOrIdentity: Buffer.from('boot-1'),
          secretKey: FACTORY_KEY,
          lifetime: 120,
        },
      ],
    });

    const bsTransport = new DtlsClientTransport({
      host: '127.0.0.1',
      port: tandem.address('bootstrapDtls')!.port,
      psk: { identity: 'boot-1', key: FACTORY_KEY },
    });
    const device = await scriptedClient(undefined, bsTransport);
    t.after(() => device.close());
    const answer = await device.bootstrapRequest(bsTransport.peer, ['ep=boot-1']);
    assert.equal(answer.code, Code.Changed);
    await device.until(5);
    assert.equal(device.received[4]!.path, '/bs', 'Bootstrap-Finish came last');

    const security = writtenResources(device.received.find((r) => r.path.startsWith('/0/'))!);
    const uri = new URL(String(security.get(0)));
    const identity = (security.get(3) as Buffer).toString();
    const key = security.get(5) as Buffer;

    const transport = new DtlsClientTransport({
      host: uri.hostname,
      port: Number(uri.port),
      psk: { identity, key },
    });
    const endpoint = new CoapEndpoint(transport);
    const client = new Lwm2mClient({
      endpoint,
      server: transport.peer,
      name: 'boot-1',
      objects: [
        new SecurityObject([{ serverUri: uri.href, shortServerId: 1 }]),
        new ServerObject([{ lifetime: 120, shortServerId: 1 }]),
        new DeviceObject({ manufacturer: 'Bootstrapped' }),
      ],
    });
    t.after(async () => {
      client.close();
      await endpoint.close();
    });
    const registered = once(tandem.lwm2m.server, 'registered');
    await client.register();
    const [event] = await registered;
    assert.equal(event.registration.endpoint, 'boot-1');
    assert.deepEqual(event.registration.peer.identity, { kind: 'psk', identity: 'boot-1' });
  });

  test('beyond loopback, a NoSec Bootstrap-Request is refused with 4.03 (secure by default)', async (t) => {
    const tandem = await startTandem(t, { host: '0.0.0.0' });
    await tandem.bootstrap.configs.put('*', {
      servers: [
        { shortServerId: 1, uri: 'coap://127.0.0.1:5683', securityMode: 'nosec', lifetime: 60 },
      ],
    });
    const device = await scriptedClient();
    t.after(() => device.close());
    const answer = await device.bootstrapRequest(tandem.address('bootstrap')!.port, ['ep=x']);
    assert.equal(answer.code, Code.Forbidden);
    assert.equal(device.received.length, 0);
  });

  test('a PSK identity may bootstrap only its own endpoint name (4.03)', async (t) => {
    const tandem = await startTandem(t);
    tandem.psk.set('dev-a', 'dev-a', FACTORY_KEY);
    const transport = new DtlsClientTransport({
      host: '127.0.0.1',
      port: tandem.address('bootstrapDtls')!.port,
      psk: { identity: 'dev-a', key: FACTORY_KEY },
    });
    const device = await scriptedClient(undefined, transport);
    t.after(() => device.close());
    const answer = await device.bootstrapRequest(transport.peer, ['ep=dev-b']);
    assert.equal(answer.code, Code.Forbidden);
  });

  test('server-initiated bootstrap: Bootstrap-Request Trigger /1/0/9, then the device bootstraps (LightweightM2M-1.1-int-5)', async (t) => {
    const tandem = await startTandem(t);
    await tandem.bootstrap.configs.put('sib', {
      servers: [
        { shortServerId: 7, uri: 'coap://127.0.0.1:5683', securityMode: 'nosec', lifetime: 60 },
      ],
    });
    const bootstrapPort = tandem.address('bootstrap')!.port;
    const device: Awaited<ReturnType<typeof scriptedClient>> = await scriptedClient((request) => {
      if (request.method === Code.Post && request.path.join('/') === '1/0/9') {
        // LwM2M 1.1 Appendix E.2 resource 9: the client then starts client-initiated bootstrap.
        setImmediate(() => void device.bootstrapRequest(bootstrapPort, ['ep=sib']));
        return { code: Code.Changed };
      }
      return undefined;
    });
    t.after(() => device.close());
    const registered = await device.endpoint.request(
      udpPeer('127.0.0.1', tandem.address('coap')!.port),
      {
        code: Code.Post,
        path: 'rd',
        query: ['ep=sib', 'lt=60', 'lwm2m=1.1'],
        contentFormat: 40,
        payload: '</1/0>,</3/0>',
      },
    );
    assert.equal(registered.code, Code.Created);
    const finished = once(tandem.bootstrap.servers.get('bootstrap')!, 'finished');
    const trigger = await tandem.lwm2m.requestBootstrap('sib');
    assert.equal(trigger?.code, Code.Changed);
    const [event] = await finished;
    assert.equal(event.endpoint, 'sib');
    assert.deepEqual(
      device.received.map((r) => r.path),
      ['/1/0/9', '/', '/', '/0/1', '/1/1', '/bs'],
    );
    assert.equal(await tandem.lwm2m.requestBootstrap('not-registered'), undefined);
  });
});
