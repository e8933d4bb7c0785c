/**
 * Fixtures of the LwM2M-over-MQTT tests: a broker on 127.0.0.1 (port 0) whose hooks feed an
 * `MqttLwm2mServer` as Tandem wires it, managed devices (`Lwm2mClient` on `MqttClientPort`),
 * and raw MQTT.js devices that speak the convention with cbor-x, independent of our codec.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { decode, Encoder, encode } from 'cbor-x';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { Lwm2mClient, type Lwm2mClientOptions } from '../../../src/lwm2m/client/index.js';
import { deviceTopic, MqttClientPort, MqttLwm2mServer } from '../../../src/lwm2m/mqtt/index.js';
import type { MqttLwm2mServerOptions } from '../../../src/lwm2m/mqtt/server.js';
import type { RegisteredEvent } from '../../../src/lwm2m/server/events.js';
import type { Registration } from '../../../src/lwm2m/server/registration.js';
import type { ClientInfo } from '../../../src/mqtt/options.js';
import { startBroker, type TestBroker } from '../../mqtt/helpers.js';
import { allObjects } from '../server/helpers.js';

export interface ManagedSetup {
  tb: TestBroker;
  server: MqttLwm2mServer;
  close(): Promise<void>;
}

/**
 * A broker and the server behind its hooks. With `owners`, a client logs in with its device id
 * as user name and may speak only for that endpoint (as Tandem's registry decides).
 */
export async function startManaged(
  options: Partial<MqttLwm2mServerOptions> & { owners?: boolean } = {},
): Promise<ManagedSetup> {
  let server: MqttLwm2mServer | undefined;
  const { owners, ...serverOptions } = options;
  const tb = await startBroker({
    hooks: {
      authenticate: (request) => ({
        accept: true,
        context: owners ? { deviceId: request.username } : undefined,
      }),
      authorizePublish: (client, message) => server?.handlePublish(client, message) ?? true,
      onConnect: (client, info) => server?.clientConnected(client, info),
      onDisconnect: (client, info) => server?.clientDisconnected(client, info),
    },
  });
  server = new MqttLwm2mServer({
    publish: (m) => tb.broker.publish(m),
    ...(owners
      ? {
          authorize: (client: ClientInfo, endpoint: string) =>
            (client.context as { deviceId?: string } | undefined)?.deviceId === endpoint,
        }
      : {}),
    ...serverOptions,
  });
  const s = server;
  return {
    tb,
    server: s,
    async close() {
      await s.close();
      await tb.close();
    },
  };
}

/** A managed device: our LwM2M client with every object, over MQTT. */
export async function managedDevice(
  tb: TestBroker,
  name: string,
  o: Partial<Omit<Lwm2mClientOptions, 'endpoint' | 'server' | 'name'>> & {
    mqtt?: IClientOptions;
  } = {},
) {
  const { mqtt: mqttOptions, ...clientOptions } = o;
  // The port listens before the connection is up: a session's queued requests come at once.
  const mqtt = connect(tb.url, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    clientId: name,
    username: name,
    ...mqttOptions,
  });
  tb.clients.push(mqtt);
  const port = new MqttClientPort({ mqtt, endpoint: name });
  const client = new Lwm2mClient({
    endpoint: port,
    server: { key: 'mqtt:server', address: 'mqtt', port: 0 },
    name,
    objects: allObjects(1883),
    lwm2mVersion: '1.2',
    binding: 'M',
    autoUpdate: false,
    ...clientOptions,
  });
  await port.start();
  return { mqtt, port, client };
}

/**
 * A message of the convention, as a raw device builds it with cbor-x's defaults (integer keys;
 * cbor-x wraps such a map in tag 259, which the server accepts).
 */
export function cbor(fields: Record<string | number, unknown>): Buffer {
  const m = new Map<unknown, unknown>();
  for (const [k, v] of Object.entries(fields)) m.set(/^\d+$/.test(k) ? Number(k) : k, v);
  return Buffer.from(encode(m));
}

// A cbor-x option that its typings lack.
const plain = new Encoder({ useTag259ForMaps: false } as ConstructorParameters<typeof Encoder>[0]);

/**
 * CBOR without cbor-x's map tag, as SenML CBOR must be (RFC 8428 §6); copied, as cbor-x reuses
 * its output buffer for the next encoding.
 */
export function plainCbor(value: unknown): Buffer {
  return Buffer.from(plain.encode(value));
}

/** A received message as a Map (cbor-x decodes maps with integer keys as Map or object). */
export function uncbor(bytes: Buffer): Map<unknown, unknown> {
  const v = decode(bytes) as unknown;
  if (v instanceof Map) return v;
  const m = new Map<unknown, unknown>();
  for (const [k, x] of Object.entries(v as object)) m.set(/^\d+$/.test(k) ? Number(k) : k, x);
  return m;
}

/** A raw device: an MQTT.js client subscribed to its topic, with the messages it got. */
export async function rawDevice(tb: TestBroker, name: string, options: IClientOptions = {}) {
  const mqtt: MqttClient = await tb.client({ clientId: name, username: name, ...options });
  const topic = deviceTopic(name);
  await mqtt.subscribeAsync(topic, { qos: 1 });
  const inbox: Map<unknown, unknown>[] = [];
  const waiters: (() => void)[] = [];
  mqtt.on('message', (t, payload) => {
    if (t !== topic) return;
    inbox.push(uncbor(payload));
    for (const w of waiters.splice(0)) w();
  });
  return {
    mqtt,
    topic,
    inbox,
    send: (fields: Record<string | number, unknown>) =>
      mqtt.publishAsync(topic, cbor(fields), { qos: 1 }),
    /** The next message matching `match`, taken out of the inbox. */
    async next(match: (m: Map<unknown, unknown>) => boolean = () => true) {
      for (;;) {
        const i = inbox.findIndex(match);
        if (i >= 0) return inbox.splice(i, 1)[0]!;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

/** The Register of a raw device: 1.2, SenML JSON and CBOR announced. */
export function registerFields(token: number, extra: Record<string | number, unknown> = {}) {
  return {
    1: 6,
    2: token,
    8: 300,
    9: '1.2',
    10: 'M',
    7: Buffer.from('</>;ct="110 112",</1/0>,</3/0>,</3303/0>;ver=1.1'),
    ...extra,
  };
}

/** Registers a raw device (token 1 by default) and waits for the 201 and the registration. */
export async function registerRaw(
  setup: ManagedSetup,
  raw: Awaited<ReturnType<typeof rawDevice>>,
  token = 1,
): Promise<Registration> {
  const registered = once(setup.server, 'registered') as Promise<[RegisteredEvent]>;
  await raw.send(registerFields(token));
  const answer = await raw.next((m) => m.get(2) === token && m.has(18));
  assert.equal(answer.get(18), 201);
  return (await registered)[0].registration;
}
