import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { UdpTransport, udpPeer } from '../../src/coap/udp-transport.js';
import { ContentFormat } from '../../src/lwm2m/codec/content-format.js';
import { runCli, startWithDevice, tokenOf } from './helpers.js';

describe('tandem read/write/exec errors: one line on stderr and a documented exit code', () => {
  test('an unknown device exits 3; the device answering 4.04 or 4.05 exits 4 with its CoAP code', async (t) => {
    const { env } = await startWithDevice(t);
    const unknown = await runCli(['read', 'ghost', '/3/0/0'], env);
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /^tandem: .*\(HTTP 404, TANDEM_ERR_DEVICE_NOT_FOUND\)\n$/);

    // LwM2M-TS-Core 1.1 §6.3.1: a Read of an absent instance is answered 4.04 Not Found.
    const absent = await runCli(['read', 'dev1', '/3303/9'], env);
    assert.equal(absent.code, 4);
    assert.match(
      absent.stderr,
      /^tandem: .*\(CoAP 4\.04, HTTP 404, TANDEM_ERR_LWM2M_NOT_FOUND\)\n$/,
    );

    // LwM2M-TS-Core 1.1 §6.3.3: Execute on a resource that is not executable is 4.05.
    const notExecutable = await runCli(['exec', 'dev1', '/3/0/0'], env);
    assert.equal(notExecutable.code, 4);
    assert.match(notExecutable.stderr, /CoAP 4\.05/);
  });

  test('a device that does not answer within --timeout exits 5', async (t) => {
    const { env, tandem } = await startWithDevice(t);
    // A device that registers and then falls silent (its socket gone, its registration kept).
    const endpoint = new CoapEndpoint(await UdpTransport.bind({ address: '127.0.0.1', port: 0 }));
    const registered = await endpoint.request(udpPeer('127.0.0.1', tandem.address('coap')!.port), {
      code: Code.Post,
      path: 'rd',
      query: ['ep=mute', 'lt=300', 'lwm2m=1.1'],
      contentFormat: ContentFormat.LINK,
      payload: '</3/0>',
    });
    assert.equal(registered.code, Code.Created);
    await endpoint.close();
    const silent = await runCli(['read', 'mute', '/3/0/0', '--timeout', '0.5'], env);
    assert.equal(silent.code, 5);
    assert.match(silent.stderr, /^tandem: .*\(HTTP 504, TANDEM_ERR_DEVICE_TIMEOUT\)\n$/);
  });

  test('no token exits 3 with 401 for a write; a read-only token exits 3 with 403', async (t) => {
    const { env, url, tandem } = await startWithDevice(t);
    const anonymous = await runCli(['write', 'dev1', '/3/0/14', '+01:00', '--url', url], {});
    assert.equal(anonymous.code, 3);
    assert.match(anonymous.stderr, /HTTP 401, TANDEM_ERR_UNAUTHORIZED/);
    const readOnly = await tokenOf(tandem, 'read-only');
    const forbidden = await runCli(['exec', 'dev1', '/3/0/4', '--token', readOnly], env);
    assert.equal(forbidden.code, 3);
    assert.match(forbidden.stderr, /HTTP 403, TANDEM_ERR_FORBIDDEN/);
    const read = await runCli(['read', 'dev1', '/3/0/0', '--token', readOnly], env);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout, 'Manufacturer = Tandem Labs\n');
  });
});
