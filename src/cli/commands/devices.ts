import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { DeviceJson } from '../../api/routes/device-schemas.js';
import { EXIT } from '../exit-codes.js';
import { ApiClient, CliError, runCli, table, withApiOptions } from './api-client.js';
import { positiveInteger } from './arguments.js';

interface Page {
  devices: DeviceJson[];
  next: string | null;
}

const PAGE = 500;

/** `tandem devices list|show|add|update|remove` against a running server's API. */
export function devicesCommand(): Command {
  const devices = new Command('devices')
    .description('manage devices through the API')
    .exitOverride();

  withApiOptions(
    devices
      .command('list')
      .description('list devices (every page, unless --limit)')
      .addOption(
        new Option('--protocol <protocol>', 'only this protocol').choices(['lwm2m', 'mqtt']),
      )
      .option('--tag <tag>', 'only devices with this tag')
      .option('--online', 'only devices connected now')
      .option('--offline', 'only devices not connected now')
      .option('--limit <n>', 'at most this many devices', positiveInteger)
      .option('--after <id>', 'start after this device id'),
  ).action((opts) =>
    runCli(async () => {
      if (opts.online && opts.offline) {
        throw new CliError(EXIT.config, '--online and --offline exclude each other');
      }
      const api = new ApiClient(opts);
      const out: DeviceJson[] = [];
      let after: string | undefined = opts.after;
      const want: number = opts.limit ?? Number.POSITIVE_INFINITY;
      for (;;) {
        const q = new URLSearchParams();
        if (opts.protocol) q.set('protocol', opts.protocol);
        if (opts.tag !== undefined) q.set('tag', opts.tag);
        if (opts.online || opts.offline) q.set('online', String(Boolean(opts.online)));
        if (after !== undefined) q.set('after', after);
        q.set('limit', String(Math.min(PAGE, want - out.length)));
        const page = await api.call<Page>('GET', `/api/devices?${q}`);
        out.push(...page.devices);
        if (page.next === null || out.length >= want) break;
        after = page.next;
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        table(
          ['ID', 'PROTOCOL', 'ONLINE', 'CREDENTIALS', 'TAGS', 'CREATED'],
          out.map((d) => [
            d.id,
            d.protocol,
            d.online ? 'yes' : 'no',
            Object.keys(d.credentials).join(',') || '-',
            d.tags.join(',') || '-',
            d.createdAt,
          ]),
        ),
      );
    }),
  );

  withApiOptions(devices.command('show').description('show one device').argument('<id>')).action(
    (id: string, opts) =>
      runCli(async () => {
        const device = await new ApiClient(opts).call<DeviceJson>('GET', deviceUrl(id));
        process.stdout.write(opts.json ? `${JSON.stringify(device, null, 2)}\n` : describe(device));
      }),
  );

  const add = withApiOptions(
    devices
      .command('add')
      .description('create a device with its credentials')
      .argument('<id>', 'LwM2M endpoint name or MQTT client id')
      .addOption(
        new Option('--protocol <protocol>', 'how the device connects')
          .choices(['lwm2m', 'mqtt'])
          .makeOptionMandatory(),
      )
      .option('--tag <tag>', 'a tag (repeatable)', collect, [] as string[])
      .option('--metadata <json>', 'a JSON object of metadata'),
  );
  credentialOptions(add).action((id: string, opts) =>
    runCli(async () => {
      const body = {
        id,
        protocol: opts.protocol,
        credentials: await credentialsFrom(opts),
        ...(opts.tag.length ? { tags: opts.tag } : {}),
        ...(opts.metadata !== undefined ? { metadata: parseMetadata(opts.metadata) } : {}),
      };
      const device = await new ApiClient(opts).call<DeviceJson>('POST', '/api/devices', body);
      process.stdout.write(opts.json ? `${JSON.stringify(device, null, 2)}\n` : describe(device));
    }),
  );

  const update = withApiOptions(
    devices
      .command('update')
      .description(
        'change a device: tags, metadata or credentials; a replaced or removed credential stops working at once and the connections that used it close',
      )
      .argument('<id>')
      .option('--tag <tag>', 'replace the tags with these (repeatable)', collect, [] as string[])
      .option('--clear-tags', 'remove every tag')
      .option('--metadata <json>', 'replace the metadata with this JSON object')
      .option(
        '--remove-credential <kind>',
        'remove this kind of credential: mqtt, psk, rpk or x509 (repeatable)',
        credentialKinds,
        [] as string[],
      ),
  );
  credentialOptions(update).action((id: string, opts) =>
    runCli(async () => {
      if (opts.clearTags && opts.tag.length) {
        throw new CliError(EXIT.config, '--tag and --clear-tags exclude each other');
      }
      const credentials: Record<string, unknown> = await credentialsFrom(opts);
      for (const kind of opts.removeCredential as string[]) {
        if (credentials[kind] !== undefined) {
          throw new CliError(
            EXIT.config,
            `--remove-credential ${kind} and new ${kind} credentials exclude each other`,
          );
        }
        credentials[kind] = null;
      }
      const body = {
        ...(Object.keys(credentials).length ? { credentials } : {}),
        ...(opts.tag.length ? { tags: opts.tag } : opts.clearTags ? { tags: [] } : {}),
        ...(opts.metadata !== undefined ? { metadata: parseMetadata(opts.metadata) } : {}),
      };
      if (Object.keys(body).length === 0) {
        throw new CliError(EXIT.config, 'nothing to change: give tags, metadata or credentials');
      }
      const device = await new ApiClient(opts).call<DeviceJson>('PATCH', deviceUrl(id), body);
      process.stdout.write(opts.json ? `${JSON.stringify(device, null, 2)}\n` : describe(device));
    }),
  );

  withApiOptions(
    devices
      .command('remove')
      .description('delete a device: its credentials stop working and its connections close')
      .argument('<id>'),
  ).action((id: string, opts) =>
    runCli(async () => {
      await new ApiClient(opts).call('DELETE', deviceUrl(id));
      process.stdout.write(opts.json ? `${JSON.stringify({ removed: id })}\n` : `removed ${id}\n`);
    }),
  );

  return devices;
}

/** The credential flags shared by `add` and `update`. */
function credentialOptions(command: Command): Command {
  return command
    .option('--mqtt-username <name>', 'MQTT user name')
    .option(
      '--mqtt-password <password>',
      'MQTT password (stored as a hash); "-" reads it from stdin, out of the process list',
    )
    .option('--psk-identity <identity>', 'DTLS PSK identity')
    .option('--psk-key <hex>', 'DTLS pre-shared key, hexadecimal')
    .option('--rpk <base64>', 'DTLS raw public key: SubjectPublicKeyInfo DER, base64')
    .option('--rpk-file <path>', 'DTLS raw public key from a PEM or DER file')
    .option('--x509-file <path>', 'client certificate (PEM) whose subject identifies the device');
}

const deviceUrl = (id: string) => `/api/devices/${encodeURIComponent(id)}`;

function describe(d: DeviceJson): string {
  const c = d.credentials;
  const rows: [string, string][] = [
    ['id', d.id],
    ['protocol', d.protocol],
    ['online', d.online ? 'yes' : 'no'],
    ['tags', d.tags.join(', ') || '-'],
    ['metadata', Object.keys(d.metadata).length ? JSON.stringify(d.metadata) : '-'],
    ['mqtt', c.mqtt ? `username ${c.mqtt.username}` : '-'],
    ['psk', c.psk ? `identity ${c.psk.identity}` : '-'],
    ['rpk', c.rpk ? `sha256 ${c.rpk.fingerprint}` : '-'],
    ['x509', c.x509 ? `${c.x509.subject.replaceAll('\n', ', ')} (until ${c.x509.notAfter})` : '-'],
    ['created', d.createdAt],
    ['updated', d.updatedAt],
  ];
  return rows.map(([k, v]) => `${`${k}:`.padEnd(10)} ${v}\n`).join('');
}

interface AddOptions {
  mqttUsername?: string;
  mqttPassword?: string;
  pskIdentity?: string;
  pskKey?: string;
  rpk?: string;
  rpkFile?: string;
  x509File?: string;
}

async function credentialsFrom(o: AddOptions): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const pair = (a: string | undefined, b: string | undefined, names: [string, string]) => {
    if ((a === undefined) !== (b === undefined)) {
      throw new CliError(EXIT.config, `${names[0]} and ${names[1]} go together`);
    }
    return a !== undefined;
  };
  if (pair(o.mqttUsername, o.mqttPassword, ['--mqtt-username', '--mqtt-password'])) {
    const password = o.mqttPassword === '-' ? await readStdin() : o.mqttPassword;
    out.mqtt = { username: o.mqttUsername, password };
  }
  if (pair(o.pskIdentity, o.pskKey, ['--psk-identity', '--psk-key'])) {
    out.psk = { identity: o.pskIdentity, key: o.pskKey };
  }
  if (o.rpk !== undefined && o.rpkFile !== undefined) {
    throw new CliError(EXIT.config, 'give --rpk or --rpk-file, not both');
  }
  if (o.rpk !== undefined) out.rpk = { publicKey: o.rpk };
  if (o.rpkFile !== undefined) out.rpk = { publicKey: publicKeyFile(o.rpkFile) };
  if (o.x509File !== undefined) out.x509 = { certificate: readText(o.x509File) };
  return out;
}

/** A public (or private) key file in PEM or DER, as base64 SPKI DER. */
function publicKeyFile(path: string): string {
  const raw = readBytes(path);
  const pem = raw.toString('latin1').includes('-----BEGIN');
  try {
    const key = pem
      ? createPublicKey(raw.toString('utf8'))
      : createPublicKey({ key: raw, format: 'der', type: 'spki' });
    return key.export({ format: 'der', type: 'spki' }).toString('base64');
  } catch {
    throw new CliError(EXIT.config, `${path} holds no public key (PEM, or SPKI DER)`);
  }
}

/** All of stdin, without the final line break an `echo` or a terminal adds. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function readBytes(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CliError(EXIT.config, `cannot read ${path}: ${(err as Error).message}`);
  }
}

const readText = (path: string) => readBytes(path).toString('utf8');

function parseMetadata(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new CliError(EXIT.config, '--metadata must be a JSON object');
  }
}

function credentialKinds(value: string, previous: string[]): string[] {
  if (!['mqtt', 'psk', 'rpk', 'x509'].includes(value)) {
    throw new InvalidArgumentError('must be mqtt, psk, rpk or x509');
  }
  return [...previous, value];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
