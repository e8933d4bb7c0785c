import type { TestContext } from 'node:test';
import { configSchema, type TandemConfigInput } from '../../src/config/schema.js';
import { Tandem, type TandemOptions } from '../../src/server/tandem.js';
import { tempDir } from './tmp.js';

/** Every listener on port 0 on loopback, unless the test says otherwise. */
export function testConfig(t: TestContext, input: TandemConfigInput = {}) {
  const ports = Object.fromEntries(
    ['http', 'mqtt', 'mqtts', 'ws', 'coap', 'coaps', 'bootstrap', 'bootstrapDtls'].map((n) => [
      n,
      { port: 0 },
    ]),
  );
  return configSchema.parse({
    dataDir: tempDir(t),
    logLevel: 'silent',
    ...input,
    listeners: { ...ports, ...input.listeners },
  });
}

/** A started Tandem on ephemeral ports, stopped when the test ends. */
export async function startTandem(
  t: TestContext,
  input: TandemConfigInput = {},
  options: Omit<TandemOptions, 'config'> = {},
): Promise<Tandem> {
  const tandem = new Tandem({ config: testConfig(t, input), ...options });
  t.after(() => tandem.stop());
  await tandem.start();
  return tandem;
}
