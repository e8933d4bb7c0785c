import type { TrustConfig } from '../dtls/crypto/credentials.js';
import type { CaPem, SecurityMode } from './credentials.js';

/** What a simulated fleet is made of, and its defaults. */
export interface FleetOptions {
  /** Number of LwM2M devices. */
  readonly lwm2m: number;
  /** `coap://host:port` or `coaps://host:port` (DTLS). */
  readonly lwm2mUrl?: string;
  /**
   * How LwM2M devices authenticate over coaps: `psk` (the default), or `rpk` and `x509` with a
   * P-256 key pair each (src/sim/credentials.ts), derived from `seed` when one was given.
   */
  readonly security: SecurityMode;
  /** PSK of device `i`: identity `<pskPrefix><i>`, key `pskKey` (both needed for coaps PSK). */
  readonly pskPrefix?: string;
  readonly pskKey?: Buffer;
  /** x509: the CA that signs the device certificates (common name: the endpoint name). */
  readonly ca?: CaPem;
  /** rpk and x509: how devices judge the server's certificate or raw public key. */
  readonly serverTrust?: TrustConfig;
  /** Bootstrap first (`coap://` or `coaps://`), then register where the Bootstrap-Server says. */
  readonly bootstrapUrl?: string;
  /**
   * Number of managed MQTT devices: the LwM2M devices' objects and life, over MQTT with the
   * LwM2M-over-MQTT convention (docs/lwm2m-over-mqtt.md), to `mqttUrl` with the MQTT logins.
   */
  readonly managedMqtt: number;
  /** Number of plain MQTT devices. */
  readonly mqtt: number;
  readonly mqttUrl?: string;
  /** MQTT user name of device `i`: `<mqttUsernamePrefix><i>`; with `mqttPassword`. */
  readonly mqttUsernamePrefix?: string;
  readonly mqttPassword?: string;
  /** Endpoint names and MQTT device ids are `<endpointPrefix><index>`. */
  readonly endpointPrefix: string;
  /** Devices started per second (LwM2M first, then MQTT). */
  readonly rate: number;
  /** Queue mode (LwM2M-TS-Core 1.1 §6.5): register with Q, sleep, wake every `sleepSeconds`. */
  readonly queueMode: boolean;
  readonly sleepSeconds: number;
  /** Seconds a queue-mode device stays awake after it speaks. */
  readonly awakeSeconds: number;
  /**
   * Fraction of the fleet that drops off per minute (0.1: a tenth); each comes back after about
   * `churnDowntimeMs`. Above 1, devices drop off more than once a minute.
   */
  readonly churn: number;
  readonly churnDowntimeMs: number;
  /** Registration lifetime, seconds. */
  readonly lifetime: number;
  readonly lwm2mVersion: '1.0' | '1.1' | '1.2';
  /** Seconds between two measurements of a device's sensors. */
  readonly measureSeconds: number;
  /**
   * Seconds between two Sends (LwM2M-TS-Core 1.1 §6.4.4) of the sensor values by an LwM2M
   * device; 0 (the default) sends nothing unasked, and values reach the server by Observe.
   */
  readonly sendSeconds: number;
  /** Seconds between two telemetry messages of an MQTT device. */
  readonly publishSeconds: number;
  /** Length of the compressed day of the sensor cycle, seconds. */
  readonly cycleSeconds: number;
  /** Milliseconds between the 2.04 of a Reboot and the De-register, and down time after it. */
  readonly rebootDelayMs: number;
  readonly rebootDowntimeMs: number;
  readonly firmwareVersion: string;
  readonly firmwareDownloadMs: number;
  readonly firmwareInstallMs: number;
  /** Probability that a firmware download, and separately an install, fails. */
  readonly firmwareFailureRate: number;
  /** Timeout of each CoAP request of a device (default CoAP's own). */
  readonly requestTimeoutMs?: number;
  /** Seed of the random source (phases, walks, churn). */
  readonly seed: number;
  /** Local address to bind device sockets to (default: by the server's address family). */
  readonly localAddress?: string;
}

export type FleetOptionsInput = Partial<FleetOptions> & Pick<FleetOptions, 'lwm2m' | 'mqtt'>;

export const DEFAULTS = {
  lwm2mUrl: 'coap://127.0.0.1:5683',
  security: 'psk',
  mqttUrl: 'mqtt://127.0.0.1:1883',
  managedMqtt: 0,
  endpointPrefix: 'sim-',
  rate: 100,
  queueMode: false,
  sleepSeconds: 300,
  // LwM2M-TS-Core 1.1 §6.5: reachable for CoAP MAX_TRANSMIT_WAIT (93 s) after a message.
  awakeSeconds: 93,
  churn: 0,
  churnDowntimeMs: 10_000,
  lifetime: 300,
  lwm2mVersion: '1.1',
  measureSeconds: 5,
  sendSeconds: 0,
  publishSeconds: 5,
  cycleSeconds: 3600,
  rebootDelayMs: 200,
  rebootDowntimeMs: 2000,
  firmwareVersion: '1.0.0',
  firmwareDownloadMs: 5000,
  firmwareInstallMs: 3000,
  firmwareFailureRate: 0,
} as const;

export class FleetOptionsError extends Error {
  override readonly name = 'FleetOptionsError';
}

/** Options with defaults, checked; throws FleetOptionsError with the reason. */
export function resolveOptions(input: FleetOptionsInput): FleetOptions {
  const o: FleetOptions = {
    ...DEFAULTS,
    seed: Date.now() >>> 0,
    ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)),
  } as FleetOptions;
  const count = (n: number, what: string) => {
    if (!Number.isInteger(n) || n < 0) throw new FleetOptionsError(`${what} must be a count`);
  };
  count(o.lwm2m, '--lwm2m');
  count(o.mqtt, '--mqtt');
  count(o.managedMqtt, '--managed-mqtt');
  if (!(o.rate > 0)) throw new FleetOptionsError('--rate must be positive');
  if (!(o.churn >= 0)) throw new FleetOptionsError('--churn must not be negative');
  if (!(o.firmwareFailureRate >= 0 && o.firmwareFailureRate <= 1))
    throw new FleetOptionsError('the firmware failure rate must be within 0..1');
  if (!(o.sendSeconds >= 0)) throw new FleetOptionsError('--send must not be negative');
  if (o.sendSeconds > 0 && o.lwm2mVersion === '1.0')
    throw new FleetOptionsError('Send needs LwM2M 1.1 or later');
  if (!(o.sleepSeconds > 0) || !(o.awakeSeconds > 0))
    throw new FleetOptionsError('--sleep must be positive');
  for (const [url, schemes, what] of [
    [o.lwm2mUrl, ['coap:', 'coaps:'], '--lwm2m-url'],
    [o.bootstrapUrl, ['coap:', 'coaps:'], '--bootstrap-url'],
    [o.mqttUrl, ['mqtt:', 'mqtts:', 'tcp:', 'ws:', 'wss:'], '--mqtt-url'],
  ] as const) {
    if (url === undefined) continue;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new FleetOptionsError(`${what}: '${url}' is not a URL`);
    }
    if (!(schemes as readonly string[]).includes(parsed.protocol))
      throw new FleetOptionsError(`${what} must be ${schemes.map((s) => `${s}//`).join(' or ')}`);
  }
  const secure = [o.lwm2mUrl, o.bootstrapUrl].some((u) => u?.startsWith('coaps:'));
  if (o.security === 'psk') {
    if (secure && (o.pskPrefix === undefined || o.pskKey === undefined))
      throw new FleetOptionsError('coaps:// needs --psk-prefix and --psk-key (or --rpk, --x509)');
  } else {
    const flag = `--${o.security}`;
    if (!secure)
      throw new FleetOptionsError(`${flag} needs a coaps:// --lwm2m-url or --bootstrap-url`);
    if (o.pskPrefix !== undefined || o.pskKey !== undefined)
      throw new FleetOptionsError(`${flag} and --psk-prefix/--psk-key exclude each other`);
    if (!o.serverTrust)
      throw new FleetOptionsError(
        `${flag} needs --server-cert: the server's certificate, its CA or its public key`,
      );
    if (o.security === 'x509' && !o.ca)
      throw new FleetOptionsError('--x509 needs the CA that signs the device certificates');
  }
  if (o.pskKey !== undefined && o.pskKey.length === 0)
    throw new FleetOptionsError('--psk-key must be non-empty hex');
  if (o.queueMode) {
    // The wake-up Update refreshes the registration; the client's own Update at 90% of the
    // lifetime must never come due while the radio is off, or it would time out.
    const needed = Math.ceil((o.sleepSeconds + o.awakeSeconds) * 1.25);
    if (o.lifetime < needed) return { ...o, lifetime: needed };
  }
  return o;
}
