import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import mqtt from 'mqtt';
import { generate } from 'selfsigned';
import { MqttBroker } from '../../src/mqtt/broker.js';
import type { AuthenticateRequest } from '../../src/mqtt/options.js';

test('gives the client certificate to authenticate over TLS and interoperates with mosquitto_pub --cert (MQTT 5.0 §5.4.5)', async () => {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    algorithm: 'sha256',
    clientCertificate: { cn: 'device-42' },
  });
  const seen: AuthenticateRequest[] = [];
  const broker = new MqttBroker({
    sysInterval: 0,
    hooks: {
      authenticate: (req) => {
        seen.push(req);
        const cn = req.peerCertificate?.subject?.CN;
        return cn === 'device-42'
          ? { accept: true, context: { device: cn } }
          : { accept: false, reasonCode: 0x87 };
      },
    },
  });
  const server = tls.createServer(
    // The self-signed pair does not form a verifiable chain; verification policy belongs to the
    // listener and the hook, which here accepts the device by its certificate subject.
    { key: pems.private, cert: pems.cert, requestCert: true, rejectUnauthorized: false },
    (socket) => {
      broker.handleConnection(socket, {
        remoteAddress: socket.remoteAddress ?? '',
        remotePort: socket.remotePort ?? 0,
        transport: 'tls',
        peerCertificate: socket.getPeerCertificate(),
      });
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), 'tandem-mqtt-tls-'));
  try {
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      key: pems.clientprivate!,
      cert: pems.clientcert!,
      ca: [pems.cert],
      rejectUnauthorized: false,
    });
    assert.equal(seen[0]?.transport, 'tls');
    assert.equal(seen[0]?.peerCertificate?.subject?.CN, 'device-42');
    await client.subscribeAsync('tls/t', { qos: 1 });
    const got = new Promise<string>((r) => client.on('message', (_t, p) => r(p.toString())));

    await writeFile(join(dir, 'ca.pem'), pems.cert);
    await writeFile(join(dir, 'client.pem'), pems.clientcert!);
    await writeFile(join(dir, 'client.key'), pems.clientprivate!);
    const child = spawn('/usr/bin/mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311', '-q', '1'],
      ...['--cafile', join(dir, 'ca.pem'), '--cert', join(dir, 'client.pem')],
      ...['--key', join(dir, 'client.key'), '--insecure', '-t', 'tls/t', '-m', 'over tls'],
    ]);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const [code] = await once(child, 'close');
    assert.equal(code, 0, stderr);
    assert.equal(await got, 'over tls');
    await client.endAsync();
  } finally {
    await broker.close();
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
