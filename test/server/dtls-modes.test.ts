import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { Code } from '../../src/coap/code.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import type { TandemConfigInput } from '../../src/config/schema.js';
import {
  DtlsClientTransport,
  type DtlsClientTransportOptions,
  DtlsServerTransport,
} from '../../src/dtls/index.js';
import {
  DeviceObject,
  Lwm2mClient,
  Lwm2mClientError,
  SecurityObject,
  ServerObject,
} from '../../src/lwm2m/client/index.js';
import type { Tandem } from '../../src/server/tandem.js';
import { makePki, type TestPki } from '../dtls/pki.js';
import { startTandem, testConfig } from '../helpers/tandem.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' }) as Buffer;
const ECDHE = ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8' as const];

type Credentials = Omit<DtlsClientTransportOptions, 'host' | 'port'>;

/** Our DTLS client transport to a listener of Tandem, closed when the test ends. */
function dtls(
  t: TestContext,
  tandem: Tandem,
  credentials: Credentials,
  listener: 'coaps' | 'bootstrapDtls' = 'coaps',
) {
  const port = tandem.address(listener)!.port;
  const transport = new DtlsClientTransport({ host: '127.0.0.1', port, ...credentials });
  t.after(() => transport.close());
  return transport;
}

/** Our LwM2M client library over a DTLS transport, closed when the test ends. */
function lwm2mClient(t: TestContext, tandem: Tandem, name: string, credentials: Credentials) {
  const transport = new DtlsClientTransport({
    host: '127.0.0.1',
    port: tandem.address('coaps')!.port,
    ...credentials,
  });
  const endpoint = new CoapEndpoint(transport);
  const client = new Lwm2mClient({
    endpoint,
    server: transport.peer,
    name,
    objects: [
      new SecurityObject([
        { serverUri: `coaps://127.0.0.1:${transport.peer.port}`, shortServerId: 1 },
      ]),
      new ServerObject([{ lifetime: 300, shortServerId: 1 }]),
      new DeviceObject({ manufacturer: 'Tandem Labs', serialNumber: 'SN-9' }),
    ],
  });
  t.after(async () => {
    client.close();
    await endpoint.close();
  });
  return { client, transport };
}

const refusedWith = (code: number) => (err: unknown) =>
  err instanceof Lwm2mClientError && err.coapCode === code;

function p256() {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

async function rpkDevice(tandem: Tandem, id: string, publicKey: KeyObject) {
  await tandem.store.devices.create({
    id,
    protocol: 'lwm2m',
    credentials: { rpk: { publicKey: spki(publicKey) } },
  });
}

describe('LwM2M security modes over DTLS in Tandem', () => {
  let pki: TestPki;
  /** A client certificate from the test CA whose CN (a serial number) is not its device id. */
  let serialKey: string;
  let serialCert: string;
  before(() => {
    pki = makePki();
    const ossl = (...args: string[]) =>
      execFileSync('openssl', args, { cwd: pki.dir, stdio: 'pipe' });
    ossl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'serial.key',
      '-out',
      'serial.csr',
      '-subj',
      '/CN=SN-000042/O=Tandem Labs',
    );
    writeFileSync(pki.path('serial.ext'), 'basicConstraints=CA:FALSE\n');
    ossl(
      'x509',
      '-req',
      '-in',
      'serial.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'serial.pem',
      '-days',
      '2',
      '-extfile',
      'serial.ext',
    );
    serialKey = readFileSync(pki.path('serial.key'), 'utf8');
    serialCert = readFileSync(pki.path('serial.pem'), 'utf8');
  });
  after(() => pki.remove());

  /** Tandem with the test CA's server certificate and the test CA as the LwM2M trust store. */
  const x509Tandem = (t: TestContext, input: TandemConfigInput = {}) =>
    startTandem(t, {
      ...input,
      listeners: {
        coaps: { port: 0, certificate: pki.path('server.pem'), key: pki.path('server.key') },
      },
      lwm2m: { trustStore: pki.path('ca.pem') },
    });

  test('a device registers with its raw public key and the server certificate (RFC 7250 §4.1, LwM2M-TS-Transport 1.1 §5.2.8.2)', async (t) => {
    const tandem = await x509Tandem(t);
    const key = p256();
    await rpkDevice(tandem, 'dev-rpk', key.publicKey);
    const { client } = lwm2mClient(t, tandem, 'dev-rpk', {
      cipherSuites: ECDHE,
      certificate: { privateKey: key.privateKey },
      trust: { trustedCertificates: [pki.caPem] },
    });
    await client.register();
    const reg = await tandem.lwm2m.server.getRegistration('dev-rpk');
    assert.deepEqual(reg?.peer.identity, { kind: 'rpk', publicKey: spki(key.publicKey) });
    const read = await tandem.lwm2m.server.read('dev-rpk', { path: '/3/0/2' });
    assert.equal(read.code, Code.Content);
  });

  test('with a key and no certificate the server is a raw public key too, the same both sides (RFC 7250 §4.1)', async (t) => {
    const dir = tempDir(t);
    const serverKey = p256();
    writeFileSync(
      join(dir, 'server.key'),
      serverKey.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    );
    const tandem = await startTandem(t, {
      listeners: { coaps: { port: 0, key: join(dir, 'server.key') } },
    });
    const serverSpki = spki(serverKey.publicKey);
    assert.deepEqual(tandem.coap.dtlsCredentials.get('coaps')?.publicKey, serverSpki);
    const key = p256();
    await rpkDevice(tandem, 'dev-rpk2', key.publicKey);
    const { client, transport } = lwm2mClient(t, tandem, 'dev-rpk2', {
      cipherSuites: ECDHE,
      certificate: { privateKey: key.privateKey },
      trust: { rawPublicKeyTrust: (k) => k.equals(serverSpki) },
    });
    await client.register();
    assert.deepEqual(transport.client.serverIdentity, { kind: 'rpk', publicKey: serverSpki });
    assert.equal(
      (await tandem.lwm2m.server.getRegistration('dev-rpk2'))?.peer.identity?.kind,
      'rpk',
    );
  });

  test("a raw public key that is no device's, or another device's, is refused with 4.03 (LwM2M-TS-Core 1.1 §6.2.1)", async (t) => {
    // The handshake succeeds: the DTLS trust callback is synchronous and cannot ask the store
    // which device holds a key, so the key is judged when it names an endpoint.
    const tandem = await x509Tandem(t);
    const owner = p256();
    await rpkDevice(tandem, 'dev-owner', owner.publicKey);
    const stranger = p256();
    const credentials = {
      cipherSuites: ECDHE,
      certificate: { privateKey: stranger.privateKey },
      trust: { trustedCertificates: [pki.caPem] },
    };
    const unknown = lwm2mClient(t, tandem, 'dev-owner', credentials);
    await assert.rejects(unknown.client.register(), refusedWith(Code.Forbidden));
    assert.equal(await tandem.lwm2m.server.getRegistration('dev-owner'), undefined);

    await rpkDevice(tandem, 'dev-other', stranger.publicKey);
    const impostor = lwm2mClient(t, tandem, 'dev-owner', credentials);
    await assert.rejects(impostor.client.register(), refusedWith(Code.Forbidden));
    assert.equal(await tandem.lwm2m.server.getRegistration('dev-owner'), undefined);
  });

  test('a device registers with a certificate from the trust store whose CN is its endpoint name (LwM2M-TS-Transport 1.1 §5.2.8.3)', async (t) => {
    const tandem = await x509Tandem(t);
    await tandem.store.devices.create({ id: 'dev1', protocol: 'lwm2m' });
    const { client } = lwm2mClient(t, tandem, 'dev1', {
      cipherSuites: ECDHE,
      certificate: { privateKey: pki.clientKey, certificateChain: [pki.clientCert] },
      trust: { trustedCertificates: [pki.caPem] },
    });
    await client.register();
    const identity = (await tandem.lwm2m.server.getRegistration('dev1'))?.peer.identity;
    assert.equal(identity?.kind, 'x509');
    assert.equal(identity?.kind === 'x509' && identity.subject, 'CN=dev1');
  });

  test('a certificate registers the device whose stored certificate has its subject, and no other name', async (t) => {
    const tandem = await x509Tandem(t);
    const subject = new X509Certificate(serialCert).subject;
    await tandem.store.devices.create({
      id: 'meter-7',
      protocol: 'lwm2m',
      credentials: { x509: { certificate: serialCert, subject } },
    });
    const credentials = {
      cipherSuites: ECDHE,
      certificate: { privateKey: serialKey, certificateChain: [serialCert] },
      trust: { trustedCertificates: [pki.caPem] },
    };
    const wrong = lwm2mClient(t, tandem, 'meter-8', credentials);
    await assert.rejects(wrong.client.register(), refusedWith(Code.Forbidden));
    const { client } = lwm2mClient(t, tandem, 'meter-7', credentials);
    await client.register();
    assert.ok(await tandem.lwm2m.server.getRegistration('meter-7'));
    assert.equal(await tandem.lwm2m.server.getRegistration('meter-8'), undefined);
  });

  test('a certificate from a CA outside the trust store ends the handshake with unknown_ca (RFC 5246 §7.4.6)', async (t) => {
    // The chain is checked in the handshake itself (RFC 5280 path validation against
    // lwm2m.trustStore), so the device gets a fatal alert and never reaches /rd.
    const tandem = await x509Tandem(t);
    await tandem.store.devices.create({ id: 'stranger', protocol: 'lwm2m' });
    const transport = dtls(t, tandem, {
      cipherSuites: ECDHE,
      certificate: { privateKey: pki.strangerKey, certificateChain: [pki.strangerCert] },
      trust: { trustedCertificates: [pki.caPem] },
    });
    await assert.rejects(transport.connect(), { code: 'DTLS_ERR_UNKNOWN_CA' });
    assert.equal(await tandem.lwm2m.server.getRegistration('stranger'), undefined);
  });

  test('the DTLS bootstrap listener applies the same rule to Bootstrap-Request (LwM2M-TS-Core 1.1 §6.1.3)', async (t) => {
    const tandem = await x509Tandem(t);
    const key = p256();
    await rpkDevice(tandem, 'dev-bs', key.publicKey);
    await tandem.bootstrap.configs.put('dev-bs', {
      servers: [
        {
          shortServerId: 1,
          uri: `coaps://127.0.0.1:${tandem.address('coaps')!.port}`,
          securityMode: 'rpk',
          lifetime: 300,
        },
      ],
    });
    const bootstrapRequest = async (ep: string) => {
      const transport = dtls(
        t,
        tandem,
        {
          cipherSuites: ECDHE,
          certificate: { privateKey: key.privateKey },
          trust: { trustedCertificates: [pki.caPem] },
        },
        'bootstrapDtls',
      );
      const endpoint = new CoapEndpoint(transport);
      t.after(() => endpoint.close());
      return endpoint.request(transport.peer, {
        code: Code.Post,
        path: '/bs',
        query: [`ep=${ep}`],
        timeoutMs: 20_000,
      });
    };
    assert.equal((await bootstrapRequest('someone-else')).code, Code.Forbidden);
    assert.equal((await bootstrapRequest('dev-bs')).code, Code.Changed);
  });

  /** Resolves when the server ends the DTLS association of this client transport. */
  const closedByServer = (transport: DtlsClientTransport) =>
    new Promise<unknown>((resolve) => transport.client.onClose(resolve));

  /** Established DTLS sessions of a listener of Tandem. */
  const sessions = (tandem: Tandem, listener: 'coaps' | 'bootstrapDtls') => {
    const transport = tandem.coap.listeners.get(listener)?.transport;
    assert.ok(transport instanceof DtlsServerTransport);
    return transport.server.sessions;
  };

  test('deleting an RPK device closes its DTLS sessions on coaps and bootstrapDtls and refuses its next Register (RFC 5246 §7.2.1, LwM2M-TS-Core 1.1 §6.2.1)', async (t) => {
    const tandem = await x509Tandem(t);
    const key = p256();
    await rpkDevice(tandem, 'dev-deleted', key.publicKey);
    const credentials = {
      cipherSuites: ECDHE,
      certificate: { privateKey: key.privateKey },
      trust: { trustedCertificates: [pki.caPem] },
    };
    const { client, transport } = lwm2mClient(t, tandem, 'dev-deleted', credentials);
    await client.register();
    const bootstrap = dtls(t, tandem, credentials, 'bootstrapDtls');
    await bootstrap.connect();
    const closed = [closedByServer(transport), closedByServer(bootstrap)];
    assert.deepEqual([sessions(tandem, 'coaps'), sessions(tandem, 'bootstrapDtls')], [1, 1]);

    await tandem.devices.delete('dev-deleted');
    assert.deepEqual([sessions(tandem, 'coaps'), sessions(tandem, 'bootstrapDtls')], [0, 0]);
    // close_notify (no error) from both listeners, and the registration is gone.
    assert.deepEqual(await Promise.all(closed), [undefined, undefined]);
    assert.equal(await tandem.lwm2m.server.getRegistration('dev-deleted'), undefined);
    // The key still passes the handshake (any raw key does), but it is no device's any more.
    await assert.rejects(client.register(), refusedWith(Code.Forbidden));
    assert.equal(await tandem.lwm2m.server.getRegistration('dev-deleted'), undefined);
  });

  test("revoking a device's certificate closes its DTLS session and refuses its next Register (RFC 5246 §7.2.1, LwM2M-TS-Transport 1.1 §5.2.8.3)", async (t) => {
    const tandem = await x509Tandem(t);
    await tandem.devices.create({
      id: 'meter-9',
      protocol: 'lwm2m',
      credentials: { x509: { certificate: serialCert } },
    });
    const { client, transport } = lwm2mClient(t, tandem, 'meter-9', {
      cipherSuites: ECDHE,
      certificate: { privateKey: serialKey, certificateChain: [serialCert] },
      trust: { trustedCertificates: [pki.caPem] },
    });
    await client.register();
    assert.equal((await tandem.devices.get('meter-9'))?.online, true);
    const closed = closedByServer(transport);
    assert.equal(sessions(tandem, 'coaps'), 1);

    await tandem.devices.patch('meter-9', { credentials: { x509: null } });
    assert.equal(sessions(tandem, 'coaps'), 0);
    assert.equal(await closed, undefined);
    assert.equal((await tandem.devices.get('meter-9'))?.online, false);
    assert.equal(await tandem.lwm2m.server.getRegistration('meter-9'), undefined);
    // The chain still leads to the trust store; its subject no longer names the device.
    await assert.rejects(client.register(), refusedWith(Code.Forbidden));
  });

  test('PSK devices are unchanged beside the ECDHE_ECDSA suites (RFC 7925 §4.2)', async (t) => {
    const tandem = await x509Tandem(t);
    const key = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    await tandem.store.devices.create({
      id: 'dev-psk',
      protocol: 'lwm2m',
      credentials: { psk: { identity: 'dev-psk', key } },
    });
    tandem.psk.set('dev-psk', 'dev-psk', key);
    const { client, transport } = lwm2mClient(t, tandem, 'dev-psk', {
      psk: { identity: 'dev-psk', key },
    });
    await client.register();
    assert.equal(transport.client.cipherSuite, 'TLS_PSK_WITH_AES_128_CCM_8');
  });

  test("the DTLS listeners' handshakes, sessions and alerts are Prometheus metrics (issue 5 limits and counters)", async (t) => {
    const tandem = await startTandem(t);
    const key = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    await tandem.devices.create({
      id: 'dev-metrics',
      protocol: 'lwm2m',
      credentials: { psk: { identity: 'dev-metrics', key: key.toString('hex') } },
    });
    await dtls(t, tandem, { psk: { identity: 'dev-metrics', key } }).connect();
    const wrong = dtls(t, tandem, { psk: { identity: 'dev-metrics', key: Buffer.alloc(16) } });
    await assert.rejects(wrong.connect(), { code: 'DTLS_ERR_BAD_RECORD_MAC' });
    const text = await tandem.metrics.metrics();
    const value = (series: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${series} `))
          ?.slice(series.length + 1),
      );
    assert.equal(value('tandem_dtls_handshakes_total{listener="coaps",outcome="completed"}'), 1);
    assert.equal(value('tandem_dtls_handshakes_total{listener="coaps",outcome="failed"}'), 1);
    assert.equal(value('tandem_dtls_alerts_total{listener="coaps",direction="sent"}'), 1);
    assert.equal(value('tandem_dtls_sessions{listener="coaps"}'), 1);
    assert.equal(value('tandem_dtls_handshakes_in_progress{listener="bootstrapDtls"}'), 0);
  });

  test('the DTLS limits of a listener come from its configuration (issue 5 limits)', async (t) => {
    assert.throws(
      () => testConfig(t, { listeners: { coaps: { limits: { maxSessions: 0 } } } }),
      /maxSessions/,
    );
    const tandem = await startTandem(t, {
      listeners: { coaps: { port: 0, limits: { maxSessions: 1, idleTimeoutMs: 60_000 } } },
    });
    const key = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    for (const id of ['dev-first', 'dev-second']) {
      await tandem.devices.create({
        id,
        protocol: 'lwm2m',
        credentials: { psk: { identity: id, key: key.toString('hex') } },
      });
    }
    await dtls(t, tandem, { psk: { identity: 'dev-first', key } }).connect();
    // The second handshake is refused without an answer; the client gives up after its
    // retransmissions (RFC 6347 §4.2.4.1).
    const second = dtls(t, tandem, {
      psk: { identity: 'dev-second', key },
      retransmit: { initialMs: 100, maxMs: 100, maxAttempts: 2 },
    });
    await assert.rejects(second.connect(), { code: 'DTLS_ERR_HANDSHAKE_FAILURE' });
    const transport = tandem.coap.listeners.get('coaps')?.transport;
    assert.ok(transport instanceof DtlsServerTransport);
    assert.equal(transport.server.sessions, 1);
    assert.ok(transport.server.stats.handshakesRejected >= 1);
  });

  test('without configured credentials a development key and certificate are generated once and reused', async (t) => {
    const dataDir = tempDir(t);
    const first = await startTandem(t, { dataDir });
    const generated = first.coap.dtlsCredentials.get('coaps');
    assert.equal(generated?.generated, true);
    assert.ok(existsSync(join(dataDir, 'dtls', 'dev-key.pem')));
    const certPem = readFileSync(join(dataDir, 'dtls', 'dev-cert.pem'), 'utf8');
    assert.deepEqual(
      createPublicKey(readFileSync(join(dataDir, 'dtls', 'dev-key.pem'))).export({
        format: 'der',
        type: 'spki',
      }),
      generated.publicKey,
    );
    // The bootstrap DTLS listener presents the same identity.
    assert.deepEqual(
      first.coap.dtlsCredentials.get('bootstrapDtls')?.publicKey,
      generated.publicKey,
    );

    const key = p256();
    await rpkDevice(first, 'dev-dev', key.publicKey);
    const { client } = lwm2mClient(t, first, 'dev-dev', {
      cipherSuites: ECDHE,
      certificate: { privateKey: key.privateKey },
      trust: { trustedCertificates: [certPem] },
    });
    await client.register();
    await first.stop();

    const second = await startTandem(t, { dataDir });
    assert.deepEqual(second.coap.dtlsCredentials.get('coaps')?.publicKey, generated.publicKey);
  });

  test('the bootstrap DTLS listener takes its own key, else that of coaps', async (t) => {
    const dir = tempDir(t);
    const bsKey = p256();
    writeFileSync(
      join(dir, 'bs.key'),
      bsKey.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    );
    const own = await x509Tandem(t);
    assert.deepEqual(
      own.coap.dtlsCredentials.get('bootstrapDtls')?.publicKey,
      own.coap.dtlsCredentials.get('coaps')?.publicKey,
    );
    assert.equal(own.coap.dtlsCredentials.get('bootstrapDtls')?.certificateChain?.length, 1);
    const separate = await startTandem(t, {
      listeners: { bootstrapDtls: { port: 0, key: join(dir, 'bs.key') } },
    });
    const bs = separate.coap.dtlsCredentials.get('bootstrapDtls');
    assert.deepEqual(bs?.publicKey, spki(bsKey.publicKey));
    assert.equal(bs?.certificateChain, undefined, 'a key alone is a raw public key');
    assert.equal(separate.coap.dtlsCredentials.get('coaps')?.generated, true);
  });

  test('a key that is not ECDSA P-256 is a configuration error at start (RFC 7925 §4.3)', async (t) => {
    const dir = tempDir(t);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    writeFileSync(
      join(dir, 'p384.key'),
      p384.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    );
    await assert.rejects(
      startTandem(t, { listeners: { coaps: { port: 0, key: join(dir, 'p384.key') } } }),
      /listeners\.coaps\.key must be an ECDSA P-256 private key/,
    );
  });

  test('a certificate without its key is a configuration error at start', async (t) => {
    await assert.rejects(
      startTandem(t, { listeners: { coaps: { port: 0, certificate: pki.path('server.pem') } } }),
      /listeners\.coaps\.certificate needs listeners\.coaps\.key/,
    );
  });

  describe('libcoap (coap-client-gnutls)', () => {
    const coapClient = async (args: string[], url: string) => {
      const { stdout, stderr } = await run('coap-client-gnutls', [
        '-v',
        '7',
        '-B',
        '5',
        '-m',
        'post',
        '-t',
        '40',
        '-e',
        '</1/0>,</3/0>',
        ...args,
        url,
      ]);
      return stdout + stderr;
    };
    const rdUrl = (tandem: Tandem, ep: string) =>
      `coaps://127.0.0.1:${tandem.address('coaps')!.port}/rd?ep=${ep}&lt=60&lwm2m=1.1&b=U`;

    test('registers with a certificate from the trust store', async (t) => {
      const tandem = await x509Tandem(t);
      await tandem.store.devices.create({ id: 'dev1', protocol: 'lwm2m' });
      const out = await coapClient(
        ['-c', pki.path('client.pem'), '-j', pki.path('client.key'), '-R', pki.path('ca.pem')],
        rdUrl(tandem, 'dev1'),
      );
      // coap-client exits 0 even when the handshake fails: read the response it printed.
      assert.match(out, /2\.01/);
      const identity = (await tandem.lwm2m.server.getRegistration('dev1'))?.peer.identity;
      assert.equal(identity?.kind, 'x509');
    });

    test('registers with a raw public key', async (t) => {
      const tandem = await x509Tandem(t);
      const key = p256();
      await rpkDevice(tandem, 'libcoap-rpk', key.publicKey);
      const dir = tempDir(t);
      // -M takes one PEM file with the private key and its public key.
      writeFileSync(
        join(dir, 'rpk.pem'),
        `${key.privateKey.export({ format: 'pem', type: 'sec1' })}${key.publicKey.export({ format: 'pem', type: 'spki' })}`,
      );
      // gnutls lists X.509 before RawPublicKey as server certificate types; a client that
      // authenticates with a raw key gets the server's raw key (RFC 7250 §4.3).
      const out = await coapClient(
        ['-M', join(dir, 'rpk.pem'), '-R', pki.path('ca.pem')],
        rdUrl(tandem, 'libcoap-rpk'),
      );
      assert.match(out, /2\.01/);
      const identity = (await tandem.lwm2m.server.getRegistration('libcoap-rpk'))?.peer.identity;
      assert.deepEqual(identity, { kind: 'rpk', publicKey: spki(key.publicKey) });
    });

    test('registers with a raw public key to a server that is a raw public key too', async (t) => {
      const dir = tempDir(t);
      const serverKey = p256();
      writeFileSync(
        join(dir, 'server.key'),
        serverKey.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
      );
      const tandem = await startTandem(t, {
        listeners: { coaps: { port: 0, key: join(dir, 'server.key') } },
      });
      const key = p256();
      await rpkDevice(tandem, 'libcoap-rpk2', key.publicKey);
      writeFileSync(
        join(dir, 'rpk.pem'),
        `${key.privateKey.export({ format: 'pem', type: 'sec1' })}${key.publicKey.export({ format: 'pem', type: 'spki' })}`,
      );
      const out = await coapClient(['-M', join(dir, 'rpk.pem')], rdUrl(tandem, 'libcoap-rpk2'));
      assert.match(out, /2\.01/);
      const identity = (await tandem.lwm2m.server.getRegistration('libcoap-rpk2'))?.peer.identity;
      assert.deepEqual(identity, { kind: 'rpk', publicKey: spki(key.publicKey) });
    });

    test('a certificate from another CA gets no registration', async (t) => {
      const tandem = await x509Tandem(t);
      await tandem.store.devices.create({ id: 'stranger', protocol: 'lwm2m' });
      const out = await coapClient(
        ['-c', pki.path('stranger.pem'), '-j', pki.path('stranger.key'), '-R', pki.path('ca.pem')],
        rdUrl(tandem, 'stranger'),
      );
      // Our server's fatal alert unknown_ca (48, RFC 5246 §7.2.2), as gnutls reports it.
      assert.match(out, /Alert '48'/);
      assert.doesNotMatch(out, /2\.01/);
      assert.equal(await tandem.lwm2m.server.getRegistration('stranger'), undefined);
    });
  });
});
