/**
 * The Registration interface driven by hand-written CoAP datagrams over UDP (no client library
 * of ours in the loop), with byte-exact answers where the bytes are fixed.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import { type CoapMessage, MessageType } from '../../../src/coap/message.js';
import { getStringOptions, getUintOption, OptionNumber } from '../../../src/coap/option.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import type {
  Lwm2mObjectInstance,
  Lwm2mSingleResource,
} from '../../../src/lwm2m/node/lwm2m-node.js';
import {
  Lwm2mError,
  type NotificationEvent,
  type RegisteredEvent,
  type SendEvent,
  type UpdatedEvent,
} from '../../../src/lwm2m/server/index.js';
import { hex } from '../codec/vectors.js';
import { nextEvent, opt, RawDevice, settle, startServer } from './helpers.js';

const TOKEN = Buffer.from('deadbeef', 'hex');

function register(
  mid: number,
  query: string[],
  links: string,
  extra: CoapMessage['options'] = [],
): CoapMessage {
  return {
    type: MessageType.Con,
    code: Code.Post,
    messageId: mid,
    token: TOKEN,
    options: [
      opt.uriPath('rd'),
      opt.contentFormat(ContentFormat.LINK),
      ...query.map(opt.uriQuery),
      ...extra,
    ].sort((a, b) => a.number - b.number),
    payload: Buffer.from(links),
  };
}

function toRd(
  mid: number,
  code: number,
  id: string,
  query: string[] = [],
  payload = '',
): CoapMessage {
  return {
    type: MessageType.Con,
    code,
    messageId: mid,
    token: TOKEN,
    options: [opt.uriPath('rd'), opt.uriPath(id), ...query.map(opt.uriQuery)],
    payload: Buffer.from(payload),
  };
}

/** Answers the server's next request with a piggy-backed response. */
async function answer(
  device: RawDevice,
  code: number,
  payload: Buffer = Buffer.alloc(0),
  format?: number,
) {
  const request = await device.next();
  device.send({
    type: MessageType.Ack,
    code,
    messageId: request.messageId,
    token: request.token,
    options: format === undefined ? [] : [opt.contentFormat(format)],
    payload,
  });
  return request;
}

// LwM2M-TS-Core 1.0 §6.4.3.1: the Device object instance of the Read example, as resource TLVs.
const DEVICE_TLV = hex(`
  C8 00 14 4F70656E204D6F62696C6520416C6C69616E6365   | 0 Manufacturer "Open Mobile Alliance"
  C8 01 16 4C69676874776569676874204D324D20436C69656E74 | 1 Model Number "Lightweight M2M Client"
  C8 02 09 333435303030313233                         | 2 Serial Number "345000123"
  C3 03 312E30                                        | 3 Firmware Version "1.0"
  86 06 4100 01 4101 05                               | 6 Available Power Sources [1, 5]
  88 07 08 4200 0ED8 4201 1388                        | 7 Power Source Voltage [3800, 5000]
  87 08 4100 7D 4201 0384                             | 8 Power Source Current [125, 900]
  C1 09 64                                            | 9 Battery Level 100
  C1 0A 0F                                            | 10 Memory Free 15
  83 0B 4100 00                                       | 11 Error Code [0]
  C4 0D 5182428F                                      | 13 Current Time 1367491215
  C6 0E 2B30323A3030                                  | 14 UTC Offset "+02:00"
  C1 10 55                                            | 16 Binding "U"
`);

describe('Registration interface with raw datagrams (LwM2M-TS-Core 1.1 §6.2)', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let device: RawDevice;
  let ids: number;
  beforeEach(async () => {
    ids = 0;
    s = await startServer({ generateId: () => `r${++ids}` });
    device = await RawDevice.open(s.port);
  });
  afterEach(async () => {
    await device.close();
    await s.close();
  });

  test('registers with a literal link-format payload and answers 2.01 with Location-Path rd/{id} (LwM2M 1.0 §8.2.3 Table 24)', async () => {
    const registered = nextEvent<RegisteredEvent>(s.server, 'registered');
    device.send(
      register(
        0x1234,
        ['ep=raw-1', 'lt=60', 'lwm2m=1.1', 'b=U'],
        '</>;rt="oma.lwm2m";ct=11542,</1/0>,</3/0>,</3303>;ver=1.1,</3303/0>',
      ),
    );
    const bytes = await device.nextBytes();
    assert.deepEqual(
      bytes,
      hex(`
        64 41 12 34  | ACK, TKL 4, 2.01 Created, MID 0x1234
        DEADBEEF     | token
        82 7264      | Location-Path (8) "rd"
        02 7231      | Location-Path "r1"
      `),
    );
    const { registration: reg } = await registered;
    assert.equal(reg.id, 'r1');
    assert.equal(reg.endpoint, 'raw-1');
    assert.equal(reg.lwm2mVersion, '1.1');
    assert.equal(reg.lifetime, 60);
    assert.equal(reg.binding, 'U');
    assert.equal(reg.queueMode, false);
    assert.deepEqual(reg.supportedContentFormats, [ContentFormat.TLV]);
    assert.deepEqual(reg.objectVersions, { 3303: '1.1' });
    assert.deepEqual(
      reg.objectLinks.map((l) => l.path),
      ['/1/0', '/3/0', '/3303', '/3303/0'],
    );
    assert.equal(reg.peer.port, device.port);
    assert.equal(reg.expiresAt - reg.registeredAt, 60_000);
  });

  test('rejects a registration without endpoint name with 4.00 (LwM2M-TS-Core 1.1 §6.2.1)', async () => {
    device.send(register(0x2000, ['lt=60'], '</1/0>'));
    const bytes = await device.nextBytes();
    assert.deepEqual(bytes.subarray(0, 8), hex('64 80 20 00 DEADBEEF'));
    assert.equal(await s.server.store.size(), 0);
  });

  test('rejects an LwM2M version the server does not speak with 4.12 (LwM2M-TS-Core 1.1 §6.2.1)', async () => {
    device.send(register(0x2001, ['ep=x', 'lwm2m=2.0'], '</1/0>'));
    const m = await device.next();
    assert.equal(m.code, Code.PreconditionFailed);
  });

  test('rejects malformed registration parameters with 4.00 (LwM2M-TS-Core 1.1 §6.2.1)', async () => {
    const cases: [string[], string][] = [
      [['ep=x', 'lt=soon'], '</1/0>'],
      [['ep=x', 'lt=0'], '</1/0>'],
      [['ep=x', 'b=X'], '</1/0>'],
      [['ep=x', 'lwm2m=1.1', 'b=UU'], '</1/0>'],
      [['ep=x', 'lwm2m=1.0', 'Q'], '</1/0>'],
      [['ep=x', 'ep=y'], '</1/0>'],
      [['ep=x'], ''],
      [['ep=x'], '<1/0'],
      [['ep=x'], '</1/0/2/3/4>'],
      [['ep=x'], '</3/0>;ver=one'],
    ];
    let mid = 0x3000;
    for (const [query, links] of cases) {
      device.send(register(mid++, query, links));
      const m = await device.next();
      assert.equal(m.code, Code.BadRequest, `${query.join('&')} ${links}`);
    }
    assert.equal(await s.server.store.size(), 0);
  });

  test('rejects object links in another content format with 4.00 (LwM2M-TS-Core 1.1 §6.2.1)', async () => {
    const message = register(0x3100, ['ep=x'], '</1/0>');
    device.send({
      ...message,
      options: message.options.map((o) =>
        o.number === OptionNumber.ContentFormat ? opt.contentFormat(0) : o,
      ),
    });
    assert.equal((await device.next()).code, Code.BadRequest);
  });

  test('takes queue mode from b=UQ in 1.0 and from the Q parameter in 1.1 (LwM2M-TS-Core 1.0 §5.3.1.1, 1.1 §6.2.1)', async () => {
    device.send(register(0x4000, ['ep=q10', 'lwm2m=1.0', 'b=UQ'], '</3/0>'));
    assert.equal((await device.next()).code, Code.Created);
    const q10 = (await s.server.getRegistration('q10'))!;
    assert.equal(q10.queueMode, true);
    assert.equal(q10.binding, 'U');
    const other = await RawDevice.open(s.port);
    other.send(register(0x4001, ['ep=q11', 'lwm2m=1.1', 'b=U', 'Q'], '</3/0>'));
    assert.equal((await other.next()).code, Code.Created);
    assert.equal((await s.server.getRegistration('q11'))!.queueMode, true);
    await other.close();
  });

  test('defaults the lifetime to 86400 s and the binding to U (LwM2M-TS-Core 1.1 §6.2.1)', async () => {
    device.send(register(0x4100, ['ep=defaults'], '</3/0>'));
    assert.equal((await device.next()).code, Code.Created);
    const reg = (await s.server.getRegistration('defaults'))!;
    assert.equal(reg.lifetime, 86_400);
    assert.equal(reg.binding, 'U');
    assert.equal(reg.lwm2mVersion, '1.0');
  });

  test('updates lifetime and links, answering 2.04 (LwM2M 1.0 §8.2.3 Table 24)', async () => {
    device.send(register(0x5000, ['ep=upd', 'lt=60'], '</3/0>'));
    await device.next();
    const updated = nextEvent<UpdatedEvent>(s.server, 'updated');
    device.send(toRd(0x5001, Code.Post, 'r1', ['lt=120'], '</3/0>,</3303/0>'));
    assert.deepEqual(await device.nextBytes(), hex('64 44 50 01 DEADBEEF'));
    const event = await updated;
    assert.equal(event.moved, false);
    assert.equal(event.previous.lifetime, 60);
    assert.equal(event.current.lifetime, 120);
    assert.deepEqual(
      event.current.objectLinks.map((l) => l.path),
      ['/3/0', '/3303/0'],
    );
  });

  test('moves the device when an Update comes from a new address (LwM2M-TS-Core 1.1 §6.2.2)', async () => {
    device.send(register(0x5100, ['ep=nat', 'lt=60', 'lwm2m=1.0'], '</3/0>'));
    await device.next();
    const moved = await RawDevice.open(s.port);
    const updated = nextEvent<UpdatedEvent>(s.server, 'updated');
    moved.send(toRd(0x5101, Code.Post, 'r1'));
    assert.equal((await moved.next()).code, Code.Changed);
    const event = await updated;
    assert.equal(event.moved, true);
    assert.equal(event.current.peer.port, moved.port);
    // Requests now go to the new address.
    const read = s.server.read('nat', { path: '/3/0/0' });
    const request = await answer(moved, Code.Content, Buffer.from('ACME'), ContentFormat.TEXT);
    assert.deepEqual(getStringOptions(request.options, OptionNumber.UriPath), ['3', '0', '0']);
    const r = await read;
    assert.equal((r.content as Lwm2mSingleResource).value.value, 'ACME');
    await moved.close();
  });

  test('observes again at the new address when the device moves, under the same observation ID (LwM2M-TS-Core 1.1 §6.2.2, RFC 7641 §3.3.1)', async () => {
    device.send(register(0x5180, ['ep=roam', 'lt=60', 'lwm2m=1.0'], '</3/0>'));
    await device.next();
    const observing = s.server.observe('roam', { path: '/3/0/9', format: ContentFormat.TEXT });
    const first = await device.next();
    device.send({
      type: MessageType.Ack,
      code: Code.Content,
      messageId: first.messageId,
      token: first.token,
      options: [opt.observe(2), opt.contentFormat(ContentFormat.TEXT)],
      payload: Buffer.from('90'),
    });
    const o = await observing;
    const moved = await RawDevice.open(s.port);
    moved.send(toRd(0x5181, Code.Post, 'r1'));
    assert.equal((await moved.next()).code, Code.Changed);
    const again = await moved.next();
    assert.equal(getUintOption(again.options, OptionNumber.Observe), 0);
    assert.deepEqual(getStringOptions(again.options, OptionNumber.UriPath), ['3', '0', '9']);
    const notified = nextEvent<NotificationEvent>(s.server, 'notification');
    moved.send({
      type: MessageType.Ack,
      code: Code.Content,
      messageId: again.messageId,
      token: again.token,
      options: [opt.observe(7), opt.contentFormat(ContentFormat.TEXT)],
      payload: Buffer.from('85'),
    });
    const event = await notified;
    assert.equal(event.observation.id, o.observation!.id);
    assert.equal((event.content as Lwm2mSingleResource).value.value, 85);
    const later = nextEvent<NotificationEvent>(s.server, 'notification');
    moved.send({
      type: MessageType.Non,
      code: Code.Content,
      messageId: 0x5182,
      token: again.token,
      options: [opt.observe(8), opt.contentFormat(ContentFormat.TEXT)],
      payload: Buffer.from('80'),
    });
    assert.equal(((await later).content as Lwm2mSingleResource).value.value, 80);
    assert.equal(s.server.observations('roam').length, 1);
    await moved.close();
  });

  test('answers 4.04 to an Update or De-register of an unknown registration (LwM2M 1.0 §8.2.3 Table 24)', async () => {
    device.send(toRd(0x5200, Code.Post, 'nope'));
    assert.equal((await device.next()).code, Code.NotFound);
    device.send(toRd(0x5201, Code.Delete, 'nope'));
    assert.equal((await device.next()).code, Code.NotFound);
  });

  test('answers 4.05 to other methods on the registration resources (RFC 7252 §5.9.2.6)', async () => {
    device.send({ ...toRd(0x5300, Code.Get, 'r1'), options: [opt.uriPath('rd')] });
    assert.equal((await device.next()).code, Code.MethodNotAllowed);
    device.send(toRd(0x5301, Code.Put, 'r1'));
    assert.equal((await device.next()).code, Code.MethodNotAllowed);
  });

  test('de-registers with 2.02 and forgets the device (LwM2M 1.0 §8.2.3 Table 24)', async () => {
    device.send(register(0x5400, ['ep=bye'], '</3/0>'));
    await device.next();
    const gone = nextEvent(s.server, 'deregistered');
    device.send(toRd(0x5401, Code.Delete, 'r1'));
    assert.deepEqual(await device.nextBytes(), hex('64 42 54 01 DEADBEEF'));
    await gone;
    assert.equal(await s.server.getRegistration('bye'), undefined);
    device.send(toRd(0x5402, Code.Delete, 'r1'));
    assert.equal((await device.next()).code, Code.NotFound);
  });

  test('replaces the registration of a known endpoint name on a new Register (LwM2M-TS-Core 1.1 §6.2.1)', async () => {
    device.send(register(0x5500, ['ep=again'], '</3/0>'));
    await device.next();
    const registered = nextEvent<RegisteredEvent>(s.server, 'registered');
    device.send(register(0x5501, ['ep=again'], '</3/0>,</5/0>'));
    const m = await device.next();
    assert.deepEqual(getStringOptions(m.options, OptionNumber.LocationPath), ['rd', 'r2']);
    const event = await registered;
    assert.equal(event.replaced?.id, 'r1');
    assert.equal(await s.server.store.size(), 1);
    device.send(toRd(0x5502, Code.Post, 'r1'));
    assert.equal((await device.next()).code, Code.NotFound);
  });

  test('draws a new registration ID when the generated one is taken (LwM2M-TS-Core 1.1 §6.2.1)', async () => {
    await s.close();
    const drawn = ['same', 'same', 'other'];
    s = await startServer({ generateId: () => drawn.shift()! });
    await device.close();
    device = await RawDevice.open(s.port);
    device.send(register(0x5600, ['ep=a'], '</3/0>'));
    await device.next();
    device.send(register(0x5601, ['ep=b'], '</3/0>'));
    const m = await device.next();
    assert.deepEqual(getStringOptions(m.options, OptionNumber.LocationPath), ['rd', 'other']);
  });

  test('uses TLV with a 1.0 device and refuses Read-Composite to it without sending (LwM2M-TS-Core 1.1 §6.2.1, §6.3.8)', async () => {
    device.send(register(0x6000, ['ep=old', 'lwm2m=1.0'], '</3/0>'));
    await device.next();
    const sent = s.endpoint.stats.requestsOut;
    await assert.rejects(
      s.server.readComposite('old', { paths: ['/3/0/0'] }),
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_NOT_SUPPORTED',
    );
    await assert.rejects(
      s.server.writeAttributes('old', { path: '/3/0/9', attributes: { epmin: 5 } }),
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_INVALID_REQUEST',
    );
    assert.equal(s.endpoint.stats.requestsOut, sent);
    const read = s.server.read('old', { path: '/3/0' });
    const request = await answer(device, Code.Content, DEVICE_TLV, ContentFormat.TLV);
    assert.equal(getUintOption(request.options, OptionNumber.Accept), ContentFormat.TLV);
    const inst = (await read).content as Lwm2mObjectInstance;
    assert.equal(
      (inst.resources.get(0) as Lwm2mSingleResource).value.value,
      'Open Mobile Alliance',
    );
  });

  test('asks a 1.1 device for SenML CBOR when announced, and for an operator-chosen format (LwM2M-TS-Core 1.1 §7.3)', async () => {
    device.send(register(0x6100, ['ep=new', 'lwm2m=1.1'], '</>;ct="60 110 112 11542",</3/0>'));
    await device.next();
    const read = s.server.read('new', { path: '/3/0/0' });
    const req = await answer(device, Code.Content, Buffer.from('ACME'), ContentFormat.TEXT);
    assert.equal(getUintOption(req.options, OptionNumber.Accept), ContentFormat.SENML_CBOR);
    await read;
    await s.server.setContentFormat('new', ContentFormat.SENML_JSON);
    const read2 = s.server.read('new', { path: '/3/0/0' });
    const req2 = await answer(device, Code.Content, Buffer.from('ACME'), ContentFormat.TEXT);
    assert.equal(getUintOption(req2.options, OptionNumber.Accept), ContentFormat.SENML_JSON);
    await read2;
  });

  test('asks a 1.1 device that announced no formats for TLV (LwM2M-TS-Core 1.1 §7.3)', async () => {
    device.send(register(0x6200, ['ep=plain', 'lwm2m=1.1'], '</3/0>'));
    await device.next();
    const reg = (await s.server.getRegistration('plain'))!;
    assert.equal(s.server.deviceContext(reg).format, ContentFormat.TLV);
  });

  test('sends requests under the alternate root path of the device (LwM2M-TS-Core 1.1 §6.2.1.1)', async () => {
    device.send(
      register(0x6300, ['ep=alt'], '</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>,</other/thing>'),
    );
    await device.next();
    const reg = (await s.server.getRegistration('alt'))!;
    assert.equal(reg.rootPath, '/lwm2m');
    assert.deepEqual(
      reg.objectLinks.map((l) => l.path),
      ['/3/0'],
    );
    const read = s.server.read('alt', { path: '/3/0/0' });
    const req = await answer(device, Code.Content, Buffer.from('ACME'), ContentFormat.TEXT);
    assert.deepEqual(getStringOptions(req.options, OptionNumber.UriPath), ['lwm2m', '3', '0', '0']);
    await read;
  });

  test('decodes a TLV notification of the spec example with the model (LwM2M-TS-Core 1.0 §6.4.3.1, RFC 7641 §4.2)', async () => {
    device.send(register(0x7000, ['ep=obs', 'lwm2m=1.0'], '</3/0>'));
    await device.next();
    const observing = s.server.observe('obs', { path: '/3/0' });
    const request = await device.next();
    assert.equal(getUintOption(request.options, OptionNumber.Observe), 0);
    device.send({
      type: MessageType.Ack,
      code: Code.Content,
      messageId: request.messageId,
      token: request.token,
      options: [opt.observe(11), opt.contentFormat(ContentFormat.TLV)],
      payload: DEVICE_TLV,
    });
    const o = await observing;
    assert.equal(o.observation?.id, request.token.toString('hex'));
    const notified = nextEvent<NotificationEvent>(s.server, 'notification');
    // A NON notification with the next sequence number and the spec's payload.
    device.send({
      type: MessageType.Non,
      code: Code.Content,
      messageId: 0x7001,
      token: request.token,
      options: [opt.observe(12), opt.contentFormat(ContentFormat.TLV)],
      payload: DEVICE_TLV,
    });
    const event = await notified;
    const inst = event.content as Lwm2mObjectInstance;
    assert.equal(
      (inst.resources.get(1) as Lwm2mSingleResource).value.value,
      'Lightweight M2M Client',
    );
    assert.equal(
      ((inst.resources.get(13) as Lwm2mSingleResource).value.value as Date).getTime(),
      1367491215_000,
    );
  });

  test('accepts Send from a registered 1.1 device with 2.04, and refuses it otherwise (LwM2M-TS-Core 1.1 §6.4.4)', async () => {
    const dp = (mid: number, format: number, payload: string): CoapMessage => ({
      type: MessageType.Con,
      code: Code.Post,
      messageId: mid,
      token: TOKEN,
      options: [opt.uriPath('dp'), opt.contentFormat(format)],
      payload: Buffer.from(payload),
    });
    const senml = '[{"bn":"/3303/0/","n":"5700","v":21.5}]';
    device.send(dp(0x8000, ContentFormat.SENML_JSON, senml));
    assert.equal((await device.next()).code, Code.NotFound);
    device.send(register(0x8001, ['ep=sender', 'lwm2m=1.1'], '</3303/0>'));
    await device.next();
    const sent = nextEvent<SendEvent>(s.server, 'send');
    device.send(dp(0x8002, ContentFormat.SENML_JSON, senml));
    assert.deepEqual(await device.nextBytes(), hex('64 44 80 02 DEADBEEF'));
    const event = await sent;
    assert.equal(event.values[0]?.path.toString(), '/3303/0/5700');
    assert.equal(event.values[0]?.value?.value, 21.5);
    device.send(dp(0x8003, ContentFormat.TEXT, '21.5'));
    assert.equal((await device.next()).code, Code.UnsupportedContentFormat);
    device.send(dp(0x8004, ContentFormat.SENML_JSON, '[{"bn":'));
    assert.equal((await device.next()).code, Code.BadRequest);
  });

  test('refuses Send from a 1.0 device with 4.05 (LwM2M-TS-Core 1.1 §6.4.4)', async () => {
    device.send(register(0x8100, ['ep=old-sender', 'lwm2m=1.0'], '</3303/0>'));
    await device.next();
    device.send({
      type: MessageType.Con,
      code: Code.Post,
      messageId: 0x8101,
      token: TOKEN,
      options: [opt.uriPath('dp'), opt.contentFormat(ContentFormat.SENML_JSON)],
      payload: Buffer.from('[{"n":"/3303/0/5700","v":1}]'),
    });
    assert.equal((await device.next()).code, Code.MethodNotAllowed);
    await settle();
  });
});
