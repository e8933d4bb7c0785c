/**
 * Raw MQTT.js devices that follow the convention message by message (cbor-x, not our codec):
 * SenML JSON and SenML CBOR answers, notifications and Send, and every malformed input answered
 * as docs/lwm2m-over-mqtt.md says, without harm to the server.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { encode } from 'cbor-x';
import { Code } from '../../../src/coap/code.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import type { Lwm2mSingleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mError } from '../../../src/lwm2m/server/errors.js';
import type { NotificationEvent, SendEvent } from '../../../src/lwm2m/server/events.js';
import {
  cbor,
  type ManagedSetup,
  plainCbor,
  rawDevice,
  registerFields,
  registerRaw,
  startManaged,
} from './helpers.js';

describe('raw devices on the convention (LwM2M-TS-Transport 1.2 §8)', () => {
  let setup: ManagedSetup;

  before(async () => {
    setup = await startManaged({ owners: true, maxMessageBytes: 2048 });
  });

  after(async () => {
    await setup.close();
  });

  test('Register answered 201 (§8.5); a Read answered in SenML JSON decodes with its ct', async () => {
    const raw = await rawDevice(setup.tb, 'raw-1');
    const reg = await registerRaw(setup, raw);
    assert.equal(reg.peer.key, 'mqtt:raw-1');
    assert.deepEqual(reg.supportedContentFormats, [110, 112]);
    const reading = setup.server.read('raw-1', { path: '/3303/0/5700' });
    const request = await raw.next((m) => m.get(1) === 9);
    assert.equal(request.get(5), '/3303/0/5700');
    // The server asks for the device's best announced format: SenML CBOR (LwM2M-TS-Core 1.1 §7.3).
    assert.equal(request.get(19), ContentFormat.SENML_CBOR);
    await raw.send({
      18: 205,
      2: request.get(2),
      19: ContentFormat.SENML_JSON,
      7: Buffer.from(JSON.stringify([{ n: '/3303/0/5700', v: 21.5 }])),
    });
    const r = await reading;
    assert.equal(r.code, Code.Content);
    assert.equal((r.content as Lwm2mSingleResource).value.value, 21.5);
  });

  test('Observe answered 205, then Notify (23) in SenML CBOR becomes a notification', async () => {
    const raw = await rawDevice(setup.tb, 'raw-2');
    await registerRaw(setup, raw);
    const observing = setup.server.observe('raw-2', { path: '/3303/0/5700' });
    const request = await raw.next((m) => m.get(1) === 20);
    const token = request.get(2);
    // SenML CBOR (RFC 8428 §6): n = 0, v = 2.
    const senml = (v: number) =>
      plainCbor([
        new Map<number, unknown>([
          [0, '/3303/0/5700'],
          [2, v],
        ]),
      ]);
    await raw.send({ 18: 205, 2: token, 19: ContentFormat.SENML_CBOR, 7: senml(19) });
    const o = await observing;
    assert.ok(o.observation?.active);
    const notified = once(setup.server, 'notification') as Promise<[NotificationEvent]>;
    await raw.send({ 1: 23, 2: token, 19: ContentFormat.SENML_CBOR, 7: senml(23.25) });
    const [event] = await notified;
    assert.equal((event.content as Lwm2mSingleResource).value.value, 23.25);
    // An error Notify ends the observation (RFC 7641 §3.2).
    const ended = once(setup.server, 'notification') as Promise<[NotificationEvent]>;
    await raw.send({ 1: 23, 2: token, 18: 404 });
    assert.equal((await ended)[0].code, Code.NotFound);
    assert.equal(setup.server.observations('raw-2').length, 0);
  });

  test('a Notify of no observation is answered by Cancel-Observe (22), like RST (RFC 7641 §3.6)', async () => {
    const raw = await rawDevice(setup.tb, 'raw-3');
    await registerRaw(setup, raw);
    await raw.send({ 1: 23, 2: 4242, 19: ContentFormat.SENML_JSON, 7: Buffer.from('[]') });
    const cancel = await raw.next((m) => m.get(1) === 22);
    assert.equal(cancel.get(2), 4242);
  });

  test('Send (24) in SenML JSON is a send event; bad SenML is answered 400 with the token', async () => {
    const raw = await rawDevice(setup.tb, 'raw-4');
    await registerRaw(setup, raw);
    const sent = once(setup.server, 'send') as Promise<[SendEvent]>;
    await raw.send({
      1: 24,
      2: 7,
      19: ContentFormat.SENML_JSON,
      7: Buffer.from(JSON.stringify([{ bn: '/3303/0/', n: '5700', v: 18 }])),
    });
    assert.equal((await raw.next((m) => m.get(2) === 7)).get(18), 204);
    const [event] = await sent;
    assert.equal(event.values[0]?.path.toString(), '/3303/0/5700');
    await raw.send({ 1: 24, 2: 8, 19: ContentFormat.SENML_JSON, 7: Buffer.from('{"n":') });
    const bad = await raw.next((m) => m.get(2) === 8);
    assert.equal(bad.get(18), 400);
    assert.ok(Buffer.from(bad.get(7) as Uint8Array).length > 0, 'a diagnostic text');
  });

  test('malformed messages are answered 400 or 501 (§8.5 Table 8.5-5), with the token when readable', async () => {
    const raw = await rawDevice(setup.tb, 'raw-5');
    await raw.mqtt.publishAsync(raw.topic, Buffer.from('not cbor at all \xff'), { qos: 1 });
    const notCbor = await raw.next();
    assert.equal(notCbor.get(18), 400);
    assert.equal(notCbor.has(2), false);
    await raw.mqtt.publishAsync(raw.topic, encode([1, 2, 3]), { qos: 1 });
    assert.equal((await raw.next()).get(18), 400);
    await raw.send({ 1: 9 });
    assert.equal((await raw.next()).get(18), 400);
    await raw.send({ 1: 99, 2: 5 });
    const unknown = await raw.next((m) => m.get(2) === 5);
    assert.equal(unknown.get(18), 501);
    await raw.send({ 1: 6, 2: 6, 18: 205 });
    assert.equal((await raw.next((m) => m.get(2) === 6)).get(18), 400);
    await raw.send(registerFields(9, { 3: 'someone-else' }));
    assert.equal((await raw.next((m) => m.get(2) === 9)).get(18), 400);
    await raw.send(registerFields(10, { 8: 'long' }));
    assert.equal((await raw.next((m) => m.get(2) === 10)).get(18), 400);
    // A Register with an unsupported version: 4.12 (LwM2M-TS-Core 1.1 §6.2.1).
    await raw.send(registerFields(11, { 9: '9.9' }));
    assert.equal((await raw.next((m) => m.get(2) === 11)).get(18), 412);
  });

  test('Update, De-register and Send before Register are answered 404', async () => {
    const raw = await rawDevice(setup.tb, 'raw-6');
    await raw.send({ 1: 7, 2: 1 });
    assert.equal((await raw.next((m) => m.get(2) === 1)).get(18), 404);
    await raw.send({ 1: 8, 2: 2 });
    assert.equal((await raw.next((m) => m.get(2) === 2)).get(18), 404);
    await raw.send({ 1: 24, 2: 3, 19: 110, 7: Buffer.from('[]') });
    assert.equal((await raw.next((m) => m.get(2) === 3)).get(18), 404);
  });

  test("a device's messages are handled in their order (MQTT 5.0 §4.6): Register, Update and Send sent at once", async () => {
    const raw = await rawDevice(setup.tb, 'raw-12');
    await Promise.all([
      raw.send(registerFields(1)),
      raw.send({ 1: 7, 2: 2, 8: 600 }),
      raw.send({ 1: 24, 2: 3, 19: 110, 7: Buffer.from('[{"n":"/3303/0/5700","v":1}]') }),
    ]);
    assert.equal((await raw.next((m) => m.get(2) === 1)).get(18), 201);
    assert.equal((await raw.next((m) => m.get(2) === 2)).get(18), 204);
    assert.equal((await raw.next((m) => m.get(2) === 3)).get(18), 204);
    assert.equal((await setup.server.getRegistration('raw-12'))?.lifetime, 600);
  });

  test('a message larger than maxMessageBytes is answered 413', async () => {
    const raw = await rawDevice(setup.tb, 'raw-7');
    await raw.send(registerFields(1, { 7: Buffer.alloc(4096, 0x20) }));
    const answer = await raw.next();
    assert.equal(answer.get(18), 413);
  });

  test('another device endpoint is refused: PUBACK 0x87 and 403 on its own topic', async () => {
    const raw = await rawDevice(setup.tb, 'raw-8');
    await assert.rejects(
      raw.mqtt.publishAsync('devices/raw-1/lwm2m/rd/raw-1', cbor(registerFields(3)), { qos: 1 }),
    );
    const told = await raw.next((m) => m.get(2) === 3);
    assert.equal(told.get(18), 403);
    assert.equal(await setup.server.getRegistration('raw-8'), undefined);
  });

  test('another topic under devices/{id}/lwm2m/ is refused with 0x90 Topic Name invalid', async () => {
    const raw = await rawDevice(setup.tb, 'raw-9');
    await assert.rejects(
      raw.mqtt.publishAsync('devices/raw-9/lwm2m/dp', cbor(registerFields(1)), { qos: 1 }),
      /144|Topic Name invalid|0x90/i,
    );
    // Other topics of the device are not the convention's: routed as usual.
    await raw.mqtt.publishAsync('devices/raw-9/telemetry', Buffer.from('1'), { qos: 1 });
  });

  test('an answer to no request is dropped; the device is still served afterwards', async () => {
    const raw = await rawDevice(setup.tb, 'raw-10');
    await registerRaw(setup, raw);
    await raw.send({ 18: 205, 2: 123456, 19: 110, 7: Buffer.from('[]') });
    const reading = setup.server.read('raw-10', { path: '/3/0/0' });
    const request = await raw.next((m) => m.get(1) === 9);
    await raw.send({ 18: 205, 2: request.get(2), 19: 0, 7: Buffer.from('Acme') });
    assert.equal(((await reading).content as Lwm2mSingleResource).value.value, 'Acme');
  });

  test('an answer that does not decode fails the request with LWM2M_ERR_BAD_PAYLOAD', async () => {
    const raw = await rawDevice(setup.tb, 'raw-11');
    await registerRaw(setup, raw);
    const failed = assert.rejects(
      setup.server.read('raw-11', { path: '/3303/0/5700' }),
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_BAD_PAYLOAD',
    );
    const request = await raw.next((m) => m.get(1) === 9);
    await raw.send({ 18: 205, 2: request.get(2), 19: 110, 7: Buffer.from('[{"n":') });
    await failed;
  });
});
