/**
 * The bridge to applications (issue 6): LwM2M devices' data and events on Tandem's own broker,
 * under `tandem/`, in the API's JSON shapes, and commands from MQTT 5 applications by
 * request/response. The topics are documented in docs/application-topics.md.
 *
 * - `tandem/devices/{id}/data{path}`: every value of a notification or a Send, one message per
 *   resource (instance) path: `{"path","value","type","unit","name","ts"}`.
 * - `tandem/devices/{id}/events/{registered|updated|deregistered|expired}`.
 * - `tandem/commands/{id}`: `{"op":"read","path":"/3/0/0"}` with a Response Topic and Correlation
 *   Data (MQTT 5.0 §4.10); the answer goes to the Response Topic with the same Correlation Data.
 *
 * Commands are taken in the broker's `authorizePublish` hook rather than by a subscription: the
 * broker has no server-side subscriber, an in-process MQTT client would cost a socket, a
 * session and a JSON round trip per command, and `onMessage` comes after routing — a command
 * (and the token in it) would reach every subscriber of `tandem/commands/#`. In the hook the
 * bridge takes the command and answers 0x10 No matching subscribers (MQTT 5.0 §3.4.2.1: the
 * message is accepted), so commands are never routed. Every other `tandem/` topic is the
 * server's: nobody else may publish there (0x87).
 */
import type { Logger } from 'pino';
import type { Lwm2mPathValue } from '../lwm2m/node/path-value.js';
import type { NotificationEvent, SendEvent, UpdatedEvent } from '../lwm2m/server/events.js';
import type { Registration } from '../lwm2m/server/registration.js';
import type { ServerPublish } from '../mqtt/broker.js';
import type { MqttMessage } from '../mqtt/message.js';
import type { ClientInfo } from '../mqtt/options.js';
import { ReasonCode } from '../mqtt/reason-codes.js';
import type { ApiRole, TokenStore } from '../store/ports.js';
import type { Clock } from '../util/clock.js';
import { resolveToken, roleAllows, TOKEN68 } from './api-tokens.js';
import { type Command, commandFromJson, toRequest } from './commands/command-json.js';
import { DeviceOperationError, fromLwm2mError } from './commands/errors.js';
import { accessOf, type DeviceCommands, type Lwm2mManagement } from './commands/operations.js';
import { sensorUnitsOf } from './commands/units.js';
import { type DataJson, dataJson, notificationValues, sendValues } from './lwm2m-data.js';
import { isTopicSafeId } from './mqtt-acl.js';
import { type MqttDataEvent, type MqttDeviceData, mqttDataJson } from './mqtt-data.js';

export const BRIDGE_ROOT = 'tandem/';
export const DATA_TOPIC = (id: string, path: string) => `tandem/devices/${id}/data${path}`;
export const EVENT_TOPIC = (id: string, event: string) => `tandem/devices/${id}/events/${event}`;
export const COMMAND_PREFIX = 'tandem/commands/';

export interface BridgeOptions {
  broker: { publish(message: ServerPublish): Promise<void> };
  /** The protocol adapters whose devices' data and events are bridged. */
  servers: readonly Lwm2mManagement[];
  /** Runs the commands from applications. */
  commands: DeviceCommands;
  /** Plain MQTT devices' messages, mapped by their profiles: their data is bridged too. */
  mqttData?: MqttDeviceData;
  /** API tokens, which authorise commands (user property `authorization: Bearer <token>`). */
  tokens?: TokenStore;
  /** Commands without a token may read: the loopback development mode, as in the API. */
  anonymousReads: boolean;
  clock: Clock;
  logger: Logger;
  /** Publish data retained, so a new subscriber gets each resource's last value. Default false. */
  retainData?: boolean;
  /** QoS of data and events. Default 0. */
  qos?: 0 | 1 | 2;
}

export class Bridge {
  readonly #o: BridgeOptions;
  readonly #unsubscribe: (() => void)[] = [];
  /**
   * Each device's publishes go out one after the other (a retained last value is the last
   * one); devices do not wait for each other.
   */
  readonly #chains = new Map<string, Promise<void>>();
  #closed = false;

  constructor(options: BridgeOptions) {
    this.#o = options;
    for (const server of options.servers) this.#follow(server);
    const { mqttData } = options;
    if (mqttData) {
      const onData = (e: MqttDataEvent) => {
        if (!this.#bridged(e.deviceId)) return;
        const json = mqttDataJson(e, mqttData.model);
        this.#enqueue(e.deviceId, () => this.#publishData(e.deviceId, json));
      };
      mqttData.events.on('data', onData);
      this.#unsubscribe.push(() => mqttData.events.off('data', onData));
    }
  }

  #follow(server: Lwm2mManagement): void {
    // First, so that a notification's sensor units are known when its values are published.
    sensorUnitsOf(server);
    const on = <
      E extends 'notification' | 'send' | 'registered' | 'updated' | 'deregistered' | 'expired',
    >(
      event: E,
      listener: (...args: never[]) => void,
    ) => {
      server.on(event, listener as never);
      this.#unsubscribe.push(() => server.off(event, listener as never));
    };
    on('notification', (e: NotificationEvent) =>
      this.#data(server, e.observation.endpoint, notificationValues(e)),
    );
    on('send', (e: SendEvent) => this.#data(server, e.registration.endpoint, sendValues(e)));
    on('registered', (e: { registration: Registration }) =>
      this.#event(e.registration.endpoint, 'registered', {
        registration: registrationJson(e.registration),
      }),
    );
    on('updated', (e: UpdatedEvent) =>
      this.#event(e.current.endpoint, 'updated', {
        registration: registrationJson(e.current),
        moved: e.moved,
      }),
    );
    on('deregistered', (r: Registration) =>
      this.#event(r.endpoint, 'deregistered', { registrationId: r.id }),
    );
    on('expired', (r: Registration) =>
      this.#event(r.endpoint, 'expired', { registrationId: r.id }),
    );
  }

  /**
   * The broker's `authorizePublish`, for the `tandem/` namespace: undefined for other topics
   * (the caller's own policy decides), 0x10 for a command (taken, not routed), 0x87 otherwise.
   */
  authorizePublish(client: ClientInfo, message: MqttMessage): boolean | number | undefined {
    if (!message.topic.startsWith(BRIDGE_ROOT)) return undefined;
    // Devices neither command devices nor speak for Tandem, whatever their ACL patterns say.
    const isDevice = (client.context as { deviceId?: string } | undefined)?.deviceId !== undefined;
    if (isDevice || !message.topic.startsWith(COMMAND_PREFIX)) return false;
    const appRole = (client.context as { app?: { role: ApiRole } } | undefined)?.app?.role;
    void this.#command(message, appRole).catch((err: unknown) =>
      this.#o.logger.error({ err, topic: message.topic }, 'bridge: a command failed'),
    );
    return ReasonCode.NoMatchingSubscribers;
  }

  /** Stops publishing; commands in flight are not answered. */
  close(): void {
    this.#closed = true;
    for (const off of this.#unsubscribe.splice(0)) off();
  }

  // ------------------------------------------------------------------ data and events

  #data(server: Lwm2mManagement, endpoint: string, values: readonly Lwm2mPathValue[]): void {
    if (values.length === 0 || !this.#bridged(endpoint)) return;
    const now = this.#o.clock.now();
    this.#enqueue(endpoint, async () =>
      this.#publishData(endpoint, await dataJson(server, endpoint, values, now)),
    );
  }

  async #publishData(endpoint: string, values: readonly DataJson[]): Promise<void> {
    for (const body of values) {
      await this.#publish(DATA_TOPIC(endpoint, body.path), body, {
        retain: this.#o.retainData ?? false,
      });
    }
  }

  #event(endpoint: string, event: string, details: Record<string, unknown>): void {
    if (!this.#bridged(endpoint)) return;
    const ts = new Date(this.#o.clock.now()).toISOString();
    const body = { event, deviceId: endpoint, ts, ...details };
    this.#enqueue(endpoint, () =>
      this.#publish(EVENT_TOPIC(endpoint, event), body, { retain: false }),
    );
  }

  /** Endpoint names that cannot be one topic level are not bridged (the registry refuses them). */
  #bridged(endpoint: string): boolean {
    if (this.#closed) return false;
    if (isTopicSafeId(endpoint)) return true;
    this.#o.logger.debug({ endpoint }, 'bridge: endpoint name is not a topic level, not bridged');
    return false;
  }

  #enqueue(endpoint: string, task: () => Promise<void>): void {
    const chain = (this.#chains.get(endpoint) ?? Promise.resolve())
      .then(task)
      .catch((err: unknown) => {
        if (!this.#closed) this.#o.logger.warn({ err, endpoint }, 'bridge: publish failed');
      })
      .finally(() => {
        if (this.#chains.get(endpoint) === chain) this.#chains.delete(endpoint);
      });
    this.#chains.set(endpoint, chain);
  }

  #publish(topic: string, body: unknown, options: { retain: boolean; qos?: 0 | 1 | 2 }) {
    if (this.#closed) return Promise.resolve();
    return this.#o.broker.publish({
      topic,
      payload: Buffer.from(JSON.stringify(body)),
      qos: options.qos ?? this.#o.qos ?? 0,
      retain: options.retain,
      properties: { contentType: 'application/json', payloadFormatIndicator: true },
    });
  }

  // ------------------------------------------------------------------ commands

  /** `appRole`: the role of the API token the publishing application logged in with. */
  async #command(message: MqttMessage, appRole: ApiRole | undefined): Promise<void> {
    const deviceId = message.topic.slice(COMMAND_PREFIX.length);
    const { responseTopic, correlationData, userProperties } = message.properties;
    let status: number;
    let body: unknown;
    try {
      if (!isTopicSafeId(deviceId)) {
        throw new DeviceOperationError(
          'TANDEM_ERR_VALIDATION',
          'the topic is tandem/commands/{id}',
        );
      }
      const command = parseCommand(message.payload);
      await this.#authorize(userProperties, accessOf(command.op), appRole);
      const result = await this.#o.commands.run(deviceId, toRequest(command));
      status = result.status;
      body = result.body ?? {};
      if (command.op !== 'read' && command.op !== 'discover' && command.op !== 'read-composite') {
        this.#o.logger.info({ deviceId, op: command.op }, 'device operation (mqtt command)');
      }
    } catch (e) {
      const err = e instanceof DeviceOperationError ? e : fromLwm2mError(e, deviceId);
      if (err.code === 'TANDEM_ERR_INTERNAL') {
        this.#o.logger.error({ err: e, deviceId }, 'bridge: command failed');
      }
      status = err.statusCode;
      body = err.body();
    }
    // MQTT 5.0 §4.10: no Response Topic, nobody to answer (the command still ran).
    if (responseTopic === undefined || !mayRespondOn(responseTopic) || this.#closed) return;
    await this.#o.broker.publish({
      topic: responseTopic,
      payload: Buffer.from(JSON.stringify(body)),
      qos: message.qos === 0 ? 0 : 1,
      retain: false,
      properties: {
        contentType: 'application/json',
        payloadFormatIndicator: true,
        // MQTT 5.0 §4.10.2: the response carries the request's Correlation Data.
        ...(correlationData !== undefined ? { correlationData } : {}),
        userProperties: [['status', String(status)]],
      },
    });
  }

  /**
   * The API's rule: a token of the operation's role (in the `authorization` user property, or
   * the one the application logged in with), or an anonymous read in development mode.
   */
  async #authorize(
    userProperties: readonly [string, string][] | undefined,
    needed: ApiRole,
    appRole: ApiRole | undefined,
  ): Promise<void> {
    const header = userProperties?.find(([k]) => k.toLowerCase() === 'authorization')?.[1];
    if (header === undefined && appRole !== undefined) {
      if (roleAllows(appRole, needed)) return;
      throw new DeviceOperationError(
        'TANDEM_ERR_FORBIDDEN',
        `a ${appRole} token may not run this command; it needs ${needed}`,
      );
    }
    if (header === undefined) {
      if (this.#o.anonymousReads && needed === 'read-only') return;
      throw new DeviceOperationError(
        'TANDEM_ERR_UNAUTHORIZED',
        'this command needs the user property authorization: Bearer <token>',
      );
    }
    const secret = /^Bearer +(\S+) *$/i.exec(header)?.[1];
    const token =
      secret !== undefined && TOKEN68.test(secret) && this.#o.tokens
        ? await resolveToken(this.#o.tokens, secret)
        : undefined;
    if (!token)
      throw new DeviceOperationError('TANDEM_ERR_UNAUTHORIZED', 'unknown or revoked token');
    if (!roleAllows(token.role, needed)) {
      throw new DeviceOperationError(
        'TANDEM_ERR_FORBIDDEN',
        `a ${token.role} token may not run this command; it needs ${needed}`,
      );
    }
  }
}

function parseCommand(payload: Buffer): Command {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new DeviceOperationError('TANDEM_ERR_BAD_REQUEST', 'the command is not JSON');
  }
  return commandFromJson(json);
}

/** Responses never go where only the server publishes, nor to `$` topics. */
function mayRespondOn(topic: string): boolean {
  return (
    !topic.startsWith('$') &&
    (!topic.startsWith(BRIDGE_ROOT) || topic.startsWith('tandem/responses/'))
  );
}

function registrationJson(r: Registration) {
  return {
    id: r.id,
    lwm2mVersion: r.lwm2mVersion,
    lifetime: r.lifetime,
    binding: r.binding,
    queueMode: r.queueMode,
    objectLinks: r.objectLinks.map((l) => l.path),
    registeredAt: new Date(r.registeredAt).toISOString(),
  };
}
