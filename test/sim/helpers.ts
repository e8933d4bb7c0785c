/** Fixtures of the simulator tests: a Tandem and a fleet stopped when the test ends, waiting. */
import type { TestContext } from 'node:test';
import type { TandemConfigInput } from '../../src/config/schema.js';
import { Tandem } from '../../src/server/tandem.js';
import { type FleetOptionsInput, SimFleet } from '../../src/sim/index.js';
import { testConfig } from '../helpers/tandem.js';

/** Short periods, so that a test sees sensors move and firmware finish in a few seconds. */
export const QUICK = {
  rate: 500,
  measureSeconds: 0.25,
  publishSeconds: 0.25,
  firmwareDownloadMs: 300,
  firmwareInstallMs: 300,
  rebootDelayMs: 50,
  rebootDowntimeMs: 300,
  seed: 7,
} as const;

/**
 * A started Tandem and a started fleet against its CoAP and MQTT listeners. When the test ends
 * the fleet stops first (its devices de-register while the server still runs), then Tandem.
 */
export async function startTandemAndFleet(
  t: TestContext,
  input: Partial<FleetOptionsInput> | ((tandem: Tandem) => Partial<FleetOptionsInput>),
  config: TandemConfigInput = {},
  before?: (tandem: Tandem) => Promise<void>,
): Promise<{ tandem: Tandem; fleet: SimFleet }> {
  const tandem = new Tandem({ config: testConfig(t, config) });
  let fleet: SimFleet | undefined;
  let stopped = false;
  t.after(async () => {
    if (fleet && !stopped) await fleet.stop();
    await tandem.stop();
  });
  await tandem.start();
  await before?.(tandem);
  fleet = new SimFleet(
    {
      lwm2m: 0,
      mqtt: 0,
      lwm2mUrl: `coap://127.0.0.1:${tandem.address('coap')!.port}`,
      mqttUrl: `mqtt://127.0.0.1:${tandem.address('mqtt')!.port}`,
      ...QUICK,
      ...(typeof input === 'function' ? input(tandem) : input),
    },
    50,
  );
  const stop = fleet.stop.bind(fleet);
  fleet.stop = () => {
    stopped = true;
    return stop();
  };
  await fleet.start();
  return { tandem, fleet };
}

/**
 * Resolves once `check` holds, polling; rejects with `what` after `limitMs` (a guard against a
 * hang with a readable message, not a timed assertion).
 */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  limitMs = 60_000,
): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** How many of `names` the server holds a registration of. */
export async function registeredCount(tandem: Tandem, names: readonly string[]): Promise<number> {
  let n = 0;
  for (const name of names) if (await tandem.lwm2m.server.getRegistration(name)) n++;
  return n;
}

export const names = (prefix: string, from: number, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}${from + i}`);

/** Resolves once the server holds a registration of each of `<prefix>0..count-1`. */
export const allRegistered = (tandem: Tandem, prefix: string, count: number) =>
  until(
    `${count} registrations`,
    async () => (await registeredCount(tandem, names(prefix, 0, count))) === count,
  );

/** `tandem sim` flags for a Tandem's coaps listener and its API (with `token`), for 3 s. */
export const coapsAndApi = (tandem: Tandem, token: string) => [
  '--lwm2m-url',
  `coaps://127.0.0.1:${tandem.address('coaps')!.port}`,
  '--api-url',
  `http://127.0.0.1:${tandem.address('http')!.port}`,
  '--api-token',
  token,
  '--duration',
  '3',
];
