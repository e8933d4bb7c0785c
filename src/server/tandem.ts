import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { buildApi } from '../api/app.js';
import type { HealthReport, ListenerStatus } from '../api/routes/health.js';
import { LISTENER_NAMES, type ListenerName, type TandemConfig } from '../config/schema.js';
import type { DtlsServer } from '../dtls/server.js';
import { DtlsServerTransport } from '../dtls/server-transport.js';
import { installEnvAdminToken } from '../hub/api-tokens.js';
import { AuthThrottle } from '../hub/auth-throttle.js';
import { Bridge } from '../hub/bridge.js';
import { DeviceCommands } from '../hub/commands/operations.js';
import { CommandQueue } from '../hub/commands/queue.js';
import { provenBy } from '../hub/credentials.js';
import { DeviceEventFeed } from '../hub/device-events.js';
import { DeviceRegistry } from '../hub/device-registry.js';
import { storeLwm2mTelemetry } from '../hub/lwm2m-telemetry.js';
import { appMayPublish, deviceAcl } from '../hub/mqtt-acl.js';
import { APP_USERNAME, type AppLogin, authenticateApp } from '../hub/mqtt-auth.js';
import { MqttDeviceData } from '../hub/mqtt-data.js';
import { DeviceProfiles } from '../hub/profile-service.js';
import { PskCache } from '../hub/psk-cache.js';
import { Webhooks } from '../hub/webhooks.js';
import { silentLogger } from '../log.js';
import { ObjectRegistry, omaRegistry } from '../lwm2m/model/object-registry.js';
import { MqttLwm2mServer } from '../lwm2m/mqtt/server.js';
import type { Registration } from '../lwm2m/server/registration.js';
import type { Lwm2mServer } from '../lwm2m/server/server.js';
import { openStore } from '../store/open.js';
import type { DeviceCredentials, Store } from '../store/ports.js';
import { PostgresStore } from '../store/postgres/index.js';
import { SqliteStore } from '../store/sqlite/index.js';
import { MQTT_TABLES, SqliteRegistrationStore } from '../store/sqlite/registration-store.js';
import { type Clock, systemClock } from '../util/clock.js';
import { packageVersion } from '../util/package-root.js';
import { BootstrapService } from './bootstrap-service.js';
import { CoapService } from './coap-service.js';
import { dtlsMetrics } from './dtls-metrics.js';
import { formatAddress, isLoopback, listenStream } from './listen.js';
import { Lwm2mService } from './lwm2m-service.js';
import { createMetricsRegistry, gaugeFrom } from './metrics.js';
import { MqttService } from './mqtt-service.js';
import { webhookMetrics } from './webhook-metrics.js';

export interface TandemOptions {
  /** A validated configuration (see loadConfig / configSchema). */
  config: TandemConfig;
  logger?: Logger;
  clock?: Clock;
  /** Storage backend; the embedded SQLite store in `config.dataDir` when absent. */
  store?: Store;
  /**
   * The operator's admin API token (TANDEM_ADMIN_TOKEN), installed at start as token
   * `env-admin` and replaced when it changes.
   */
  adminToken?: string;
}

export interface BoundAddress {
  host: string;
  port: number;
}

type State = 'new' | 'starting' | 'started' | 'stopping' | 'stopped';

/**
 * One Tandem server: its listeners, protocol engines, store and API. No module-level state:
 * tests start many side by side on port 0.
 */
export class Tandem {
  readonly config: TandemConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly metrics: Registry;
  readonly version = packageVersion();
  #state: State = 'new';
  #startedAt = 0;
  #store: Store | undefined;
  #ownsStore: boolean;
  #api: FastifyInstance | undefined;
  readonly #addresses = new Map<ListenerName, BoundAddress>();
  readonly psk = new PskCache();
  /** Failed device authentication, throttled per source address. */
  readonly authThrottle: AuthThrottle;
  #mqtt: MqttService | undefined;
  #coap: CoapService | undefined;
  #lwm2m: Lwm2mService | undefined;
  #managedMqtt: MqttLwm2mServer | undefined;
  #registry: ObjectRegistry | undefined;
  #bootstrap: BootstrapService | undefined;
  #devices: DeviceRegistry | undefined;
  #bridge: Bridge | undefined;
  #events: DeviceEventFeed | undefined;
  #webhooks: Webhooks | undefined;
  #commands: DeviceCommands | undefined;
  #queue: CommandQueue | undefined;
  #profiles: DeviceProfiles | undefined;
  #mqttData: MqttDeviceData | undefined;
  readonly #adminToken: string | undefined;

  constructor(options: TandemOptions) {
    this.config = options.config;
    this.logger = options.logger ?? silentLogger();
    this.clock = options.clock ?? systemClock;
    this.#store = options.store;
    this.#ownsStore = !options.store;
    this.#adminToken = options.adminToken;
    this.metrics = createMetricsRegistry();
    this.authThrottle = new AuthThrottle(this.clock);
  }

  get store(): Store {
    if (!this.#store) throw new Error('Tandem is not started');
    return this.#store;
  }

  /** The MQTT side (broker and its listeners), once started. */
  get mqtt(): MqttService {
    if (!this.#mqtt) throw new Error('Tandem is not started');
    return this.#mqtt;
  }

  /** The device registry (the hub's API for devices), once started. */
  get devices(): DeviceRegistry {
    if (!this.#devices) throw new Error('Tandem is not started');
    return this.#devices;
  }

  /** The CoAP side (one endpoint per CoAP listener), once started. */
  get coap(): CoapService {
    if (!this.#coap) throw new Error('Tandem is not started');
    return this.#coap;
  }

  /** The LwM2M server of managed MQTT devices (docs/lwm2m-over-mqtt.md), once started. */
  get managedMqtt(): MqttLwm2mServer {
    if (!this.#managedMqtt) throw new Error('Tandem is not started');
    return this.#managedMqtt;
  }

  /** The LwM2M Bootstrap-Server on the bootstrap listeners, once started. */
  get bootstrap(): BootstrapService {
    if (!this.#bootstrap) throw new Error('Tandem is not started');
    return this.#bootstrap;
  }

  /** The hub's commands to devices, whatever protocol they speak. */
  get commands(): DeviceCommands {
    if (!this.#commands) throw new Error('Tandem is not started');
    return this.#commands;
  }

  /** The LwM2M server on the coap and coaps listeners, once started. */
  get lwm2m(): Lwm2mService {
    if (!this.#lwm2m) throw new Error('Tandem is not started');
    return this.#lwm2m;
  }

  /**
   * Devices may connect without credentials only when every device listener is bound to
   * loopback, or when `allowAnonymous` says so; both cases are logged as a warning at start.
   */
  get anonymousAllowed(): boolean {
    return this.config.allowAnonymous || this.#deviceHosts().every(isLoopback);
  }

  /**
   * The API lets requests without a token read only when every listener, HTTP included, is
   * bound to loopback; `allowAnonymous` (which opens device access) does not open the API.
   */
  get apiAnonymousReads(): boolean {
    return LISTENER_NAMES.filter((n) => this.config.listeners[n].port !== 'off')
      .map((n) => this.#hostOf(n))
      .every(isLoopback);
  }

  /** The bound address of a started listener (port 0 resolved), undefined when off. */
  address(name: ListenerName): BoundAddress | undefined {
    return this.#addresses.get(name);
  }

  /** `host:port` of every started listener. */
  addresses(): Partial<Record<ListenerName, string>> {
    const out: Partial<Record<ListenerName, string>> = {};
    for (const [name, a] of this.#addresses) out[name] = formatAddress(a.host, a.port);
    return out;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`cannot start a Tandem that is ${this.#state}`);
    this.#state = 'starting';
    this.#startedAt = this.clock.now();
    try {
      this.#store ??= await openStore(this.config, this.clock, (err) =>
        this.logger.error({ err }, 'store: a background write or retention sweep failed'),
      );
      await this.psk.load(this.#store.devices);
      this.#devices = new DeviceRegistry({
        store: this.#store.devices,
        psk: this.psk,
        // The registry has closed the MQTT connections and LwM2M registrations it knows of;
        // the DTLS sessions that a revoked PSK, raw public key or certificate opened are
        // closed here, on every DTLS listener. Persistent MQTT sessions of a deleted device
        // stay in the broker until they expire.
        onRevoke: (deviceId, kinds, revoked) => {
          const closed = this.#closeDtlsSessions(revoked);
          this.logger.info(
            { deviceId, kinds, dtlsSessionsClosed: closed },
            'device credentials revoked',
          );
        },
        onListenerError: (err, event) =>
          this.logger.error({ err, event }, 'a device event listener failed'),
      });
      if (this.#adminToken !== undefined) {
        await installEnvAdminToken(this.#store.tokens, this.#adminToken);
      }
      this.#registerMetrics();
      this.#warnIfOpen();
      await this.#startManagedMqtt();
      await this.#startMqtt();
      await this.#startCoap();
      this.#startLwm2m();
      const attachLwm2m = this.#trackPresence(this.lwm2m.server, 'lwm2m');
      // Registrations (and their observations) the store kept across a restart are online
      // devices again.
      for (const registration of await this.lwm2m.restore()) attachLwm2m(registration);
      this.#profiles = new DeviceProfiles({
        store: this.store.profiles,
        devices: this.devices,
        model: this.lwm2m.server.registry.modelFor(),
      });
      this.#mqttData = new MqttDeviceData({
        profiles: this.#profiles,
        telemetry: this.store.telemetry,
        clock: this.clock,
        logger: this.logger.child({ component: 'mqtt-data' }),
      });
      const servers = [this.lwm2m.server, this.managedMqtt];
      this.#commands = new DeviceCommands({ servers, devices: this.devices });
      this.#queue = new CommandQueue({
        commands: this.#commands,
        servers,
        store: this.store.commands,
        devices: this.devices,
        clock: this.clock,
        logger: this.logger.child({ component: 'commands' }),
      });
      await this.#queue.start();
      this.#bridge = new Bridge({
        broker: this.mqtt.broker,
        servers,
        commands: this.#commands,
        ...(this.#mqttData ? { mqttData: this.#mqttData } : {}),
        tokens: this.store.tokens,
        anonymousReads: this.apiAnonymousReads,
        retainData: this.config.bridge.retainData,
        qos: this.config.bridge.qos,
        clock: this.clock,
        logger: this.logger.child({ component: 'bridge' }),
      });
      await this.#startWebhooks();
      await this.#startHttp();
    } catch (err) {
      await this.#shutdown();
      this.#state = 'stopped';
      throw err;
    }
    // Every service is wired and what the store kept is resumed: the CoAP listeners take what
    // devices sent meanwhile, e.g. notifications of restored observations.
    const { held, dropped } = this.coap.release();
    if (held > 0 || dropped > 0) {
      this.logger.info({ held, dropped }, 'CoAP datagrams received during start handed over');
    }
    this.#state = 'started';
    this.logger.info(this.addresses(), 'listening');
  }

  /**
   * Graceful stop: stop accepting, let the engines say goodbye and drain, cut what is still
   * open after `shutdownTimeoutMs`, then flush and close the store.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping' || this.#state === 'new') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    await this.#shutdown();
    this.#state = 'stopped';
    this.logger.info('stopped');
  }

  health(): HealthReport {
    const listeners: Record<string, ListenerStatus> = {};
    for (const name of LISTENER_NAMES) {
      const bound = this.#addresses.get(name);
      if (bound)
        listeners[name] = { status: 'listening', address: formatAddress(bound.host, bound.port) };
      else if (this.config.listeners[name].port === 'off') listeners[name] = { status: 'off' };
      else listeners[name] = { status: 'stopped' };
    }
    const store = this.#store?.health() ?? { ok: false, backend: 'none', detail: 'not started' };
    const allUp = Object.values(listeners).every((l) => l.status !== 'stopped');
    return {
      status: store.ok && allUp && this.#state === 'started' ? 'ok' : 'degraded',
      version: this.version,
      uptimeSeconds: Math.max(0, (this.clock.now() - this.#startedAt) / 1000),
      listeners,
      storage: {
        status: store.ok ? 'ok' : 'failing',
        backend: store.backend,
        ...(store.detail ? { detail: store.detail } : {}),
      },
    };
  }

  /** The embedded SQLite store of this node: the store itself, or the one beside Postgres. */
  #embedded(): SqliteStore | undefined {
    const store = this.#store;
    return store instanceof PostgresStore
      ? store.local
      : store instanceof SqliteStore
        ? store
        : undefined;
  }

  #hostOf(name: ListenerName): string {
    return this.config.listeners[name].host ?? this.config.host;
  }

  #deviceHosts(): string[] {
    return LISTENER_NAMES.filter(
      (n) => n !== 'http' && this.config.listeners[n].port !== 'off',
    ).map((n) => this.#hostOf(n));
  }

  #warnIfOpen(): void {
    if (this.config.allowAnonymous) {
      this.logger.warn(
        'allowAnonymous is set: devices may connect without credentials from any address',
      );
    } else if (this.anonymousAllowed) {
      this.logger.warn(
        'every device listener is bound to loopback: devices may connect without credentials (development mode); bind another host to require authentication',
      );
    }
  }

  async #startMqtt(): Promise<void> {
    const store = this.store;
    const local = this.#embedded();
    if (local) {
      const log = this.logger.child({ component: 'mqtt' });
      local.mqtt.onError = (err) => log.error({ err }, 'mqtt store: lazy deletions not committed');
    }
    const anonymous = this.anonymousAllowed;
    const acl = deviceAcl(this.config.mqtt.deviceTopics);
    const throttle = this.authThrottle;
    const deviceOf = (context: unknown) => (context as { deviceId?: string } | undefined)?.deviceId;
    const devices = this.devices;
    const streams = new Map<string, Duplex>();
    this.#mqtt = new MqttService({
      config: this.config,
      logger: this.logger.child({ component: 'mqtt' }),
      clock: this.clock,
      version: this.version,
      // The embedded store keeps the broker's state in its SQLite file (survives kill -9);
      // a store given without one leaves it in the broker's memory.
      ...(local ? { persistence: local.mqtt } : {}),
      // Each connection's stream, by peer address (which the authenticate hook also sees), so
      // that a device is online exactly while its authenticated connection is open.
      onConnection: (stream, info) => {
        const key = streamKey(info);
        streams.set(key, stream);
        stream.once('close', () => {
          if (streams.get(key) === stream) streams.delete(key);
        });
      },
      hooks: {
        authenticate: async (request) => {
          if (throttle.lockedFor(request.remoteAddress) > 0) {
            // MQTT 5.0 §3.2.2.2: 0x9F Connection rate exceeded.
            return { accept: false, reasonCode: 0x9f, reasonString: 'too many failed attempts' };
          }
          if (request.username === APP_USERNAME) {
            const app = await authenticateApp(store.tokens, request.password);
            if (!app.accept) throttle.failed(request.remoteAddress);
            else throttle.succeeded(request.remoteAddress);
            return app.accept ? { accept: true, context: { app: app.app } } : app;
          }
          const stream = streams.get(streamKey(request));
          const outcome = await devices.authenticateMqtt(request, anonymous, {
            // Revoked credentials: MQTT 5 clients hear why (0x98 Administrative action), and
            // the session goes with them; a connection not yet holding its session is cut.
            close: () => {
              const told = this.#mqtt?.broker.disconnectClient(request.clientId, 0x98, {
                reasonString: 'credentials revoked',
                discardSession: true,
              });
              if (!told) stream?.destroy();
            },
          });
          // The device is online until its connection closes.
          if (outcome.accept && outcome.release) {
            if (!stream || stream.destroyed) outcome.release();
            else stream.once('close', outcome.release);
          }
          if (!outcome.accept) {
            throttle.failed(request.remoteAddress);
            return outcome;
          }
          throttle.succeeded(request.remoteAddress);
          return { accept: true, context: { deviceId: outcome.deviceId } };
        },
        authorizePublish: (client, message) => {
          // tandem/ is the bridge's: commands are taken there, the rest is the server's own.
          const bridged = this.#bridge?.authorizePublish(client, message);
          if (bridged !== undefined) return bridged;
          // devices/{id}/lwm2m/ is the managed MQTT devices' convention, taken there.
          const managed = this.#managedMqtt?.handlePublish(client, message);
          if (managed !== undefined) return managed;
          const app = (client.context as { app?: AppLogin } | undefined)?.app;
          if (app) return appMayPublish(app.role, message.topic);
          const id = deviceOf(client.context);
          return id === undefined || acl.mayPublish(id, message.topic);
        },
        authorizeSubscribe: (client, subscription) => {
          const id = deviceOf(client.context);
          return id === undefined || acl.maySubscribe(id, subscription.filter);
        },
        // A managed MQTT device is reachable while connected (docs/lwm2m-over-mqtt.md).
        onConnect: (client, info) => this.#managedMqtt?.clientConnected(client, info),
        onDisconnect: (client, info) => this.#managedMqtt?.clientDisconnected(client, info),
        // What plain MQTT devices publish is their telemetry, through their profile.
        onMessage: (client, message) => {
          const id = deviceOf(client.context);
          if (id !== undefined) this.#mqttData?.take(id, message.topic, message.payload);
        },
      },
    });
    const bound = await this.#mqtt.start((name) => this.#hostOf(name));
    for (const [name, b] of bound) this.#addresses.set(name, { host: b.host, port: b.port });
  }

  async #startCoap(): Promise<void> {
    this.#coap = new CoapService({
      config: this.config,
      logger: this.logger.child({ component: 'coap' }),
      clock: this.clock,
      psk: this.psk,
    });
    await this.#coap.start((name) => this.#hostOf(name));
    for (const [name, l] of this.#coap.listeners) {
      this.#addresses.set(name, { host: l.host, port: l.port });
    }
  }

  /**
   * Closes, on every DTLS listener (coaps and bootstrapDtls), the sessions that revoked
   * credentials authenticated: by PSK identity, raw public key or certificate subject.
   */
  #closeDtlsSessions(revoked: DeviceCredentials): number {
    let closed = 0;
    for (const [, server] of this.#dtlsServers()) {
      closed += server.revoke((identity) => identity !== undefined && provenBy(identity, revoked));
    }
    return closed;
  }

  /** The DTLS engine of each started DTLS listener, by listener name. */
  *#dtlsServers(): Generator<[string, DtlsServer]> {
    for (const [name, { transport }] of this.#coap?.listeners ?? []) {
      if (transport instanceof DtlsServerTransport) {
        yield [name, transport.server];
      }
    }
  }

  /** The OMA object registry, with the DDF files of `lwm2m.objectsDir` (loaded once). */
  #objectRegistry(): ObjectRegistry {
    if (this.#registry) return this.#registry;
    const { objectsDir } = this.config.lwm2m;
    let registry = omaRegistry();
    if (objectsDir) {
      registry = new ObjectRegistry({ userDirs: [objectsDir] });
      for (const failure of registry.load()) {
        this.logger.warn(failure, 'an LwM2M object definition could not be loaded');
      }
    }
    this.#registry = registry;
    return registry;
  }

  /**
   * The LwM2M server of managed MQTT devices, with the registrations and observations its
   * store kept across a restart. Started before the broker accepts connections, so that a
   * device that reconnects at once is seen connecting (else its messages would be taken for
   * its will) and its first Notify is matched.
   */
  async #startManagedMqtt(): Promise<void> {
    const registry = this.#objectRegistry();
    const anonymousAllowed = this.anonymousAllowed;
    this.#managedMqtt = new MqttLwm2mServer({
      publish: (message) => this.mqtt.broker.publish(message),
      registry,
      // Its registrations and observations survive a restart too, in tables of their own.
      ...(this.#embedded()
        ? { store: new SqliteRegistrationStore(this.#embedded()!.db, MQTT_TABLES) }
        : {}),
      clock: this.clock,
      logger: this.logger.child({ component: 'lwm2m', transport: 'mqtt' }),
      // The MQTT login must own the endpoint, as a DTLS identity must; a client without one
      // only while anonymous access is allowed; applications never speak for a device.
      authorize: (client, endpoint) => {
        const context = client.context as { deviceId?: string; app?: AppLogin } | undefined;
        if (context?.app) return false;
        return context?.deviceId === undefined ? anonymousAllowed : context.deviceId === endpoint;
      },
    });
    storeLwm2mTelemetry(this.#managedMqtt, this.store.telemetry, this.clock);
    const attach = this.#trackPresence(this.#managedMqtt, 'mqtt');
    for (const registration of await this.#managedMqtt.restore()) attach(registration);
  }

  #startLwm2m(): void {
    const registry = this.#objectRegistry();
    const psk = this.psk;
    const policy = {
      anonymousAllowed: this.anonymousAllowed,
      deviceOfPsk: (identity: string) => psk.deviceOf(identity),
      // RPK and X.509 devices are found by key or certificate subject (LwM2M-TS-Transport §5.2.8).
      devices: this.store.devices,
    };
    const logger = this.logger.child({ component: 'lwm2m' });
    this.#lwm2m = new Lwm2mService({
      coap: this.coap,
      registry,
      clock: this.clock,
      logger,
      policy,
      // The embedded store keeps registrations, so that devices stay registered across a restart.
      ...(this.#embedded()
        ? { registrations: new SqliteRegistrationStore(this.#embedded()!.db) }
        : {}),
    });
    const store = this.store;
    this.#bootstrap = new BootstrapService({
      coap: this.coap,
      registry,
      logger,
      policy,
      // The store keeps bootstrap configurations across restarts; a store given without them
      // leaves them in memory.
      ...(store instanceof SqliteStore || store instanceof PostgresStore
        ? { configs: store.bootstrapConfigs }
        : {}),
      clock: this.clock,
    });
    storeLwm2mTelemetry(this.#lwm2m.server, this.store.telemetry, this.clock);
  }

  /**
   * A registered LwM2M endpoint (on CoAP, or a managed MQTT device) is an online device until
   * it deregisters or expires; revoking its device's credentials (or deleting it) removes the
   * registration, so the device must register again with valid credentials. Returns the
   * function that attaches a registration (one restored from the store).
   */
  #trackPresence(
    server: Lwm2mServer,
    protocol: 'lwm2m' | 'mqtt',
  ): (registration: Registration) => void {
    const devices = this.devices;
    const logger = this.logger;
    const releases = new Map<string, () => void>();
    const gone = (endpoint: string) => {
      releases.get(endpoint)?.();
      releases.delete(endpoint);
    };
    const attach = (registration: Registration) => {
      const { endpoint } = registration;
      // Attach the new registration before releasing the one it replaced, so a re-registration
      // is no offline/online flap.
      const previous = releases.get(endpoint);
      const credential = registration.peer.identity?.kind;
      const release = devices.attach(endpoint, {
        protocol,
        ...(credential ? { credential } : {}),
        close: () => {
          server.removeRegistration(endpoint).catch((err: unknown) => {
            logger.warn({ err, endpoint }, 'could not remove the registration of a revoked device');
          });
        },
      });
      releases.set(endpoint, release);
      previous?.();
    };
    server.on('registered', ({ registration }) => attach(registration));
    server.on('deregistered', (r) => gone(r.endpoint));
    server.on('expired', (r) => gone(r.endpoint));
    return attach;
  }

  /** The devices' events, for the API's streams and the webhooks. */
  async #startWebhooks(): Promise<void> {
    const logger = this.logger.child({ component: 'webhooks' });
    this.#events = new DeviceEventFeed({
      devices: this.devices,
      // LwM2M devices over CoAP and managed MQTT devices report their data alike.
      sources: [this.lwm2m.server, this.managedMqtt],
      ...(this.#mqttData ? { mqttData: this.#mqttData } : {}),
      ...(this.#queue ? { commands: this.#queue } : {}),
      clock: this.clock,
      onError: (err) => logger.warn({ err }, 'a device event could not be made or taken'),
    });
    this.#webhooks = new Webhooks({
      store: this.store.webhooks,
      events: this.#events,
      clock: this.clock,
      logger,
      userAgent: `Tandem/${this.version}`,
      observer: webhookMetrics(this.metrics, () => this.#webhooks?.queued() ?? []),
    });
    await this.#webhooks.start();
  }

  async #startHttp(): Promise<void> {
    const { port } = this.config.listeners.http;
    if (port === 'off') return;
    const host = this.#hostOf('http');
    const anonymousReads = this.apiAnonymousReads;
    if (anonymousReads) {
      this.logger.warn(
        'every listener is bound to loopback: the API answers reads without a token (development mode); writes still need one',
      );
    }
    this.#api = await buildApi({
      bootstrap: {
        configs: this.bootstrap.configs,
        session: (endpoint) => this.bootstrap.sessions.get(endpoint),
        requestBootstrap: (endpoint) => this.lwm2m.requestBootstrap(endpoint),
      },
      version: this.version,
      logger: this.logger,
      health: () => this.health(),
      metrics: this.metrics,
      devices: this.devices,
      telemetry: this.store.telemetry,
      commands: this.commands,
      ...(this.#queue ? { queue: this.#queue } : {}),
      ...(this.#profiles ? { profiles: this.#profiles } : {}),
      tokens: this.store.tokens,
      events: this.#events,
      webhooks: this.#webhooks,
      anonymousReads,
    });
    await this.#api.ready();
    const bound = await listenStream(this.#api.server, 'http', host, port);
    this.#addresses.set('http', { host, port: bound });
  }

  #registerMetrics(): void {
    gaugeFrom(
      this.metrics,
      'tandem_listener_up',
      'Whether a listener is bound (1) or not (0).',
      ['listener'],
      () =>
        LISTENER_NAMES.filter((n) => this.config.listeners[n].port !== 'off').map((n) => [
          { listener: n },
          this.#addresses.has(n) ? 1 : 0,
        ]),
    );
    gaugeFrom(
      this.metrics,
      'tandem_store_pending_writes',
      'Telemetry points buffered, not yet written.',
      [],
      () => [[{}, this.#store?.telemetry.pending ?? 0]],
    );
    const store = () => this.#store;
    new Counter({
      name: 'tandem_telemetry_expired_total',
      help: 'Telemetry rows the retention sweeps deleted: raw points (kind="point") and rollup buckets (kind="bucket").',
      labelNames: ['kind'],
      registers: [this.metrics],
      collect() {
        const expired = store()?.telemetry.expired ?? { points: 0, buckets: 0 };
        this.reset();
        this.inc({ kind: 'point' }, expired.points);
        this.inc({ kind: 'bucket' }, expired.buckets);
      },
    });
    new Counter({
      name: 'tandem_telemetry_write_failures_total',
      help: 'Telemetry batches whose write failed (logged; their points are tried again) and points dropped when too many were waiting (kind="batch", kind="dropped_point").',
      labelNames: ['kind'],
      registers: [this.metrics],
      collect() {
        const telemetry = store()?.telemetry;
        this.reset();
        this.inc({ kind: 'batch' }, telemetry?.failedBatches ?? 0);
        this.inc({ kind: 'dropped_point' }, telemetry?.dropped ?? 0);
      },
    });
    gaugeFrom(
      this.metrics,
      'tandem_devices_online',
      'Devices with at least one authenticated connection or registration on this node.',
      [],
      () => [[{}, this.#devices?.onlineCount ?? 0]],
    );
    dtlsMetrics(this.metrics, () => this.#dtlsServers());
  }

  async #shutdown(): Promise<void> {
    const deadline = this.config.shutdownTimeoutMs;
    const closing: Promise<unknown>[] = [];
    this.#bridge?.close();
    this.#bridge = undefined;
    this.#commands = undefined;
    this.#queue?.close();
    this.#queue = undefined;
    this.#mqttData = undefined;
    // Its pending requests fail before the broker goes.
    if (this.#managedMqtt) closing.push(this.#managedMqtt.close());
    this.#managedMqtt = undefined;
    if (this.#mqtt) closing.push(this.#mqtt.stop());
    // The LwM2M server first (it cancels observations through the endpoints), then CoAP.
    if (this.#coap) {
      const lwm2m = this.#lwm2m;
      const coap = this.#coap;
      closing.push(
        (async () => {
          await lwm2m?.stop();
          await coap.stop();
        })(),
      );
    }
    if (this.#api) closing.push(this.#api.close());
    if (this.#webhooks) closing.push(this.#webhooks.close());
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = systemClock.setTimeout(() => resolve('timeout'), deadline);
    });
    const outcome = await Promise.race([Promise.allSettled(closing), timedOut]);
    if (timer) systemClock.clearTimeout(timer);
    if (outcome === 'timeout') {
      this.logger.warn(
        { timeoutMs: deadline },
        'connections still open after the shutdown timeout: closing them',
      );
      this.#mqtt?.destroyAll();
    }
    this.#mqtt = undefined;
    this.#coap = undefined;
    this.#lwm2m = undefined;
    this.#bootstrap = undefined;
    this.#addresses.clear();
    this.#api = undefined;
    this.#webhooks = undefined;
    this.#events?.close();
    this.#events = undefined;
    if (this.#store && this.#ownsStore) {
      await this.#store.close();
      this.#store = undefined;
    } else await this.#store?.flush();
  }
}

/** A connection's peer address, unique among the open connections of one transport. */
function streamKey(info: { transport: string; remoteAddress: string; remotePort: number }): string {
  return `${info.transport} ${info.remoteAddress} ${info.remotePort}`;
}
