/**
 * One simulated LwM2M device: its objects, its socket (UDP, or DTLS with a PSK, a raw public
 * key or an X.509 certificate), an optional bootstrap, and its life: register, measure, sleep and wake in queue mode, reboot when told
 * (De-register, down time, a new socket, Register), drop off and come back under churn.
 * Everything timed goes through the fleet's one scheduler.
 */

import mqtt, { type MqttClient } from 'mqtt';
import { Code, codeString } from '../coap/code.js';
import { CoapEndpoint } from '../coap/endpoint.js';
import { UdpTransport, udpPeer } from '../coap/udp-transport.js';
import type { DtlsClientOptions } from '../dtls/client.js';
import { DtlsClientTransport } from '../dtls/client-transport.js';
import { Lwm2mClient } from '../lwm2m/client/index.js';
import { MQTT_SERVER_PEER, MqttClientPort } from '../lwm2m/mqtt/client-port.js';
import { Value } from '../lwm2m/node/lwm2m-value.js';
import type { DatagramPeer, DatagramTransport } from '../transport/datagram.js';
import { BootstrapError, bootstrap, type ServerAccount } from './bootstrap.js';
import { DeviceIdentities, type DeviceIdentity } from './credentials.js';
import { driftStep, PROFILES } from './drift.js';
import { type DeviceObjects, deviceObjects } from './objects.js';
import type { FleetOptions } from './options.js';
import type { Random } from './random.js';
import type { SimScheduler, Task } from './scheduler.js';
import { SleepyTransport } from './sleepy-transport.js';
import type { FleetCounters, MessageTotals } from './stats.js';

/** A server the fleet resolved once: an IP address, a port, and whether it is coaps. */
export interface ResolvedServer {
  readonly address: string;
  readonly port: number;
  readonly secure: boolean;
}

/** What the fleet shares with each of its devices. */
export interface DeviceHost {
  readonly options: FleetOptions;
  readonly scheduler: SimScheduler;
  readonly random: Random;
  readonly counters: FleetCounters;
  readonly totals: MessageTotals;
  readonly server: ResolvedServer;
  readonly bootstrapServer: ResolvedServer | undefined;
  /** Device `index`'s key pair (and certificate) in RPK and X.509 modes; undefined for PSK. */
  identity(index: number): Promise<DeviceIdentity> | undefined;
  /** Local address for device sockets. */
  readonly bindAddress: string;
  /** Seconds since the fleet started (the clock of the sensor cycle). */
  elapsed(now: number): number;
  resolve(uri: string): Promise<ResolvedServer>;
  error(device: string, err: unknown): void;
}

type State = 'idle' | 'connecting' | 'registered' | 'down' | 'stopped';

/** What proves a device's identity in a DTLS handshake, and how it judges the server. */
type DtlsCredentials = Pick<DtlsClientOptions, 'psk' | 'certificate' | 'trust'>;

const STOP_TIMEOUT_MS = 3000;
const SENT_PATHS = ['/3303/0/5700', '/3323/0/5700', '/3202/0/5600', '/3/0/9'];

export class SimLwm2mDevice {
  readonly name: string;
  readonly index: number;
  readonly objects: DeviceObjects;
  readonly #host: DeviceHost;
  #state: State = 'idle';
  #client: Lwm2mClient | undefined;
  #endpoint: CoapEndpoint | undefined;
  #sleepy: SleepyTransport | undefined;
  #account: ServerAccount | undefined;
  #task: Task | undefined;
  #attempt = 0;
  #connecting: Promise<void> | undefined;
  /** Walk state of temperature, pressure, analog input, signal; then the battery level. */
  readonly #walk = new Float64Array(5);
  readonly #phase: number;
  #lastMeasure = 0;
  #lastSend = 0;

  /** `coap` (UDP or DTLS), or `mqtt`: a managed MQTT device. */
  readonly #link: 'coap' | 'mqtt';
  /** The managed MQTT device's connection, while it has one. */
  #mqtt: { connection: MqttClient; port: MqttClientPort } | undefined;

  constructor(host: DeviceHost, index: number, link: 'coap' | 'mqtt' = 'coap') {
    this.#host = host;
    this.index = index;
    this.#link = link;
    this.name = `${host.options.endpointPrefix}${index}`;
    const o = host.options;
    this.#phase = host.random() * 2 * Math.PI;
    this.#walk[4] = 60 + host.random() * 40;
    this.objects = deviceObjects({
      index,
      serverUri: o.lwm2mUrl ?? '',
      lifetime: o.lifetime,
      binding: link === 'mqtt' ? 'M' : 'U',
      firmwareVersion: o.firmwareVersion,
      firmware: {
        downloadMs: o.firmwareDownloadMs,
        installMs: o.firmwareInstallMs,
        failureRate: o.firmwareFailureRate,
        random: host.random,
        delay: (ms) => host.scheduler.delay(ms),
        onFailed: () => {
          host.counters.firmwareFailures++;
        },
        onUpdated: () => {
          host.counters.firmwareUpdates++;
          // The new firmware announces itself: a registration Update (LwM2M-TS-Core 1.1 §6.2.2),
          // with the radio on even if the install ran into a queue-mode sleep.
          if (this.#sleepy && this.#state === 'registered') {
            this.#sleepy.awake = true;
            this.#scheduleSleep();
          }
          this.#client?.update().catch((e) => this.#fail(e));
        },
      },
      onReboot: () => this.#reboot(),
    });
  }

  get registered(): boolean {
    return this.#state === 'registered' && this.#client?.registered === true;
  }

  get connected(): boolean {
    return this.#endpoint !== undefined || this.#mqtt !== undefined;
  }

  get awake(): boolean {
    return this.#sleepy?.awake ?? true;
  }

  /** Connects and registers (retrying with back-off until it works or the device stops). */
  start(): void {
    if (this.#state !== 'idle' && this.#state !== 'down') return;
    this.#state = 'connecting';
    this.#connecting = this.#connect();
  }

  async #connect(): Promise<void> {
    const host = this.#host;
    const o = host.options;
    try {
      const client = this.#link === 'mqtt' ? await this.#overMqtt() : await this.#overCoap();
      if (!client) return;
      client.on('updateFailed', (e) => this.#fail(e));
      this.#client = client;
      await client.register();
      if (this.#state !== 'connecting') return;
      this.#state = 'registered';
      this.#attempt = 0;
      host.counters.registrations++;
      host.counters.lwm2mRegistered++;
      this.measure(Date.now());
      if (o.queueMode) this.#scheduleSleep();
    } catch (e) {
      if (this.#state !== 'connecting') return;
      host.error(this.name, e);
      await this.#close();
      // Back off: 2 s, 4 s, 8 s... at most a minute, with jitter so a fleet does not stampede.
      const wait = Math.min(60_000, 1000 * 2 ** ++this.#attempt) * (0.5 + host.random());
      this.#state = 'down';
      this.#task = host.scheduler.after(wait, () => this.start());
    }
  }

  /** The client on CoAP (UDP or DTLS), after a bootstrap when the fleet has one. */
  async #overCoap(): Promise<Lwm2mClient | undefined> {
    const host = this.#host;
    const o = host.options;
    if (host.bootstrapServer && !this.#account) {
      this.#account = await this.#bootstrap(host.bootstrapServer);
      host.counters.bootstraps++;
    }
    if (this.#state !== 'connecting') return undefined;
    const target = this.#account ? await host.resolve(this.#account.uri) : host.server;
    const { transport, peer } = await this.#transport(
      target,
      await this.#credentials(target, this.#account),
    );
    const sleepy = o.queueMode ? new SleepyTransport(transport) : undefined;
    const endpoint = new CoapEndpoint(sleepy ?? transport);
    if (this.#state !== 'connecting') {
      await endpoint.close();
      return;
    }
    this.#endpoint = endpoint;
    this.#sleepy = sleepy;
    host.counters.lwm2mConnected++;
    const client = new Lwm2mClient({
      endpoint,
      server: peer,
      name: this.name,
      objects: this.objects.all,
      lwm2mVersion: o.lwm2mVersion,
      lifetime: this.#account?.lifetime ?? o.lifetime,
      queueMode: o.queueMode,
      ...(o.requestTimeoutMs !== undefined ? { timeoutMs: o.requestTimeoutMs } : {}),
    });
    return client;
  }

  /**
   * A managed MQTT device (docs/lwm2m-over-mqtt.md): the same client and objects over an MQTT
   * connection with the device's login, LwM2M 1.2 with the MQTT binding (M).
   */
  async #overMqtt(): Promise<Lwm2mClient | undefined> {
    const host = this.#host;
    const o = host.options;
    const connection = await mqtt.connectAsync(o.mqttUrl ?? 'mqtt://127.0.0.1:1883', {
      clientId: this.name,
      protocolVersion: 5,
      // Reconnection is the simulator's (with back-off and churn), not MQTT.js's.
      reconnectPeriod: 0,
      connectTimeout: 30_000,
      ...(o.mqttUsernamePrefix !== undefined
        ? { username: `${o.mqttUsernamePrefix}${this.index}`, password: o.mqttPassword ?? '' }
        : {}),
    });
    const timeout = o.requestTimeoutMs !== undefined ? { timeoutMs: o.requestTimeoutMs } : {};
    const port = new MqttClientPort({ mqtt: connection, endpoint: this.name, ...timeout });
    this.#mqtt = { connection, port };
    host.counters.lwm2mConnected++;
    // The connection lost (the server went, or took the device's credentials): start over.
    connection.on('close', () => this.#fail(new Error('MQTT connection closed')));
    connection.on('error', (e) => host.error(this.name, e));
    if (this.#state !== 'connecting') return undefined;
    const client = new Lwm2mClient({
      endpoint: port,
      server: MQTT_SERVER_PEER,
      name: this.name,
      objects: this.objects.all,
      lwm2mVersion: '1.2',
      binding: 'M',
      lifetime: o.lifetime,
      ...timeout,
    });
    await port.start();
    return client;
  }

  /**
   * The DTLS credentials for `target`: none over coap://; after a bootstrap, those of the account
   * the Bootstrap-Server wrote; else the fleet's PSK, or the device's raw public key or
   * certificate (LwM2M-TS-Transport 1.1 §5.2.8).
   */
  async #credentials(
    target: ResolvedServer,
    account: ServerAccount | undefined,
  ): Promise<DtlsCredentials | undefined> {
    if (!target.secure) return undefined;
    if (account) {
      // LwM2M 1.0 Appendix E.1 resource 2: only PSK (0) is simulated among the secure modes.
      if (account.securityMode !== 0)
        throw new BootstrapError(`security mode ${account.securityMode}`);
      return { psk: { identity: account.identity.toString('utf8'), key: account.secretKey } };
    }
    const o = this.#host.options;
    const identity = this.#host.identity(this.index);
    if (identity) {
      return {
        certificate: DeviceIdentities.certificateConfig(await identity),
        trust: o.serverTrust!,
      };
    }
    return { psk: { identity: `${o.pskPrefix}${this.index}`, key: o.pskKey! } };
  }

  async #transport(
    target: ResolvedServer,
    credentials: DtlsCredentials | undefined,
  ): Promise<{ transport: DatagramTransport; peer: DatagramPeer }> {
    if (credentials) {
      const dtls = new DtlsClientTransport({
        host: target.address,
        port: target.port,
        ...credentials,
        localAddress: this.#host.bindAddress,
      });
      return { transport: dtls, peer: dtls.peer };
    }
    const udp = await UdpTransport.bind({ address: this.#host.bindAddress, port: 0 });
    return { transport: udp, peer: udpPeer(target.address, target.port) };
  }

  async #bootstrap(server: ResolvedServer): Promise<ServerAccount> {
    const { transport, peer } = await this.#transport(
      server,
      await this.#credentials(server, undefined),
    );
    const endpoint = new CoapEndpoint(transport);
    try {
      return await bootstrap(
        endpoint,
        peer,
        this.name,
        this.#host.options.requestTimeoutMs ?? 30_000,
      );
    } finally {
      this.#addTotals(endpoint);
      await endpoint.close();
    }
  }

  /** A new measurement of every drifting sensor (the fleet calls it on the device's tick). */
  measure(now: number): void {
    if (this.#state !== 'registered' || !this.awake) return;
    const host = this.#host;
    const dt = this.#lastMeasure === 0 ? 1 : Math.max(0.001, (now - this.#lastMeasure) / 1000);
    this.#lastMeasure = now;
    const t = host.elapsed(now);
    const cycle = host.options.cycleSeconds;
    const w = this.#walk;
    const step = (k: number, p: (typeof PROFILES)[keyof typeof PROFILES]) => {
      const r = driftStep(p, w[k]!, this.#phase, t, dt, cycle, host.random);
      w[k] = r.deviation;
      return r.value;
    };
    const o = this.objects;
    o.temperature.measure(step(0, PROFILES.temperature));
    o.pressure.measure(step(1, PROFILES.pressure));
    o.analogInput.measure(step(2, PROFILES.analogInput));
    const rssi = step(3, PROFILES.signal);
    o.connectivity.set(2, Value.integer(rssi));
    // E.5 resource 3 Link Quality: 0..100 from the signal, as many modems report it.
    o.connectivity.set(
      3,
      Value.integer(Math.round(Math.min(100, Math.max(0, (rssi + 120) * 1.25)))),
    );
    // The battery drains slowly; the device reports whole percents.
    const before = Math.round(w[4]!);
    w[4] = Math.max(1, w[4]! - dt * 0.0005);
    if (Math.round(w[4]!) !== before) o.device.set(9, Value.integer(Math.round(w[4]!)));
    host.counters.measurements++;
    const sendMs = host.options.sendSeconds * 1000;
    if (sendMs > 0 && now - this.#lastSend >= sendMs) {
      this.#lastSend = now;
      this.#send();
    }
  }

  /** Send (LwM2M-TS-Core 1.1 §6.4.4): the sensor values, unasked, in SenML CBOR. */
  #send(): void {
    const client = this.#client;
    if (!client) return;
    client.send(SENT_PATHS).then(
      (code) => {
        if (code === Code.Changed) this.#host.counters.sends++;
        else this.#host.error(this.name, new Error(`Send answered ${codeString(code)}`));
      },
      (e) => this.#host.error(this.name, e),
    );
  }

  /** Drops off (half the time with a De-register, else silently) and comes back later. */
  churn(): void {
    if (this.#state !== 'registered') return;
    const host = this.#host;
    host.counters.churned++;
    const polite = host.random() < 0.5;
    this.#restart(polite, host.options.churnDowntimeMs * (0.5 + host.random()));
  }

  /** Device /3/0/4 Reboot: answer 2.04 first, then De-register, stay down, come back. */
  #reboot(): void {
    const host = this.#host;
    // A server may ask as soon as it has stored the registration, and its Execute can overtake
    // the Register's 2.01: a device still 'connecting' has answered it and reboots too.
    if (this.#state !== 'registered' && this.#state !== 'connecting') return;
    host.counters.reboots++;
    host.scheduler.after(host.options.rebootDelayMs, () => {
      // A registration under way finishes first, so that the De-register goes out.
      void this.#connecting?.then(() => {
        if (this.#state === 'registered') this.#restart(true, host.options.rebootDowntimeMs);
      });
    });
  }

  #scheduleSleep(delayMs = this.#host.options.awakeSeconds * 1000): void {
    const host = this.#host;
    host.scheduler.cancel(this.#task);
    this.#task = host.scheduler.after(delayMs, () => {
      const sleepy = this.#sleepy;
      if (this.#state !== 'registered' || !sleepy) return;
      // LwM2M-TS-Core 1.1 §6.5: awake for a while after the last exchange, not after the wake.
      const quietFor = Date.now() - sleepy.lastActivity;
      const awakeMs = host.options.awakeSeconds * 1000;
      if (quietFor < awakeMs) {
        this.#scheduleSleep(awakeMs - quietFor);
        return;
      }
      sleepy.awake = false;
      this.#task = host.scheduler.after(host.options.sleepSeconds * 1000, () => this.#wake());
    });
  }

  /** Queue mode: the radio comes on and the device says so with an Update (TS-Core 1.1 §6.5). */
  #wake(): void {
    if (this.#state !== 'registered' || !this.#sleepy || !this.#client) return;
    this.#sleepy.awake = true;
    this.#host.counters.wakeUps++;
    this.#client.update().then(
      () => {
        this.#host.counters.updates++;
        this.measure(Date.now());
        this.#scheduleSleep();
      },
      (e) => this.#fail(e),
    );
  }

  /** The registration is lost (an Update failed): start over. */
  #fail(e: unknown): void {
    if (this.#state !== 'registered') return;
    this.#host.error(this.name, e);
    this.#restart(false, 1000 + this.#host.random() * 4000);
  }

  /** Goes down (De-registering first when `deregister`), and starts again after `downMs`. */
  #restart(deregister: boolean, downMs: number): void {
    this.#goDown(deregister)
      .catch((e) => this.#host.error(this.name, e))
      .then(() => {
        if (this.#state !== 'down') return;
        this.#task = this.#host.scheduler.after(downMs, () => this.start());
      });
  }

  async #goDown(deregister: boolean): Promise<void> {
    const counters = this.#host.counters;
    this.#host.scheduler.cancel(this.#task);
    const wasRegistered = this.#state === 'registered';
    this.#state = 'down';
    if (wasRegistered) counters.lwm2mRegistered--;
    if (deregister && this.#client?.registered) {
      if (this.#sleepy) this.#sleepy.awake = true;
      try {
        await withTimeout(this.#client.deregister(), STOP_TIMEOUT_MS);
        counters.deregistrations++;
      } catch (e) {
        this.#host.error(this.name, e);
      }
    }
    await this.#close();
  }

  async #close(): Promise<void> {
    const client = this.#client;
    const endpoint = this.#endpoint;
    this.#client = undefined;
    this.#endpoint = undefined;
    this.#sleepy = undefined;
    client?.close();
    client?.removeAllListeners();
    const link = this.#mqtt;
    this.#mqtt = undefined;
    if (link) {
      this.#host.counters.lwm2mConnected--;
      link.port.close();
      link.connection.removeAllListeners('close');
      await link.connection.endAsync().catch(() => undefined);
    }
    if (endpoint) {
      this.#host.counters.lwm2mConnected--;
      this.#addTotals(endpoint);
      await endpoint.close();
    }
  }

  #addTotals(endpoint: CoapEndpoint): void {
    const t = this.#host.totals;
    t.coapIn += endpoint.stats.messagesIn;
    t.coapOut += endpoint.stats.messagesOut;
    t.coapTimeouts += endpoint.stats.timeouts;
    t.coapRetransmissions += endpoint.stats.retransmissions;
  }

  /** CoAP messages of the live endpoint (the fleet adds those of closed ones). */
  liveStats(): { in: number; out: number } {
    const s = this.#endpoint?.stats;
    return s ? { in: s.messagesIn, out: s.messagesOut } : { in: 0, out: 0 };
  }

  /** De-registers (when registered) and closes; the device does nothing more. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#host.scheduler.cancel(this.#task);
    // A registration under way finishes first, so that it is De-registered and not left behind.
    if (this.#state === 'connecting')
      await withTimeout(this.#connecting!, STOP_TIMEOUT_MS).catch(() => undefined);
    if (this.#state === 'registered') await this.#goDown(true);
    else {
      this.#host.scheduler.cancel(this.#task);
      this.#state = 'down';
      await this.#close();
    }
    this.#state = 'stopped';
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
