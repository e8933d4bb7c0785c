/**
 * How the server takes the answers of a hand-driven device: codes the specification does not
 * allow, payloads that do not decode, RST, timestamped notifications, and hostile requests.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import { type CoapMessage, emptyMessage, MessageType } from '../../../src/coap/message.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import type { Lwm2mSingleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mError, type NotificationEvent } from '../../../src/lwm2m/server/index.js';
import { nextEvent, opt, RawDevice, startServer } from './helpers.js';

const TOKEN = Buffer.from('0102', 'hex');

function registerMessage(
  mid: number,
  ep: string,
  version = '1.1',
  links = '</3/0>,</3303/0>',
): CoapMessage {
  return {
    type: MessageType.Con,
    code: Code.Post,
    messageId: mid,
    token: TOKEN,
    options: [
      opt.uriPath('rd'),
      opt.contentFormat(ContentFormat.LINK),
      opt.uriQuery(`ep=${ep}`),
      opt.uriQuery(`lwm2m=${version}`),
    ],
    payload: Buffer.from(links),
  };
}

function ack(
  request: CoapMessage,
  code: number,
  payload = '',
  format?: number,
  observe?: number,
): CoapMessage {
  return {
    type: MessageType.Ack,
    code,
    messageId: request.messageId,
    token: request.token,
    options: [
      ...(observe === undefined ? [] : [opt.observe(observe)]),
      ...(format === undefined ? [] : [opt.contentFormat(format)]),
    ],
    payload: Buffer.from(payload),
  };
}

describe('answers of a device (LwM2M 1.0 §8.2.4 Table 25)', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let device: RawDevice;
  beforeEach(async () => {
    s = await startServer();
    device = await RawDevice.open(s.port);
    device.send(registerMessage(1, 'raw'));
    assert.equal((await device.next()).code, Code.Created);
  });
  afterEach(async () => {
    await device.close();
    await s.close();
  });

  test('refuses an answer code the specification does not allow for the operation (LwM2M 1.0 §8.2.4 Table 25)', async () => {
    const read = s.server.read('raw', { path: '/3/0/0' });
    device.send(ack(await device.next(), Code.Changed));
    await assert.rejects(
      read,
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_INVALID_RESPONSE',
    );
    const del = s.server.delete('raw', { path: '/3303/0' });
    device.send(ack(await device.next(), Code.Content));
    await assert.rejects(
      del,
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_INVALID_RESPONSE',
    );
  });

  test('passes on error codes with their diagnostic payload (RFC 7252 §5.5.2)', async () => {
    const read = s.server.read('raw', { path: '/3/0/0' });
    device.send(ack(await device.next(), Code.NotFound, 'no such resource'));
    const r = await read;
    assert.equal(r.code, Code.NotFound);
    assert.equal(r.isSuccess, false);
    assert.equal(r.codeText, '4.04');
    assert.equal(r.errorMessage, 'no such resource');
  });

  test('fails with LWM2M_ERR_BAD_PAYLOAD when a 2.05 does not decode with the model', async () => {
    const read = s.server.read('raw', { path: '/3/0' });
    device.send(ack(await device.next(), Code.Content, '\xc8\x00\x20', ContentFormat.TLV));
    await assert.rejects(
      read,
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_BAD_PAYLOAD',
    );
  });

  test('fails with LWM2M_ERR_RESET when the device answers with RST (RFC 7252 §4.2)', async () => {
    const read = s.server.read('raw', { path: '/3/0/0' });
    const request = await device.next();
    device.send(emptyMessage(MessageType.Rst, request.messageId));
    await assert.rejects(
      read,
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_RESET',
    );
  });

  test('reads a time series from a SenML notification, the newest value as content (LwM2M-TS-Core 1.1 §7.4.4)', async () => {
    const observing = s.server.observe('raw', {
      path: '/3303/0/5700',
      format: ContentFormat.SENML_JSON,
    });
    const request = await device.next();
    device.send(
      ack(request, Code.Content, '[{"bn":"/3303/0/5700","v":20}]', ContentFormat.SENML_JSON, 1),
    );
    assert.equal((await observing).code, Code.Content);
    const notified = nextEvent<NotificationEvent>(s.server, 'notification');
    device.send({
      type: MessageType.Non,
      code: Code.Content,
      messageId: 0x99,
      token: request.token,
      options: [opt.observe(2), opt.contentFormat(ContentFormat.SENML_JSON)],
      payload: Buffer.from('[{"bn":"/3303/0/5700","bt":1700000000,"v":20.5},{"t":10,"v":21.5}]'),
    });
    const event = await notified;
    assert.deepEqual(
      event.timestamped?.map((t) => [t.time, (t.node as Lwm2mSingleResource).value.value]),
      [
        [1700000000, 20.5],
        [1700000010, 21.5],
      ],
    );
    assert.equal((event.content as Lwm2mSingleResource).value.value, 21.5);
  });

  test('reports a notification that does not decode, and the observation goes on', async () => {
    const observing = s.server.observe('raw', { path: '/3303/0/5700', format: ContentFormat.TEXT });
    const request = await device.next();
    device.send(ack(request, Code.Content, '20', ContentFormat.TEXT, 1));
    await observing;
    const bad = nextEvent<NotificationEvent>(s.server, 'notification');
    device.send({
      ...ack(request, Code.Content, 'warm', ContentFormat.TEXT, 2),
      type: MessageType.Non,
      messageId: 0x200,
    });
    const event = await bad;
    assert.ok(event.error instanceof Lwm2mError);
    assert.equal(s.server.observations('raw').length, 1);
    const good = nextEvent<NotificationEvent>(s.server, 'notification');
    device.send({
      ...ack(request, Code.Content, '22', ContentFormat.TEXT, 3),
      type: MessageType.Non,
      messageId: 0x201,
    });
    assert.equal(((await good).content as Lwm2mSingleResource).value.value, 22);
  });
});

describe('hostile registration requests (DESIGN: every input is hostile until parsed)', () => {
  test('answers garbage object links with 4.00, an oversized name with 4.02, and stays up', async () => {
    const s = await startServer();
    const device = await RawDevice.open(s.port);
    const bad = [
      registerMessage(10, 'x', '1.1', '\u0000\u0001\u0002'),
      registerMessage(11, 'x', '1.1', `<${'/1'.repeat(3000)}>`),
      registerMessage(13, 'x', '1.1', `${'</3/0>,'.repeat(5000)}</3/0>`),
      registerMessage(14, 'x', '1.1', '</3/0>;ver=1.1;ver=1.2,</65536/0>'),
    ];
    for (const m of bad) {
      device.send(m);
      assert.equal((await device.next()).code, Code.BadRequest);
    }
    // RFC 7252 §5.10: a Uri-Query longer than 255 bytes is a bad option (4.02) for the CoAP layer.
    device.send(registerMessage(15, 'x'.repeat(256)));
    assert.equal((await device.next()).code, Code.BadOption);
    device.send(registerMessage(20, 'fine'));
    assert.equal((await device.next()).code, Code.Created);
    assert.equal(await s.server.store.size(), 1);
    await device.close();
    await s.close();
  });
});
