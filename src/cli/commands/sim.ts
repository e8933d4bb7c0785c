import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import type { TrustConfig } from '../../dtls/crypto/credentials.js';
import {
  type CaPem,
  FleetOptionsError,
  type FleetSnapshot,
  type FleetSummary,
  loadOrCreateCa,
  SimFleet,
  serverTrust,
  socketShortfall,
} from '../../sim/index.js';
import { EXIT } from '../exit-codes.js';
import { ApiCallError, ApiClient, CliError } from './api-client.js';
import { positiveNumber } from './arguments.js';

const HELP_FOOTER = `
Endpoint names (and MQTT client ids) are <endpoint-prefix><index>: LwM2M devices take the
indexes 0..N-1 and MQTT devices the ones after them. With --psk-prefix, LwM2M device i uses the
PSK identity <psk-prefix><i> and the key --psk-key (hex), for coaps:// and for a coaps://
Bootstrap-Server. MQTT devices publish JSON on devices/<id>/telemetry; with
--mqtt-username-prefix, device i logs in as <prefix><i> with --mqtt-password. Managed MQTT
devices (--managed-mqtt, indexes after the plain MQTT ones) are LwM2M devices over MQTT
(docs/lwm2m-over-mqtt.md) with the same objects and the same login.

With --rpk or --x509 (instead of a PSK), each LwM2M device has its own ECDSA P-256 key pair,
derived from --seed when given (the same seed, the same keys), else random. --rpk presents the
raw public key (RFC 7250); --x509 a certificate whose common name is the endpoint name, signed
by the CA in --ca-cert/--ca-key: when neither file exists, a new CA is written there; point
the server's trust store at it (tandem start --lwm2m-trust-store sim-ca.pem) before the devices
connect. --server-cert is how devices know the server: its certificate or CA (a development
server's is <data-dir>/dtls/dev-cert.pem), or its PEM public key if it presents a raw key.

With --api-url, the devices are first created through the API (with their PSK, raw public key,
certificate, or MQTT user name and password); devices that exist already are left as they are,
except that in RPK and X.509 modes they get the fleet's public key or certificate.

Each simulated device has its own socket: the open-file limit (ulimit -n) must exceed the
number of devices.

On a terminal a progress line is redrawn; a summary is printed at the end (one JSON object on
stdout with --json). Ctrl-C or SIGTERM stops cleanly: LwM2M devices de-register, MQTT devices
disconnect, the summary is printed.

Exit codes: 0 done, 1 no device could register or connect (or the server could not be
resolved or reached), 2 invalid command line or too low an open-file limit, 3 the API refused
to create a device.`;

const count = (value: string): number => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError('not a count');
  return n;
};

const fraction = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('not a non-negative number');
  return n;
};

const probability = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('not within 0..1');
  return n;
};

const hex = (value: string): Buffer => {
  if (!/^([0-9a-fA-F]{2})+$/.test(value)) throw new InvalidArgumentError('not hex bytes');
  return Buffer.from(value, 'hex');
};

interface SimFlags {
  lwm2m: number;
  lwm2mUrl?: string;
  pskPrefix?: string;
  pskKey?: Buffer;
  rpk?: boolean;
  x509?: boolean;
  serverCert?: string;
  caCert: string;
  caKey: string;
  bootstrapUrl?: string;
  mqtt: number;
  managedMqtt: number;
  mqttUrl?: string;
  mqttUsernamePrefix?: string;
  mqttPassword?: string;
  endpointPrefix: string;
  duration?: number;
  rate?: number;
  queueMode?: boolean;
  sleep?: number;
  awake?: number;
  firmwareFailure?: number;
  churn?: number;
  lifetime?: number;
  send?: number;
  seed?: number;
  apiUrl?: string;
  apiToken?: string;
  json?: boolean;
}

/** `tandem sim`: a fleet of simulated LwM2M and MQTT devices against a running server. */
export function simCommand(): Command {
  const command = new Command('sim')
    .description('simulate a fleet of LwM2M and MQTT devices against a running server')
    .exitOverride()
    .option('--lwm2m <n>', 'number of LwM2M devices', count, 0)
    .option('--lwm2m-url <url>', 'coap://host:port or coaps://host:port', 'coap://127.0.0.1:5683')
    .option('--psk-prefix <prefix>', 'PSK identity of device i is <prefix><i>')
    .option('--psk-key <hex>', 'the PSK of every device, hex', hex)
    .option('--rpk', 'coaps with a raw public key per device (RFC 7250) instead of a PSK')
    .option('--x509', 'coaps with an X.509 certificate per device (CN: the endpoint name)')
    .option(
      '--server-cert <file>',
      "with --rpk/--x509: PEM of the server's certificate or CA, or of its raw public key",
    )
    .option(
      '--ca-cert <file>',
      'with --x509: the CA certificate (PEM), created if absent',
      'sim-ca.pem',
    )
    .option(
      '--ca-key <file>',
      'with --x509: the CA private key (PEM), created if absent',
      'sim-ca.key',
    )
    .option('--bootstrap-url <url>', 'bootstrap first: coap:// or coaps:// Bootstrap-Server')
    .option('--mqtt <n>', 'number of plain MQTT devices', count, 0)
    .option(
      '--managed-mqtt <n>',
      'number of managed MQTT devices (LwM2M over MQTT, docs/lwm2m-over-mqtt.md)',
      count,
      0,
    )
    .option('--mqtt-url <url>', 'mqtt://host:port', 'mqtt://127.0.0.1:1883')
    .option('--mqtt-username-prefix <prefix>', 'MQTT user name of device i is <prefix><i>')
    .option('--mqtt-password <password>', 'MQTT password of every device')
    .option('--endpoint-prefix <prefix>', 'endpoint names are <prefix><index>', 'sim-')
    .option('--duration <seconds>', 'stop after this long (default: at Ctrl-C)', positiveNumber)
    .option('--rate <r>', 'devices started per second (default 100)', positiveNumber)
    .option('--queue-mode', 'LwM2M queue mode: register with Q, sleep, wake every --sleep')
    .option('--sleep <seconds>', 'seconds a queue-mode device sleeps (default 300)', positiveNumber)
    .option(
      '--awake <seconds>',
      'seconds a queue-mode device stays awake after its last message (default 93)',
      positiveNumber,
    )
    .option(
      '--firmware-failure <p>',
      'probability that a firmware download, and separately an install, fails',
      probability,
    )
    .option(
      '--churn <f>',
      'fraction of the fleet that drops off and comes back per minute',
      fraction,
    )
    .option(
      '--send <seconds>',
      'LwM2M devices Send their sensor values this often (1.1)',
      positiveNumber,
    )
    .option('--lifetime <seconds>', 'LwM2M registration lifetime (default 300)', positiveNumber)
    .option('--seed <n>', 'seed of the random walks, phases and churn', count)
    .option('--api-url <url>', 'first create the devices (and their credentials) through this API')
    .option('--api-token <token>', 'API token for --api-url (env TANDEM_TOKEN)')
    .option('--json', 'print the summary as one JSON object')
    .addHelpText('after', HELP_FOOTER)
    .action(async (flags: SimFlags) => {
      process.exitCode = await run(flags);
    });
  return command;
}

async function run(flags: SimFlags): Promise<number> {
  const shortfall = socketShortfall(flags.lwm2m + flags.mqtt + flags.managedMqtt);
  if (shortfall) {
    process.stderr.write(`tandem sim: ${shortfall}\n`);
    return EXIT.config;
  }
  if (flags.rpk && flags.x509) {
    process.stderr.write('tandem sim: --rpk and --x509 exclude each other\n');
    return EXIT.config;
  }
  let trust: TrustConfig | undefined;
  let ca: CaPem | undefined;
  try {
    if (flags.serverCert !== undefined) trust = trustFrom(flags.serverCert);
    if (flags.x509) ca = await caFrom(flags.caCert, flags.caKey, flags.json === true);
  } catch (err) {
    process.stderr.write(`tandem sim: ${(err as Error).message}\n`);
    return EXIT.config;
  }
  let fleet: SimFleet;
  try {
    fleet = new SimFleet({
      lwm2m: flags.lwm2m,
      mqtt: flags.mqtt,
      managedMqtt: flags.managedMqtt,
      lwm2mUrl: flags.lwm2mUrl,
      security: flags.rpk ? 'rpk' : flags.x509 ? 'x509' : 'psk',
      serverTrust: trust,
      ca,
      pskPrefix: flags.pskPrefix,
      pskKey: flags.pskKey,
      bootstrapUrl: flags.bootstrapUrl,
      mqttUrl: flags.mqttUrl,
      mqttUsernamePrefix: flags.mqttUsernamePrefix,
      mqttPassword: flags.mqttPassword,
      endpointPrefix: flags.endpointPrefix,
      rate: flags.rate,
      queueMode: flags.queueMode ?? false,
      sleepSeconds: flags.sleep,
      awakeSeconds: flags.awake,
      firmwareFailureRate: flags.firmwareFailure,
      churn: flags.churn,
      lifetime: flags.lifetime,
      sendSeconds: flags.send,
      seed: flags.seed,
    });
  } catch (err) {
    if (err instanceof FleetOptionsError) {
      process.stderr.write(`tandem sim: ${err.message}\n`);
      return EXIT.config;
    }
    throw err;
  }
  if (flags.apiUrl !== undefined) {
    try {
      const made = await provision(
        fleet,
        new ApiClient({ url: flags.apiUrl, token: flags.apiToken }),
      );
      if (!flags.json) {
        process.stdout.write(
          `devices: ${made.created} created, ${made.existing} already there ` +
            `(${fleet.options.security === 'psk' ? 'left as they are' : "given the fleet's keys"})\n`,
        );
      }
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      process.stderr.write(`tandem sim: ${err.message}\n`);
      return err.exitCode;
    }
  }
  try {
    await fleet.start();
  } catch (err) {
    process.stderr.write(`tandem sim: ${(err as Error).message}\n`);
    return EXIT.failure;
  }

  const progress = flags.json ? undefined : startProgress(fleet);
  const summary = await new Promise<FleetSummary>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      progress?.stop();
      // A second Ctrl-C while the devices de-register ends at once.
      process.once('SIGINT', () => process.exit(EXIT.failure));
      fleet.stop().then(resolve);
    };
    const onSignal = () => stop();
    const timer =
      flags.duration === undefined ? undefined : setTimeout(stop, flags.duration * 1000);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(formatSummary(summary));
  const noLwm2m = flags.lwm2m > 0 && summary.lwm2m.peakRegistered === 0;
  const noMqtt = flags.mqtt > 0 && summary.mqtt.peakConnected === 0;
  return noLwm2m || noMqtt ? EXIT.failure : EXIT.ok;
}

/** --server-cert: the file's certificates are trust anchors, its public keys pinned raw keys. */
function trustFrom(path: string): TrustConfig {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read --server-cert ${path}: ${(err as Error).message}`);
  }
  try {
    return serverTrust(pem);
  } catch (err) {
    throw new Error(`--server-cert ${path}: ${(err as Error).message}`);
  }
}

/** --ca-cert/--ca-key: the CA's files, or a new CA written to them (said on stderr). */
async function caFrom(certPath: string, keyPath: string, quiet: boolean): Promise<CaPem> {
  const ca = await loadOrCreateCa(certPath, keyPath);
  if (ca.created && !quiet) {
    process.stderr.write(
      `tandem sim: created a CA in ${certPath} (key ${keyPath}); the server must trust it: ` +
        `tandem start --lwm2m-trust-store ${certPath}\n`,
    );
  }
  return ca;
}

/**
 * Creates every device of the fleet through the API (POST /api/devices), with its PSK, raw
 * public key, certificate or MQTT login when the fleet has them. A device that exists already
 * (409 TANDEM_ERR_DEVICE_EXISTS) is left as it is, except that in RPK and X.509 modes its key
 * or certificate is replaced by the fleet's (PATCH): without --seed the keys are new on every
 * run. A credential another device holds (409 TANDEM_ERR_CREDENTIAL_CONFLICT) is an error.
 */
async function provision(
  fleet: SimFleet,
  api: ApiClient,
): Promise<{ created: number; existing: number }> {
  const o = fleet.options;
  const total = o.lwm2m + o.mqtt + o.managedMqtt;
  const body = async (i: number) => {
    const id = `${o.endpointPrefix}${i}`;
    if (i >= o.lwm2m) {
      const login =
        o.mqttUsernamePrefix !== undefined && o.mqttPassword
          ? { mqtt: { username: `${o.mqttUsernamePrefix}${i}`, password: o.mqttPassword } }
          : undefined;
      return { id, protocol: 'mqtt', ...(login ? { credentials: login } : {}) };
    }
    const identity = await fleet.identityOf(i);
    const credentials = identity
      ? identity.certificate
        ? { x509: { certificate: identity.certificate } }
        : { rpk: { publicKey: identity.spki.toString('base64') } }
      : o.pskPrefix !== undefined && o.pskKey !== undefined
        ? { psk: { identity: `${o.pskPrefix}${i}`, key: o.pskKey.toString('hex') } }
        : undefined;
    return { id, protocol: 'lwm2m', ...(credentials ? { credentials } : {}) };
  };
  let next = 0;
  let created = 0;
  let existing = 0;
  const worker = async () => {
    while (next < total) {
      const device = await body(next++);
      try {
        await api.call('POST', '/api/devices', device);
        created++;
      } catch (err) {
        // A credential of another device (TANDEM_ERR_CREDENTIAL_CONFLICT) is an error.
        if (!(err instanceof ApiCallError && err.code === 'TANDEM_ERR_DEVICE_EXISTS')) throw err;
        existing++;
        const c = device.credentials as Record<string, unknown> | undefined;
        if (c?.rpk || c?.x509) {
          await api.call('PATCH', `/api/devices/${encodeURIComponent(device.id)}`, {
            credentials: c,
          });
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return { created, existing };
}

/**
 * The live line: on a terminal redrawn in place (at most 4 times a second), otherwise a plain
 * line every 10 seconds so that logs stay readable.
 */
function startProgress(fleet: SimFleet): { stop(): void } {
  const tty = process.stdout.isTTY === true;
  const history: FleetSnapshot[] = [];
  const timer = setInterval(
    () => {
      const snap = fleet.snapshot();
      history.push(snap);
      // Messages per second over the last second or so.
      while (history.length > 1 && snap.elapsedSeconds - history[0]!.elapsedSeconds > 1.5) {
        history.shift();
      }
      const first = history[0]!;
      const span = snap.elapsedSeconds - first.elapsedSeconds;
      const rate = span > 0 ? Math.round((snap.messages - first.messages) / span) : 0;
      const line = progressLine(fleet, snap, rate);
      if (tty) process.stdout.write(`\r${line}\x1b[K`);
      else process.stdout.write(`${line}\n`);
    },
    tty ? 250 : 10_000,
  );
  return {
    stop() {
      clearInterval(timer);
      if (tty) process.stdout.write('\n');
    },
  };
}

function progressLine(fleet: SimFleet, s: FleetSnapshot, rate: number): string {
  const c = s.counters;
  const o = fleet.options;
  const parts = [`${Math.floor(s.elapsedSeconds)}s`];
  const lwm2m = o.lwm2m + o.managedMqtt;
  if (lwm2m > 0) {
    parts.push(`lwm2m ${c.lwm2mConnected}/${lwm2m} connected ${c.lwm2mRegistered} registered`);
  }
  if (o.mqtt > 0) parts.push(`mqtt ${c.mqttConnected}/${o.mqtt} connected`);
  parts.push(`${rate} msg/s`, `${c.errors} errors`);
  return parts.join(' | ');
}

function formatSummary(s: FleetSummary): string {
  const l = s.lwm2m;
  const m = s.mqtt;
  const lines = [
    `simulated ${s.durationSeconds}s (stopping took ${s.stopSeconds}s)`,
    `  lwm2m: ${l.started}/${l.devices} started` +
      (l.managedMqtt > 0 ? ` (${l.managedMqtt} over MQTT)` : '') +
      `, ${l.peakRegistered} registered at peak` +
      (l.allRegisteredAfterSeconds === null
        ? ', '
        : ` (all after ${l.allRegisteredAfterSeconds}s), `) +
      `${l.registrations} registrations, ${l.deregistrations} de-registrations, ` +
      `${l.updates} updates, ${l.sends} sends, ${l.bootstraps} bootstraps, ${l.reboots} reboots, ` +
      `${l.firmwareUpdates} firmware updates (${l.firmwareFailures} failed)`,
    `  mqtt: ${m.started}/${m.devices} started, ${m.peakConnected} connected at peak, ` +
      `${m.published} messages published`,
    `  messages: ${s.messages.total} (${s.messages.perSecond}/s): coap in ${s.messages.coapIn}, ` +
      `out ${s.messages.coapOut}, ${s.messages.coapTimeouts} timeouts; mqtt out ${s.messages.mqttOut}`,
    `  churned: ${s.churned}`,
    `  process: ${s.process.peakRssMb} MB peak RSS, ${s.process.heapUsedMb} MB heap, ` +
      `${s.process.cpuSeconds}s CPU (${s.process.cpuPercent}%)`,
    `  errors: ${s.errors.count}`,
    ...s.errors.samples.map((e) => `    ${e}`),
  ];
  return `${lines.join('\n')}\n`;
}
