/**
 * `tandem read|write|exec|observe <device> <path>`: live operations on one device through a
 * running server's REST API (src/api/routes/device-operations.ts, Leshan's shape): GET reads,
 * PUT writes (PATCH with --update), POST on a resource executes, POST .../observe starts an
 * observation and DELETE .../observe cancels it; the new values come over `/api/events`.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { InstanceJson, NodeJson, ObjectJson, ResourceJson } from '../../hub/commands/json.js';
import type { JsonValue } from '../../lwm2m/node/node-json.js';
import { EXIT } from '../exit-codes.js';
import { ApiClient, CliError, runCli, table, withApiOptions } from './api-client.js';
import { positiveInteger, positiveNumber } from './arguments.js';
import { observeAction } from './observe.js';

export const DEVICE_HELP = `
The path is an LwM2M path: /object[/instance[/resource[/resource-instance]]], e.g. /3303/0/5700.
A device operation also exits 4 when the device answered an error (its CoAP code is printed,
e.g. 4.04 Not Found) and 5 when it is offline or did not answer within --timeout.`;

/** `--timeout` in seconds; fetch itself gives up on a server silent for 300 s (undici). */
const MAX_TIMEOUT_SECONDS = 300;

export interface OperationFlags {
  url?: string;
  token?: string;
  json?: boolean;
  format?: string;
  timeout?: number;
}

/** The four live-operation commands, in the order `tandem --help` lists them. */
export function operationCommands(): Command[] {
  return [readCommand(), writeCommand(), execCommand(), observeCommand()];
}

/** --url, --token and --json, plus --format and --timeout (the query every operation takes). */
export function withOperationOptions(command: Command, format = true): Command {
  withApiOptions(command)
    .argument('<device>', 'device id (LwM2M endpoint name or MQTT client id)')
    .argument('<path>', 'LwM2M path, e.g. /3303/0/5700', lwm2mPath);
  if (format) {
    command.option(
      '--format <format>',
      'content format on the wire: text, tlv, senml-json, senml-cbor, lwm2m-cbor, json... or its number',
    );
  }
  return command
    .option(
      '--timeout <seconds>',
      `longest wait for the device (default 30, at most ${MAX_TIMEOUT_SECONDS})`,
      timeoutSeconds,
    )
    .addHelpText('after', DEVICE_HELP);
}

function readCommand(): Command {
  return withOperationOptions(
    new Command('read')
      .description('read a resource, an object instance or an object of a device')
      .exitOverride(),
  ).action((device: string, path: string, opts: OperationFlags) =>
    runCli(async () => {
      const node = await new ApiClient(opts).call<NodeJson>(
        'GET',
        operationUrl(device, path, '', opts),
      );
      process.stdout.write(opts.json ? `${JSON.stringify(node, null, 2)}\n` : describeNode(node));
    }),
  );
}

interface WriteFlags extends OperationFlags {
  values?: Record<string, unknown>;
  resources?: Record<string, unknown>;
  update?: boolean;
  string?: boolean;
}

function writeCommand(): Command {
  return withOperationOptions(
    new Command('write')
      .description(
        'write a resource value, the instances of a multiple resource (--values) or the resources of an instance (--resources)',
      )
      .exitOverride(),
  )
    .argument('[value]', 'the new value of a resource, typed by the server from the object model')
    .option('--values <json>', 'a multiple resource: {"<instance>": value, ...}', jsonObject)
    .option('--resources <json>', 'an object instance: {"<resource>": value, ...}', jsonObject)
    .option('--update', 'partial update (PATCH): the resources or instances given, others kept')
    .option('--string', 'send the value as text even if it reads as a number or a boolean')
    .addHelpText(
      'after',
      `
A value that reads as a number, true or false is sent as one (the server converts it to the
resource's type); anything else, or every value with --string, as text. Opaque values are
base64, times seconds since 1970 or an ISO date, object links "3:0".
Without --update a write replaces (PUT): an instance loses the resources not given.`,
    )
    .action((device: string, path: string, value: string | undefined, opts: WriteFlags) =>
      runCli(async () => {
        const given = [value !== undefined, opts.values, opts.resources].filter(Boolean).length;
        if (given !== 1) {
          throw new CliError(EXIT.config, 'give one of: a value, --values or --resources');
        }
        const body =
          value !== undefined
            ? { value: opts.string ? value : typedValue(value) }
            : opts.values
              ? { values: opts.values }
              : { resources: opts.resources };
        await new ApiClient(opts).call(
          opts.update ? 'PATCH' : 'PUT',
          operationUrl(device, path, '', opts),
          body,
        );
        const what = opts.update ? 'updated' : 'written';
        process.stdout.write(
          opts.json ? `${JSON.stringify({ device, path, [what]: true })}\n` : `${what} ${path}\n`,
        );
      }),
    );
}

function execCommand(): Command {
  return withOperationOptions(
    new Command('exec').description('execute a resource (e.g. /3/0/4 Reboot)').exitOverride(),
    false,
  )
    .argument('[arguments]', "execute arguments (LwM2M-TS-Core 1.1 §5.4.5), e.g. 0='v',1")
    .action((device: string, path: string, args: string | undefined, opts: OperationFlags) =>
      runCli(async () => {
        await new ApiClient(opts).call(
          'POST',
          operationUrl(device, path, '', opts),
          args !== undefined ? { arguments: args } : undefined,
        );
        process.stdout.write(
          opts.json
            ? `${JSON.stringify({ device, path, executed: true })}\n`
            : `executed ${path}\n`,
        );
      }),
    );
}

export interface ObserveFlags extends OperationFlags {
  count?: number;
  duration?: number;
}

function observeCommand(): Command {
  return withOperationOptions(
    new Command('observe')
      .description(
        'observe a resource, instance or object: print each new value until Ctrl-C, --count or --duration, then cancel',
      )
      .exitOverride(),
  )
    .option('--count <n>', 'stop after this many new values', positiveInteger)
    .option('--duration <seconds>', 'stop after this long', positiveNumber)
    .addHelpText(
      'after',
      `
The first line is the current value (the answer to Observe), then one line per notification.
With --json, each is one JSON object on a line: {"device","path","value"...,"ts"}.`,
    )
    .action((device: string, path: string, opts: ObserveFlags) =>
      runCli(() => observeAction(device, path, opts)),
    );
}

/** `/api/devices/{id}{path}{suffix}?format=&timeout=`. */
export function operationUrl(
  device: string,
  path: string,
  suffix: string,
  opts: OperationFlags,
): string {
  const q = new URLSearchParams();
  if (opts.format !== undefined) q.set('format', opts.format);
  if (opts.timeout !== undefined) q.set('timeout', String(Math.round(opts.timeout * 1000)));
  const query = q.size > 0 ? `?${q}` : '';
  return `/api/devices/${encodeURIComponent(device)}${path}${suffix}${query}`;
}

// ------------------------------------------------------------------------------ printing

/** A resource as `Name = value unit` lines; an instance or an object as a table. */
export function describeNode(node: NodeJson): string {
  if ('instances' in node) return nodeTable(Object.values((node as ObjectJson).instances));
  if ('resources' in node) return nodeTable([node as InstanceJson]);
  const r = node as ResourceJson;
  const name = r.name ?? r.path;
  const unit = r.unit ? ` ${r.unit}` : '';
  if (r.values === undefined) return `${name} = ${formatValue(r.value!, r.type)}${unit}\n`;
  const lines = Object.entries(r.values).map(
    ([ri, v]) => `${name}[${ri}] = ${formatValue(v, r.type)}${unit}\n`,
  );
  return lines.length ? lines.join('') : `${name} = (no instances)\n`;
}

function nodeTable(instances: InstanceJson[]): string {
  const rows: string[][] = [];
  for (const instance of instances) {
    for (const r of Object.values(instance.resources)) {
      const unit = r.unit ?? '';
      if (r.values === undefined) {
        rows.push([r.path, r.name ?? '', formatValue(r.value!, r.type), unit]);
        continue;
      }
      for (const [ri, v] of Object.entries(r.values)) {
        rows.push([`${r.path}/${ri}`, r.name ?? '', formatValue(v, r.type), unit]);
      }
    }
  }
  return table(['PATH', 'NAME', 'VALUE', 'UNIT'], rows);
}

const OPAQUE_SHOWN = 32;

/** A value as an operator reads it: a time with its date, opaque bytes in hex, a link as 3:0. */
function formatValue(value: JsonValue, type: string): string {
  if (typeof value === 'object') return `${value.objectId}:${value.instanceId}`;
  if (type === 'time' && typeof value === 'number') {
    const date = new Date(value * 1000);
    return Number.isNaN(date.getTime())
      ? String(value)
      : `${value} (${date.toISOString().replace('.000Z', 'Z')})`;
  }
  if (type === 'opaque' && typeof value === 'string') {
    const bytes = Buffer.from(value, 'base64');
    const hex = bytes.subarray(0, OPAQUE_SHOWN).toString('hex');
    return bytes.length > OPAQUE_SHOWN ? `0x${hex}... (${bytes.length} bytes)` : `0x${hex}`;
  }
  return String(value);
}

// ------------------------------------------------------------------------------ parsing

/** `/3303/0/5700` (the leading slash may be left out): 1 to 4 ids of 0..65535. */
function lwm2mPath(raw: string): string {
  const path = raw.startsWith('/') ? raw : `/${raw}`;
  const ids = path.slice(1).split('/');
  if (ids.length > 4 || !ids.every((s) => /^\d{1,5}$/.test(s) && Number(s) <= 65535)) {
    throw new InvalidArgumentError('not an LwM2M path like /3303/0/5700');
  }
  return `/${ids.map(Number).join('/')}`;
}

/** A number (integers past 2^53 stay decimal text, which the server takes), a boolean, or text. */
function typedValue(raw: string): JsonValue {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (/^-?\d+$/.test(raw)) return Number.isSafeInteger(Number(raw)) ? Number(raw) : raw;
  if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) return Number(raw);
  return raw;
}

function jsonObject(raw: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidArgumentError('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError('not a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function timeoutSeconds(raw: string): number {
  const n = positiveNumber(raw);
  if (n > MAX_TIMEOUT_SECONDS) {
    throw new InvalidArgumentError(`at most ${MAX_TIMEOUT_SECONDS} seconds`);
  }
  if (n < 0.001) throw new InvalidArgumentError('at least a millisecond');
  return n;
}
