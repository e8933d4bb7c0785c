import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeldTransport } from '../../src/transport/held.js';
import { devicePeer, FakeTransport, otherPeer } from '../coap/fake-transport.js';

const bytes = (n: number) => Buffer.from([n]);

describe('HeldTransport: what arrives before the server is ready waits for it', () => {
  it('holds datagrams until release, then hands them over in arrival order with their peers', () => {
    const inner = new FakeTransport();
    const held = new HeldTransport(inner, { limit: 10 });
    const got: string[] = [];
    held.onReceive((data, peer) => got.push(`${peer.key}:${data[0]}`));
    inner.deliver(devicePeer, bytes(1));
    inner.deliver(otherPeer, bytes(2));
    assert.deepEqual(got, [], 'nothing before release');
    assert.equal(held.holding, true);
    assert.equal(held.held, 2);
    assert.equal(held.release(), 2);
    assert.deepEqual(got, [`${devicePeer.key}:1`, `${otherPeer.key}:2`]);
    inner.deliver(devicePeer, bytes(3));
    assert.deepEqual(got.at(-1), `${devicePeer.key}:3`, 'straight through after release');
    assert.equal(held.holding, false);
    assert.equal(held.release(), 0, 'a second release hands nothing over');
  });

  it('drops and counts what arrives past the limit, as a full socket buffer would', () => {
    const inner = new FakeTransport();
    const held = new HeldTransport(inner, { limit: 2 });
    const got: number[] = [];
    held.onReceive((data) => got.push(data[0]!));
    for (let i = 1; i <= 5; i++) inner.deliver(devicePeer, bytes(i));
    assert.equal(held.dropped, 3);
    held.release();
    assert.deepEqual(got, [1, 2]);
  });

  it('sends while holding, and a receiver set after release gets datagrams directly', () => {
    const inner = new FakeTransport();
    const held = new HeldTransport(inner, { limit: 2 });
    held.send(devicePeer, bytes(9));
    assert.equal(inner.sent.length, 1);
    held.release();
    const got: number[] = [];
    held.onReceive((data) => got.push(data[0]!));
    inner.deliver(devicePeer, bytes(4));
    assert.deepEqual(got, [4]);
  });
});
