/**
 * Registration with libcoap's `coap-client-openssl` as the device: another CoAP stack than
 * ours, so that our server and our client cannot share one misunderstanding.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { RegisteredEvent } from '../../../src/lwm2m/server/index.js';
import { nextEvent, startServer } from './helpers.js';

function coapClient(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'coap-client-openssl',
      [...args, '-v', '7', '-B', '10'],
      { timeout: 20_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`coap-client-openssl failed: ${err.message}\n${stderr}`));
        else resolve(`${stdout}\n${stderr}`);
      },
    );
  });
}

describe('registration with libcoap coap-client-openssl (LwM2M 1.0 §8.2.3 Table 24)', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    const ids = ['lc1', 'lc2'];
    s = await startServer({ generateId: () => ids.shift() ?? 'lcx' });
  });
  after(async () => {
    await s.close();
  });

  test('answers the Register of coap-client with 2.01 Created and Location-Path rd/{id} (LwM2M-TS-Core 1.1 §6.2.1)', async () => {
    const registered = nextEvent<RegisteredEvent>(s.server, 'registered');
    const out = await coapClient([
      '-m',
      'post',
      '-e',
      '</1/0>,</3/0>',
      `coap://127.0.0.1:${s.port}/rd?ep=x&lt=60`,
    ]);
    assert.match(out, /t:ACK c:2\.01 .*\[ Location-Path:rd, Location-Path:lc1 \]/);
    const { registration } = await registered;
    assert.equal(registration.endpoint, 'x');
    assert.equal(registration.lifetime, 60);
    assert.deepEqual(
      registration.objectLinks.map((l) => l.path),
      ['/1/0', '/3/0'],
    );
  });

  test('answers Update (2.04) and De-register (2.02) from coap-client (LwM2M-TS-Core 1.1 §6.2.2, §6.2.3)', async () => {
    const update = await coapClient(['-m', 'post', `coap://127.0.0.1:${s.port}/rd/lc1?lt=90`]);
    assert.match(update, /t:ACK c:2\.04/);
    assert.equal((await s.server.getRegistration('x'))?.lifetime, 90);
    const del = await coapClient(['-m', 'delete', `coap://127.0.0.1:${s.port}/rd/lc1`]);
    assert.match(del, /t:ACK c:2\.02/);
    assert.equal(await s.server.getRegistration('x'), undefined);
  });

  test('answers a Register without endpoint name from coap-client with 4.00 (LwM2M-TS-Core 1.1 §6.2.1)', async () => {
    const out = await coapClient([
      '-m',
      'post',
      '-t',
      '40',
      '-e',
      '</3/0>',
      `coap://127.0.0.1:${s.port}/rd?lt=60`,
    ]);
    assert.match(out, /t:ACK c:4\.00/);
  });
});
