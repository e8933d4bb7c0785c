import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import pino from 'pino';
import { Code } from '../../src/coap/code.js';
import { decodeMessage, encodeMessage, MessageType } from '../../src/coap/message.js';
import { PskCache } from '../../src/hub/psk-cache.js';
import { CoapService } from '../../src/server/coap-service.js';
import { systemClock } from '../../src/util/clock.js';
import { testConfig } from '../helpers/tandem.js';
import { until } from '../sim/helpers.js';

test('a CoAP listener answers nothing between its bind and release(), then answers what came meanwhile (RFC 7252 §4.2: the CON is not lost)', async (t) => {
  const off = { port: 'off' as const };
  const config = testConfig(t, {
    listeners: { coaps: off, bootstrap: off, bootstrapDtls: off },
  });
  const coap = new CoapService({
    config,
    logger: pino({ level: 'silent' }),
    clock: systemClock,
    psk: new PskCache(),
  });
  await coap.start(() => '127.0.0.1');
  t.after(() => coap.stop());
  const socket = createSocket('udp4');
  t.after(() => socket.close());
  const answers: ReturnType<typeof decodeMessage>[] = [];
  socket.on('message', (data) => answers.push(decodeMessage(data)));
  const request = encodeMessage({
    type: MessageType.Con,
    code: Code.Get,
    messageId: 0x1234,
    token: Buffer.from([7]),
    options: [{ number: 11, value: Buffer.from('nothing-here') }],
    payload: Buffer.alloc(0),
  });
  socket.send(request, coap.listeners.get('coap')!.port, '127.0.0.1');
  await until('the request to be held', () => coap.held === 1);
  assert.equal(answers.length, 0, 'held: not answered yet');
  assert.deepEqual(coap.release(), { held: 1, dropped: 0 });
  await until('the answer', () => answers.length === 1);
  const answer = answers[0]!;
  assert.ok(answer.ok);
  assert.equal(answer.message.code, Code.NotFound);
  assert.equal(answer.message.messageId, 0x1234);
});
