import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { InjectOptions } from 'fastify';
import { Registry } from 'prom-client';
import { type ApiContext, buildApi } from '../../src/api/app.js';
import { issueToken } from '../../src/hub/api-tokens.js';
import { DeviceEventFeed } from '../../src/hub/device-events.js';
import { DeviceRegistry } from '../../src/hub/device-registry.js';
import { PskCache } from '../../src/hub/psk-cache.js';
import { Webhooks, type WebhooksOptions } from '../../src/hub/webhooks.js';
import { silentLogger } from '../../src/log.js';
import type { ApiRole } from '../../src/store/ports.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { systemClock } from '../../src/util/clock.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The API over a real in-memory SQLite store, with one token of each role; with `webhooks`,
 * also the webhooks (their options: policy, clock, fetch...); `stream` tunes `/api/stream`.
 */
export async function apiWithStore(
  t: TestContext,
  options: {
    anonymousReads?: boolean;
    webhooks?: Partial<Omit<WebhooksOptions, 'store' | 'events'>>;
    stream?: ApiContext['stream'];
    logger?: ApiContext['logger'];
  } = {},
) {
  const store = new SqliteStore({ dataDir: ':memory:' });
  const psk = new PskCache();
  const devices = new DeviceRegistry({ store: store.devices, psk });
  const clock = options.webhooks?.clock ?? systemClock;
  const events = new DeviceEventFeed({ devices, clock });
  const webhooks =
    options.webhooks &&
    new Webhooks({
      store: store.webhooks,
      events,
      clock,
      logger: silentLogger(),
      userAgent: 'Tandem/1.2.3',
      ...options.webhooks,
    });
  await webhooks?.start();
  const app = await buildApi({
    version: '1.2.3',
    logger: options.logger ?? silentLogger(),
    health: () => ({
      status: 'ok',
      version: '1.2.3',
      uptimeSeconds: 1,
      listeners: {},
      storage: { status: 'ok', backend: 'sqlite' },
    }),
    metrics: new Registry(),
    devices,
    telemetry: store.telemetry,
    tokens: store.tokens,
    events,
    ...(webhooks ? { webhooks } : {}),
    ...(options.stream ? { stream: options.stream } : {}),
    anonymousReads: options.anonymousReads ?? false,
  });
  t.after(async () => {
    await webhooks?.close();
    await app.close();
    events.close();
    await store.close();
  });
  const tokens = {} as Record<ApiRole, string>;
  for (const role of ['admin', 'operator', 'read-only'] as const) {
    tokens[role] = (await issueToken(store.tokens, role, `test ${role}`)).token;
  }
  /** One request, with the token of `as` (a role) or none. */
  const call = (
    method: InjectOptions['method'],
    url: string,
    opts: { as?: ApiRole; token?: string; body?: unknown } = {},
  ) => {
    const token = opts.token ?? (opts.as ? tokens[opts.as] : undefined);
    return app.inject({
      method,
      url,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(opts.body !== undefined ? { payload: opts.body as InjectOptions['payload'] } : {}),
    });
  };
  return { app, store, psk, devices, events, webhooks, tokens, call };
}

/** An EC P-256 public key as base64 SubjectPublicKeyInfo DER, as devices give it. */
export function ecPublicKey(): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
}

/** A self-signed certificate with subject CN=<cn>, made with the openssl CLI. */
export function selfSignedCertificate(t: TestContext, cn: string): string {
  const dir = tempDir(t);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'key.pem',
      '-out',
      'cert.pem',
      '-days',
      '30',
      '-subj',
      `/CN=${cn}`,
    ],
    { cwd: dir, stdio: 'pipe' },
  );
  return readFileSync(join(dir, 'cert.pem'), 'utf8');
}
