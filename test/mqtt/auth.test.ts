import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IAuthPacket, IConnackPacket, IDisconnectPacket } from 'mqtt-packet';
import type { EnhancedAuthRequest } from '../../src/mqtt/options.js';
import { startBroker } from './helpers.js';

/** A toy challenge-response: the server asks for "secret" reversed. */
function challengeHook(req: EnhancedAuthRequest) {
  if (req.method !== 'REVERSE') return { result: 'fail', reasonCode: 0x8c } as const;
  if (req.step === 0) return { result: 'continue', data: Buffer.from('terces') } as const;
  return req.data?.toString() === 'secret'
    ? ({ result: 'success', data: Buffer.from('welcome'), context: { role: 'device' } } as const)
    : ({ result: 'fail', reasonCode: 0x87, reasonString: 'wrong answer' } as const);
}

describe('enhanced authentication (AUTH)', () => {
  test('runs a challenge through AUTH 0x18 and ends with CONNACK carrying the method (MQTT 5.0 §4.12)', async () => {
    const tb = await startBroker({ hooks: { enhancedAuth: challengeHook } });
    try {
      const raw = await tb.raw();
      raw.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clean: true,
        clientId: 'ea',
        keepalive: 0,
        properties: { authenticationMethod: 'REVERSE' },
      });
      const challenge = (await raw.next('auth')) as IAuthPacket;
      assert.equal(challenge.reasonCode, 0x18);
      assert.equal(challenge.properties?.authenticationData?.toString(), 'terces');
      raw.send({
        cmd: 'auth',
        reasonCode: 0x18,
        properties: { authenticationMethod: 'REVERSE', authenticationData: Buffer.from('secret') },
      });
      const ack = (await raw.next('connack')) as IConnackPacket;
      assert.equal(ack.reasonCode, 0);
      assert.equal(ack.properties?.authenticationMethod, 'REVERSE');
      assert.equal(ack.properties?.authenticationData?.toString(), 'welcome');

      // Re-authentication [MQTT-4.12.1-1]: AUTH 0x19 with the same method.
      raw.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'REVERSE' } });
      assert.equal(((await raw.next('auth')) as IAuthPacket).reasonCode, 0x18);
      raw.send({
        cmd: 'auth',
        reasonCode: 0x18,
        properties: { authenticationMethod: 'REVERSE', authenticationData: Buffer.from('secret') },
      });
      assert.equal(((await raw.next('auth')) as IAuthPacket).reasonCode, 0x00);
    } finally {
      await tb.close();
    }
  });

  test('refuses a failed challenge with the hook reason code (MQTT 5.0 §4.12)', async () => {
    const tb = await startBroker({ hooks: { enhancedAuth: challengeHook } });
    try {
      const raw = await tb.raw();
      raw.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clean: true,
        clientId: 'ea2',
        keepalive: 0,
        properties: { authenticationMethod: 'REVERSE' },
      });
      await raw.next('auth');
      raw.send({
        cmd: 'auth',
        reasonCode: 0x18,
        properties: { authenticationMethod: 'REVERSE', authenticationData: Buffer.from('nope') },
      });
      const ack = (await raw.next('connack')) as IConnackPacket;
      assert.equal(ack.reasonCode, 0x87);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('refuses an authentication method without a hook with 0x8C (MQTT 5.0 §3.1.2.11.9)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      const ack = (await raw.connect({
        properties: { authenticationMethod: 'X' },
      })) as IConnackPacket;
      assert.equal(ack.reasonCode, 0x8c);
    } finally {
      await tb.close();
    }
  });

  test('treats a non-AUTH packet during authentication as a protocol error (MQTT 5.0 §4.12)', async () => {
    const tb = await startBroker({ hooks: { enhancedAuth: challengeHook } });
    try {
      const raw = await tb.raw();
      raw.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clean: true,
        clientId: 'ea3',
        keepalive: 0,
        properties: { authenticationMethod: 'REVERSE' },
      });
      await raw.next('auth');
      raw.send({ cmd: 'pingreq' });
      assert.equal(((await raw.next('connack')) as IConnackPacket).reasonCode, 0x82);
    } finally {
      await tb.close();
    }
  });

  test('rejects AUTH from a client that did not use enhanced authentication [MQTT-4.12.1-1]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'X' } });
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x82);
    } finally {
      await tb.close();
    }
  });

  test('rejects an AUTH packet from an MQTT 3.1.1 client as malformed (MQTT 3.1.1 §2.2.1)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect({}, 4);
      raw.write([0xf0, 0x00]);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });
});

describe('request / response', () => {
  test('returns Response Information when requested (MQTT 5.0 §3.1.2.11.7)', async () => {
    const tb = await startBroker({ responseInformation: (c) => `reply/${c.clientId}` });
    try {
      const raw = await tb.raw();
      const ack = (await raw.connect({
        clientId: 'rr',
        properties: { requestResponseInformation: true },
      })) as IConnackPacket;
      assert.equal(ack.properties?.responseInformation, 'reply/rr');
      const plain = await tb.raw();
      const ack2 = (await plain.connect({ clientId: 'rr2' })) as IConnackPacket;
      assert.equal(ack2.properties?.responseInformation, undefined);
    } finally {
      await tb.close();
    }
  });
});
