import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { UdpTransport, udpPeer } from '../../src/coap/udp-transport.js';
import { issueToken } from '../../src/hub/api-tokens.js';
import {
  DeviceObject,
  Lwm2mClient,
  SecurityObject,
  ServerObject,
} from '../../src/lwm2m/client/index.js';
import { Tandem } from '../../src/server/tandem.js';
import { spawnCli } from '../cli/helpers.js';
import { testConfig } from '../helpers/tandem.js';
import { tempDir } from '../helpers/tmp.js';

const ADMIN = 'registration-restart-admin-token-0123456789';

/** `tandem start` on ephemeral loopback ports in `dataDir`; resolves with its listening line. */
async function startProcess(dataDir: string) {
  const ports = ['http', 'mqtt', 'mqtts', 'ws', 'coap', 'coaps', 'bootstrap', 'bootstrap-dtls'];
  const cli = spawnCli(['start', `--data-dir=${dataDir}`, ...ports.map((p) => `--${p}-port=0`)], {
    env: { TANDEM_ADMIN_TOKEN: ADMIN },
  });
  for (;;) {
    const line = cli
      .stdout()
      .split('\n')
      .find((l) => l.includes('"msg":"listening"'));
    if (line) return { cli, addresses: JSON.parse(line) as Record<string, string> };
    if (cli.child.exitCode !== null) throw new Error(`tandem start exited: ${cli.stdout()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));

/** Our client library over UDP, registered with the server on `port`. */
async function registeredDevice(t: TestContext, port: number, name: string, manufacturer: string) {
  const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const endpoint = new CoapEndpoint(transport);
  t.after(() => endpoint.close());
  const device = new Lwm2mClient({
    endpoint,
    server: udpPeer('127.0.0.1', port),
    name,
    objects: [
      new SecurityObject([{ serverUri: `coap://127.0.0.1:${port}`, shortServerId: 1 }]),
      new ServerObject([{ lifetime: 300, shortServerId: 1 }]),
      new DeviceObject({ manufacturer }),
    ],
  });
  t.after(() => device.close());
  return { endpoint, registrationId: await device.register() };
}

test('an LwM2M registration survives a restart on the same data directory: the Update is 2.04 and the API reads the device (LwM2M-TS-Core 1.1 §6.2.2)', async (t) => {
  const dataDir = tempDir(t);
  const first = new Tandem({ config: testConfig(t, { dataDir }) });
  t.after(() => first.stop());
  await first.start();
  const { endpoint, registrationId } = await registeredDevice(
    t,
    first.address('coap')!.port,
    'durable-1',
    'Tandem Labs',
  );
  const { token } = await issueToken(first.store.tokens, 'operator', 'restart test');
  await first.stop();

  const second = new Tandem({ config: testConfig(t, { dataDir }) });
  t.after(() => second.stop());
  await second.start();
  const registration = await second.lwm2m.server.getRegistration('durable-1');
  assert.equal(registration?.id, registrationId);
  assert.equal(second.devices.isOnline('durable-1'), true, 'the device is online again');

  // The server reaches the device at its stored address before the device speaks again.
  const read = await fetch(
    `http://127.0.0.1:${second.address('http')!.port}/api/devices/durable-1/3/0/0`,
    { headers: { authorization: `Bearer ${token}` } },
  );
  assert.equal(read.status, 200);
  assert.match(await read.text(), /Tandem Labs/);

  // The device's Update with its registration ID goes to the restarted server (new port).
  const update = await endpoint.request(udpPeer('127.0.0.1', second.address('coap')!.port), {
    code: Code.Post,
    path: `rd/${registrationId}`,
  });
  assert.equal(update.code, Code.Changed);
});

test('an LwM2M registration survives kill -9 of the server process (SQLite WAL)', async (t) => {
  const dataDir = tempDir(t);
  const first = await startProcess(dataDir);
  const { endpoint, registrationId } = await registeredDevice(
    t,
    portOf(first.addresses.coap!),
    'crash-1',
    'Crash Test',
  );
  first.cli.child.kill('SIGKILL');
  assert.equal((await first.cli.done).code, null, 'killed, not stopped');

  const second = await startProcess(dataDir);
  t.after(async () => {
    second.cli.child.kill('SIGTERM');
    await second.cli.done;
  });
  const update = await endpoint.request(udpPeer('127.0.0.1', portOf(second.addresses.coap!)), {
    code: Code.Post,
    path: `rd/${registrationId}`,
  });
  assert.equal(update.code, Code.Changed);
  const read = await fetch(`http://${second.addresses.http}/api/devices/crash-1/3/0/0`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  assert.equal(read.status, 200);
  assert.match(await read.text(), /Crash Test/);
});
