import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Registration,
  RegistrationConflictError,
  type RegistrationStore,
  type StoredObservation,
} from '../../../src/lwm2m/server/index.js';

/** A registration with every field set, for store tests. */
export function sampleRegistration(overrides: Partial<Registration> = {}): Registration {
  return {
    id: 'id-1',
    endpoint: 'ep-1',
    lwm2mVersion: '1.1',
    lifetime: 60,
    binding: 'U',
    queueMode: false,
    smsNumber: '+33600000000',
    peer: { key: 'udp:192.0.2.1:5683', address: '192.0.2.1', port: 5683 },
    rootPath: '/',
    objectLinks: [{ path: '/3/0' }, { path: '/3303', version: '1.1' }],
    objectVersions: { 3303: '1.1' },
    supportedContentFormats: [112, 11542],
    additionalParams: { apn: 'iot' },
    registeredAt: 1_000,
    lastUpdateAt: 1_000,
    expiresAt: 61_000,
    ...overrides,
  };
}

/** An observation of `sampleRegistration()`'s registration, for store tests. */
export function sampleObservation(overrides: Partial<StoredObservation> = {}): StoredObservation {
  return {
    id: '0102030405060708',
    token: '0102030405060708',
    registrationId: 'id-1',
    endpoint: 'ep-1',
    paths: ['/3303/0/5700'],
    composite: false,
    format: 11542,
    createdAt: 2_000,
    ...overrides,
  };
}

/**
 * What every RegistrationStore backend owes the server (memory and SQLite now, Redis later).
 * Each backend's test file runs this suite with a factory for a fresh, empty store and a
 * function that releases it.
 */
export function registrationStoreContract(
  backend: string,
  open: () => Promise<{ store: RegistrationStore; close?: () => Promise<void> }>,
): void {
  describe(`${backend} registration store contract`, () => {
    const withStore = (name: string, fn: (store: RegistrationStore) => Promise<void>) =>
      test(name, async () => {
        const { store, close } = await open();
        try {
          await fn(store);
        } finally {
          await close?.();
        }
      });

    withStore(
      'adds, finds by ID and endpoint name, lists and removes a registration',
      async (store) => {
        const reg = sampleRegistration();
        assert.equal(await store.add(reg), undefined);
        assert.deepEqual(await store.getById('id-1'), reg);
        assert.deepEqual(await store.getByEndpoint('ep-1'), reg);
        assert.deepEqual(await store.all(), [reg]);
        assert.equal(await store.size(), 1);
        assert.deepEqual(await store.remove('id-1'), reg);
        assert.equal(await store.remove('id-1'), undefined);
        assert.equal(await store.getByEndpoint('ep-1'), undefined);
        assert.equal(await store.size(), 0);
      },
    );

    withStore(
      'replaces the registration of the same endpoint name (LwM2M-TS-Core 1.1 §6.2.1)',
      async (store) => {
        const first = sampleRegistration();
        await store.add(first);
        const second = sampleRegistration({ id: 'id-2', lifetime: 120 });
        assert.deepEqual(await store.add(second), first);
        assert.equal(await store.getById('id-1'), undefined);
        assert.deepEqual(await store.getByEndpoint('ep-1'), second);
        assert.equal(await store.size(), 1);
      },
    );

    withStore(
      'refuses a registration ID held by another endpoint (LwM2M-TS-Core 1.1 §6.2.1)',
      async (store) => {
        await store.add(sampleRegistration());
        await assert.rejects(
          store.add(sampleRegistration({ endpoint: 'ep-2' })),
          (e: unknown) => e instanceof RegistrationConflictError && e.registrationId === 'id-1',
        );
        assert.equal((await store.getById('id-1'))?.endpoint, 'ep-1');
      },
    );

    withStore('updates fields and returns the registration before and after', async (store) => {
      const reg = sampleRegistration();
      await store.add(reg);
      const peer = { key: 'udp:192.0.2.9:6000', address: '192.0.2.9', port: 6000 };
      const result = await store.update('id-1', { lifetime: 300, peer, expiresAt: 400_000 });
      assert.deepEqual(result?.previous, reg);
      assert.equal(result?.current.lifetime, 300);
      assert.deepEqual(result?.current.peer, peer);
      assert.deepEqual(await store.getById('id-1'), result?.current);
      assert.equal(await store.update('missing', { lifetime: 1 }), undefined);
    });

    withStore(
      "keeps the peer's DTLS identity, the chosen content format and absent optional fields",
      async (store) => {
        const identities = [
          { kind: 'psk', identity: 'dev-psk' },
          { kind: 'rpk', publicKey: Buffer.from('3059301306072a8648ce3d0201', 'hex') },
          { kind: 'x509', subject: 'CN=dev-x509', certificate: Buffer.from([0x30, 0x82, 1, 2]) },
        ] as const;
        for (const [i, identity] of identities.entries()) {
          const { smsNumber: _, ...withoutSms } = sampleRegistration();
          const reg: Registration = {
            ...withoutSms,
            id: `id-${identity.kind}`,
            endpoint: `ep-${i}`,
            peer: { key: `dtls:${i}`, address: '192.0.2.2', port: 5684, identity },
            preferredContentFormat: 11544,
          };
          await store.add(reg);
          assert.deepEqual(await store.getById(reg.id), reg);
        }
        const cleared = await store.update('id-psk', { preferredContentFormat: undefined });
        assert.equal(cleared?.current.preferredContentFormat, undefined);
        assert.equal((await store.getById('id-psk'))?.preferredContentFormat, undefined);
        assert.equal(await store.size(), 3);
      },
    );

    withStore(
      'removes an expired registration once, and not one that is still alive',
      async (store) => {
        await store.add(sampleRegistration({ expiresAt: 10_000 }));
        await store.add(sampleRegistration({ id: 'id-2', endpoint: 'ep-2', expiresAt: 20_000 }));
        assert.deepEqual(
          (await store.expired(15_000)).map((r) => r.id),
          ['id-1'],
        );
        assert.equal(await store.removeIfExpired('id-2', 15_000), undefined);
        assert.equal((await store.removeIfExpired('id-1', 15_000))?.id, 'id-1');
        assert.equal(await store.removeIfExpired('id-1', 15_000), undefined);
        assert.equal(await store.size(), 1);
      },
    );

    withStore('keeps, replaces, lists and removes observations by registration', async (store) => {
      await store.add(sampleRegistration());
      await store.add(sampleRegistration({ id: 'id-2', endpoint: 'ep-2' }));
      const single = sampleObservation();
      const composite = sampleObservation({
        id: 'a1a2',
        token: 'a1a2',
        paths: ['/3303/0/5700', '/3/0/0'],
        composite: true,
        format: 112,
      });
      const other = sampleObservation({ id: 'b1', token: 'b1', registrationId: 'id-2' });
      for (const o of [single, composite, other]) assert.equal(await store.addObservation(o), true);
      const ids = async (registrationId?: string) =>
        (await store.observations(registrationId)).map((o) => o.id).sort();
      assert.deepEqual(await ids('id-1'), ['0102030405060708', 'a1a2']);
      assert.deepEqual(await ids(), ['0102030405060708', 'a1a2', 'b1']);
      assert.deepEqual(
        (await store.observations('id-1')).find((o) => o.composite),
        composite,
        'paths, format and creation time are kept',
      );
      // The device moved: the same observation goes on under a new token.
      const moved = { ...single, token: 'ffee' };
      assert.equal(await store.addObservation(moved), true);
      assert.deepEqual(
        (await store.observations('id-1')).find((o) => o.id === single.id),
        moved,
      );
      assert.deepEqual(await store.removeObservation(single.id), moved);
      assert.equal(await store.removeObservation(single.id), undefined);
      assert.deepEqual(await ids(), ['a1a2', 'b1']);
    });

    withStore('keeps no observation of a registration that is gone', async (store) => {
      assert.equal(await store.addObservation(sampleObservation()), false);
      assert.deepEqual(await store.observations(), []);
    });

    withStore(
      'removing a registration removes its observations (LwM2M-TS-Core 1.2 §6.3)',
      async (store) => {
        await store.add(sampleRegistration({ expiresAt: 10_000 }));
        await store.add(sampleRegistration({ id: 'id-2', endpoint: 'ep-2' }));
        await store.addObservation(sampleObservation());
        await store.addObservation(sampleObservation({ id: 'b1', registrationId: 'id-2' }));
        // De-register (or the server's removal), and expiry.
        await store.remove('id-2');
        assert.deepEqual(await store.observations('id-2'), []);
        await store.removeIfExpired('id-1', 10_000);
        assert.deepEqual(await store.observations(), []);
      },
    );

    withStore(
      'a new Register of the endpoint ends the old registration’s observations (LwM2M-TS-Core 1.2 §6.3)',
      async (store) => {
        await store.add(sampleRegistration());
        await store.addObservation(sampleObservation());
        await store.add(sampleRegistration({ id: 'id-2' }));
        assert.deepEqual(await store.observations(), []);
        assert.equal(await store.removeObservation(sampleObservation().id), undefined);
      },
    );
  });
}
