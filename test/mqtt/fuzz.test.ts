import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import { connectV5, startBroker } from './helpers.js';

/** Deterministic xorshift so a failure replays. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

test('survives seeded random and mutated packets after CONNECT; each bad client costs only itself', async () => {
  const tb = await startBroker({ limits: { maxPacketSize: 4096 } });
  const random = rng(20261127);
  const valid = [
    mqttPacket.generate(
      { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'f/#', qos: 2 }] },
      { protocolVersion: 5 },
    ),
    mqttPacket.generate(
      {
        cmd: 'publish',
        topic: 'f/x',
        payload: Buffer.from('p'),
        qos: 2,
        messageId: 2,
        retain: true,
        dup: false,
        properties: { userProperties: { a: 'b' } },
      },
      { protocolVersion: 5 },
    ),
    mqttPacket.generate(
      { cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['f/#'] },
      { protocolVersion: 5 },
    ),
    mqttPacket.generate({ cmd: 'pubrel', messageId: 2 }, { protocolVersion: 5 }),
  ];
  try {
    for (let round = 0; round < 120; round++) {
      const raw = await tb.raw();
      raw.write(connectV5([0], `fuzz${round}`));
      const bytes: number[] = [];
      for (let k = 0; k < 4; k++) {
        const base = valid[Math.floor(random() * valid.length)]!;
        const mutated = Buffer.from(base);
        // Flip a few bytes (headers, lengths, properties, strings all get hit over the rounds).
        const flips = 1 + Math.floor(random() * 3);
        for (let f = 0; f < flips; f++)
          mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
        bytes.push(...mutated);
      }
      if (round % 10 === 0) for (let k = 0; k < 64; k++) bytes.push(Math.floor(random() * 256));
      raw.write(Buffer.from(bytes));
      raw.send({ cmd: 'pingreq' });
      // A mutated length may leave the broker waiting for the rest of a frame; ending our side
      // makes it close in every case. Whatever it answered before, it must not crash.
      raw.socket.end();
      await raw.waitClosed();
    }
    const good = await tb.client({ clientId: 'after-fuzz' });
    await good.subscribeAsync('ok', { qos: 1 });
    await good.publishAsync('ok', 'still serving', { qos: 1 });
    assert.equal(good.connected, true);
  } finally {
    await tb.close();
  }
});
