/**
 * The devices' event stream as applications see it, one JSON shape for every consumer: the
 * API's Server-Sent Events (`/api/events`) and WebSocket (`/api/stream`), and webhooks.
 *
 * Every event is `{"type","device","ts",...}`:
 * - `registered` (the device was created) and `updated`: `data` is the device as the API shows
 *   it; `updated` also lists the credential kinds it `revoked`;
 * - `deleted`; `revoked`: the credential `kinds` and how many `sessionsClosed`;
 * - `online` and `offline`: the `protocol` of the connection or registration;
 * - `data`: one value a device reported (LwM2M notification or Send), `path` and `data`, the
 *   resource as `GET /api/devices/{id}/{path}` shows it; `ts` is the value's time.
 */
import type { CommandRecord } from '../store/ports.js';
import type { Clock } from '../util/clock.js';
import { type CommandQueue, commandJson } from './commands/queue.js';
import { sensorUnitsOf } from './commands/units.js';
import type { DeviceRegistry, DeviceView, RegistryEvents } from './device-registry.js';
import { invalid } from './errors.js';
import {
  type DataJson,
  dataJson,
  type Lwm2mDataSource,
  notificationValues,
  sendValues,
} from './lwm2m-data.js';
import { type MqttDataEvent, type MqttDeviceData, mqttDataJson } from './mqtt-data.js';

export const DEVICE_EVENT_TYPES = [
  'registered',
  'updated',
  'deleted',
  'revoked',
  'online',
  'offline',
  'data',
  'command',
] as const;
export type DeviceEventType = (typeof DEVICE_EVENT_TYPES)[number];

export interface DeviceEvent {
  readonly type: DeviceEventType;
  /** The device id. */
  readonly device: string;
  /** ISO 8601: when it happened, or (data) the time of the value. */
  readonly ts: string;
  /** Data events: the resource (instance) path of the value. */
  readonly path?: string;
  readonly [detail: string]: unknown;
}

/** Which events a consumer wants; an absent or empty list lets every value through. */
export interface DeviceEventFilter {
  readonly types?: readonly DeviceEventType[];
  readonly devices?: readonly string[];
  /** Only data events, at or below one of these LwM2M paths (`/3303` takes `/3303/0/5700`). */
  readonly paths?: readonly string[];
}

/** Bounds of a filter, so that matching an event stays cheap. */
export const MAX_FILTER_DEVICES = 100;
export const MAX_FILTER_PATHS = 32;
const PATH_PATTERN = /^(\/\d{1,5}){1,4}$/;

export function eventMatches(filter: DeviceEventFilter, e: DeviceEvent): boolean {
  if (filter.types?.length && !filter.types.includes(e.type)) return false;
  if (filter.devices?.length && !filter.devices.includes(e.device)) return false;
  if (filter.paths?.length) {
    const path = e.path;
    if (path === undefined) return false;
    return filter.paths.some((p) => path === p || path.startsWith(`${p}/`));
  }
  return true;
}

/**
 * Checks a filter from the outside (query strings, WebSocket messages, webhook definitions):
 * known types, at most MAX_FILTER_DEVICES ids and MAX_FILTER_PATHS paths. Throws a HubError
 * naming `prefix.types`, `prefix.devices` or `prefix.paths`.
 */
export function checkEventFilter(
  input: { types?: unknown; devices?: unknown; paths?: unknown },
  fields: { types: string; devices: string; paths: string },
): DeviceEventFilter {
  const list = (value: unknown, field: string, max: number): string[] | undefined => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) {
      throw invalid(field, 'must be a list of non-empty strings');
    }
    if (value.length > max) throw invalid(field, `at most ${max} entries`);
    return [...new Set(value as string[])];
  };
  const types = list(input.types, fields.types, DEVICE_EVENT_TYPES.length);
  for (const t of types ?? []) {
    if (!(DEVICE_EVENT_TYPES as readonly string[]).includes(t)) {
      throw invalid(
        fields.types,
        `unknown event type ${t} (known: ${DEVICE_EVENT_TYPES.join(', ')})`,
      );
    }
  }
  const devices = list(input.devices, fields.devices, MAX_FILTER_DEVICES);
  for (const d of devices ?? []) {
    if (d.length > 128) throw invalid(fields.devices, 'a device id has at most 128 characters');
  }
  const paths = list(input.paths, fields.paths, MAX_FILTER_PATHS)?.map((p) =>
    p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p,
  );
  for (const p of paths ?? []) {
    // LwM2M-TS-Core 1.1 §6.1: /{object}[/{instance}[/{resource}[/{resource instance}]]].
    if (!PATH_PATTERN.test(p))
      throw invalid(fields.paths, `${p} is not an LwM2M path like /3303/0/5700`);
  }
  return {
    ...(types?.length ? { types: types as DeviceEventType[] } : {}),
    ...(devices?.length ? { devices } : {}),
    ...(paths?.length ? { paths } : {}),
  };
}

/** `a,b , c` as a list; undefined for an absent or empty parameter. */
export function commaList(text: string | undefined): string[] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  return text.split(',').map((s) => s.trim());
}

/** The device as the API shows it: dates in ISO 8601. */
export interface DeviceJson extends Omit<DeviceView, 'createdAt' | 'updatedAt'> {
  createdAt: string;
  updatedAt: string;
}

export function deviceJson(d: DeviceView): DeviceJson {
  return {
    ...d,
    createdAt: new Date(d.createdAt).toISOString(),
    updatedAt: new Date(d.updatedAt).toISOString(),
  };
}

export interface DeviceEventFeedOptions {
  devices: DeviceRegistry;
  /** The protocol adapters whose notifications and Sends become data events. */
  sources?: readonly Lwm2mDataSource[];
  /** Plain MQTT devices' messages, mapped by their profiles: data events too. */
  mqttData?: MqttDeviceData;
  /** Queued commands: a command event at each change of state, the result included. */
  commands?: CommandQueue;
  clock: Clock;
  /** A data event that could not be made (the adapter failed), or a consumer that threw. */
  onError?: (err: unknown) => void;
}

type Listener = (event: DeviceEvent) => void;

/**
 * Turns the registry's events and the adapters' data into DeviceEvents and hands each to the
 * consumers whose filter it matches. A device's events reach every consumer in the order they
 * happened: data needs an asynchronous look-up of the device's model, so while a device has
 * data in the making its other events wait behind it.
 */
export class DeviceEventFeed {
  readonly #o: DeviceEventFeedOptions;
  readonly #consumers = new Map<Listener, DeviceEventFilter>();
  readonly #chains = new Map<string, Promise<void>>();
  readonly #detach: (() => void)[] = [];

  constructor(options: DeviceEventFeedOptions) {
    this.#o = options;
    const events = options.devices.events;
    const handlers: { [K in keyof RegistryEvents]: (e: RegistryEvents[K]) => void } = {
      registered: (e) => this.#emit('registered', e.device.id, { data: deviceJson(e.device) }),
      updated: (e) =>
        this.#emit('updated', e.device.id, { data: deviceJson(e.device), revoked: e.revoked }),
      deleted: (e) => this.#emit('deleted', e.id, {}),
      revoked: (e) =>
        this.#emit('revoked', e.id, { kinds: e.kinds, sessionsClosed: e.sessionsClosed }),
      online: (e) => this.#emit('online', e.id, { protocol: e.protocol }),
      offline: (e) => this.#emit('offline', e.id, { protocol: e.protocol }),
    };
    const follow = <K extends keyof RegistryEvents>(type: K) => {
      events.on(type, handlers[type]);
      this.#detach.push(() => events.off(type, handlers[type]));
    };
    for (const type of Object.keys(handlers) as (keyof RegistryEvents)[]) follow(type);
    for (const source of options.sources ?? []) {
      // First, so that the Sensor Units a notification carries name the unit of its values.
      sensorUnitsOf(source);
      const onNotification = (e: Parameters<typeof notificationValues>[0]) =>
        this.#data(source, e.observation.endpoint, () => notificationValues(e));
      const onSend = (e: Parameters<typeof sendValues>[0]) =>
        this.#data(source, e.registration.endpoint, () => sendValues(e));
      source.on('notification', onNotification);
      source.on('send', onSend);
      this.#detach.push(() => {
        source.off('notification', onNotification);
        source.off('send', onSend);
      });
    }
    const { mqttData, commands } = options;
    if (mqttData) {
      const onData = (e: MqttDataEvent) => {
        if (this.#consumers.size === 0) return;
        const json = mqttDataJson(e, mqttData.model);
        this.#after(e.deviceId, async () => {
          for (const data of json) this.#deliver(dataEvent(e.deviceId, data));
        });
      };
      mqttData.events.on('data', onData);
      this.#detach.push(() => mqttData.events.off('data', onData));
    }
    if (commands) {
      const onCommand = (r: CommandRecord) =>
        this.#emit('command', r.deviceId, { command: commandJson(r) });
      commands.events.on('changed', onCommand);
      this.#detach.push(() => commands.events.off('changed', onCommand));
    }
  }

  /** Calls `listener` with every event `filter` matches until the returned function is called. */
  subscribe(filter: DeviceEventFilter, listener: Listener): () => void {
    // The same function twice is two consumers.
    const own: Listener = (e) => listener(e);
    this.#consumers.set(own, filter);
    return () => this.#consumers.delete(own);
  }

  /** How many consumers are subscribed. */
  get consumers(): number {
    return this.#consumers.size;
  }

  /** Stops: no more events, and the registry and adapters forget this feed. */
  close(): void {
    for (const detach of this.#detach.splice(0)) detach();
    this.#consumers.clear();
  }

  #emit(type: DeviceEventType, device: string, details: Record<string, unknown>): void {
    const ts = new Date(this.#o.clock.now()).toISOString();
    const event: DeviceEvent = { type, device, ts, ...details };
    if (this.#chains.has(device)) this.#after(device, async () => this.#deliver(event));
    else this.#deliver(event);
  }

  #data(source: Lwm2mDataSource, device: string, values: () => ReturnType<typeof sendValues>) {
    if (this.#consumers.size === 0) return;
    const now = this.#o.clock.now();
    let taken: ReturnType<typeof sendValues>;
    try {
      taken = values();
    } catch (err) {
      // A path the adapter let through but that does not parse: nothing to tell.
      this.#o.onError?.(err);
      return;
    }
    if (taken.length === 0) return;
    this.#after(device, async () => {
      for (const data of await dataJson(source, device, taken, now))
        this.#deliver(dataEvent(device, data));
    });
  }

  #after(device: string, task: () => Promise<void>): void {
    const chain = (this.#chains.get(device) ?? Promise.resolve())
      .then(task)
      .catch((err: unknown) => this.#o.onError?.(err))
      .finally(() => {
        if (this.#chains.get(device) === chain) this.#chains.delete(device);
      });
    this.#chains.set(device, chain);
  }

  #deliver(event: DeviceEvent): void {
    for (const [listener, filter] of [...this.#consumers]) {
      if (!eventMatches(filter, event)) continue;
      try {
        listener(event);
      } catch (err) {
        this.#o.onError?.(err);
      }
    }
  }
}

function dataEvent(device: string, data: DataJson): DeviceEvent {
  const { ts, ...resource } = data;
  return { type: 'data', device, ts, path: resource.path, data: resource };
}
