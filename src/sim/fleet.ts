/**
 * A fleet of simulated devices in one process: LwM2M devices (CoAP, or DTLS with a PSK, a raw
 * public key or an X.509 certificate; optionally bootstrapped) and plain MQTT devices, started
 * at an arrival rate, measured on a shared wheel (device `i` measures on the ticks
 * `i mod slots`), churned at random, stopped cleanly.
 */
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { DeviceIdentities, type DeviceIdentity } from './credentials.js';
import { describeError } from './limits.js';
import { type DeviceHost, type ResolvedServer, SimLwm2mDevice } from './lwm2m-device.js';
import { SimMqttDevice } from './mqtt-device.js';
import { type FleetOptions, type FleetOptionsInput, resolveOptions } from './options.js';
import { type Random, seededRandom } from './random.js';
import { SimScheduler } from './scheduler.js';
import { emptyCounters, type FleetCounters, type MessageTotals } from './stats.js';

/** The fleet at one moment. */
export interface FleetSnapshot {
  readonly elapsedSeconds: number;
  readonly counters: Readonly<FleetCounters>;
  /** LwM2M (CoAP, both directions) and MQTT (published) messages so far. */
  readonly messages: number;
  readonly coap: Readonly<MessageTotals>;
}

/** What `stop()` resolves with; the CLI prints it (and `--json` prints it as is). */
export interface FleetSummary {
  /** Seconds from the start to the stop request (the stop itself is `stopSeconds`). */
  readonly durationSeconds: number;
  readonly stopSeconds: number;
  readonly lwm2m: {
    /** LwM2M devices, those over MQTT (`managedMqtt`) included. */
    readonly devices: number;
    readonly managedMqtt: number;
    readonly started: number;
    readonly peakRegistered: number;
    /** Seconds from the start until every LwM2M device was registered at once (null: never). */
    readonly allRegisteredAfterSeconds: number | null;
    readonly registeredAtStop: number;
    readonly registrations: number;
    readonly deregistrations: number;
    readonly updates: number;
    readonly bootstraps: number;
    readonly reboots: number;
    readonly wakeUps: number;
    readonly firmwareUpdates: number;
    readonly firmwareFailures: number;
    readonly measurements: number;
    readonly sends: number;
  };
  readonly mqtt: {
    readonly devices: number;
    readonly started: number;
    readonly peakConnected: number;
    readonly connectedAtStop: number;
    readonly published: number;
  };
  readonly messages: MessageTotals & {
    readonly mqttOut: number;
    readonly total: number;
    readonly perSecond: number;
  };
  readonly churned: number;
  readonly errors: { readonly count: number; readonly samples: readonly string[] };
  /** This process during the run (until the stop request). */
  readonly process: {
    readonly peakRssMb: number;
    readonly rssMb: number;
    readonly heapUsedMb: number;
    readonly cpuSeconds: number;
    readonly cpuPercent: number;
  };
}

export interface FleetEvents {
  /** Every device has been started (not necessarily registered). */
  arrived: [];
  error: [{ device: string; message: string }];
}

const MAX_SAMPLES = 10;
/**
 * How many devices de-register at once when the fleet stops: enough to be quick, few enough
 * that the server's answers come before CoAP's retransmission timer (2 to 3 s, RFC 7252 §4.8).
 */
const STOP_CONCURRENCY = 200;

export class SimFleet extends EventEmitter<FleetEvents> {
  readonly options: FleetOptions;
  readonly counters: FleetCounters = emptyCounters();
  readonly totals: MessageTotals = {
    coapIn: 0,
    coapOut: 0,
    coapTimeouts: 0,
    coapRetransmissions: 0,
  };
  readonly lwm2mDevices: SimLwm2mDevice[] = [];
  readonly mqttDevices: SimMqttDevice[] = [];
  readonly errorSamples: string[] = [];
  readonly scheduler: SimScheduler;
  /** The LwM2M devices' keys and certificates in RPK and X.509 modes. */
  readonly #identities: DeviceIdentities | undefined;
  readonly #random: Random;
  readonly #resolved = new Map<string, Promise<ResolvedServer>>();
  #host: DeviceHost | undefined;
  #startedAt = 0;
  #cpuAtStart: NodeJS.CpuUsage | undefined;
  #arrivalBudget = 0;
  #churnBudget = 0;
  #peakRegistered = 0;
  #peakMqtt = 0;
  #peakRss = 0;
  #lastMemorySample = 0;
  #allRegisteredAt: number | undefined;
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';

  constructor(input: FleetOptionsInput, tickMs = 250) {
    super();
    this.options = resolveOptions(input);
    const o = this.options;
    // Keys come from the seed only when one was given: a default seed is no secret.
    this.#identities =
      o.security === 'psk' ? undefined : new DeviceIdentities(o.security, input.seed, o.ca);
    this.#random = seededRandom(o.seed);
    this.scheduler = new SimScheduler(tickMs);
  }

  /** Resolves the servers' addresses and begins the arrivals. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('a fleet starts once');
    this.#state = 'running';
    const o = this.options;
    const server = await this.#resolve(o.lwm2mUrl ?? 'coap://127.0.0.1:5683');
    const bootstrapServer = o.bootstrapUrl ? await this.#resolve(o.bootstrapUrl) : undefined;
    const family = isIP((bootstrapServer ?? server).address);
    const loopback = /^127\.|^::1$/.test((bootstrapServer ?? server).address);
    this.#startedAt = Date.now();
    this.#cpuAtStart = process.cpuUsage();
    this.#host = {
      options: o,
      scheduler: this.scheduler,
      random: this.#random,
      counters: this.counters,
      totals: this.totals,
      server,
      bootstrapServer,
      identity: (index) => this.identityOf(index),
      bindAddress:
        o.localAddress ??
        (family === 6 ? (loopback ? '::1' : '::') : loopback ? '127.0.0.1' : '0.0.0.0'),
      elapsed: (now) => (now - this.#startedAt) / 1000,
      resolve: (uri) => this.#resolve(uri),
      error: (device, err) => this.#error(device, err),
    };
    this.scheduler.onTick((now, tick) => this.#onTick(now, tick));
    this.scheduler.start();
    this.#arrive(1);
  }

  /** LwM2M device `index`'s key pair (and certificate), in RPK and X.509 modes. */
  identityOf(index: number): Promise<DeviceIdentity> | undefined {
    return this.#identities?.of(index, `${this.options.endpointPrefix}${index}`);
  }

  /** Resolves when every device has been started. */
  arrived(): Promise<void> {
    if (this.#startedCount() >= this.#total()) return Promise.resolve();
    return new Promise((resolve) => this.once('arrived', resolve));
  }

  /** The LwM2M device called `name`, once started. */
  lwm2mDevice(name: string): SimLwm2mDevice | undefined {
    return this.lwm2mDevices.find((d) => d.name === name);
  }

  snapshot(): FleetSnapshot {
    let coapIn = this.totals.coapIn;
    let coapOut = this.totals.coapOut;
    for (const d of this.lwm2mDevices) {
      const s = d.liveStats();
      coapIn += s.in;
      coapOut += s.out;
    }
    return {
      elapsedSeconds: this.#startedAt ? (Date.now() - this.#startedAt) / 1000 : 0,
      counters: { ...this.counters },
      messages: coapIn + coapOut + this.counters.mqttPublished,
      coap: { ...this.totals, coapIn, coapOut },
    };
  }

  /** Stops arrivals, De-registers the LwM2M devices, disconnects the MQTT ones; a summary. */
  async stop(): Promise<FleetSummary> {
    if (this.#state === 'stopping' || this.#state === 'stopped') throw new Error('already stopped');
    this.#state = 'stopping';
    this.#peaks();
    this.#sampleMemory(Date.now(), true);
    const registeredAtStop = this.counters.lwm2mRegistered;
    const connectedAtStop = this.counters.mqttConnected;
    // The figures of the run are taken before the stop, whose De-registers are not the load.
    const running = this.snapshot();
    const duration = running.elapsedSeconds;
    const cpu = process.cpuUsage(this.#cpuAtStart);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const memory = process.memoryUsage();
    const stopStart = Date.now();
    const devices: { stop(): Promise<void> }[] = [...this.lwm2mDevices, ...this.mqttDevices];
    let next = 0;
    const worker = async () => {
      while (next < devices.length) await devices[next++]!.stop().catch(() => undefined);
    };
    await Promise.all(Array.from({ length: STOP_CONCURRENCY }, worker));
    this.scheduler.stop();
    this.#state = 'stopped';
    const snap = this.snapshot();
    const c = this.counters;
    const mb = (n: number) => Math.round((n / 1048576) * 10) / 10;
    return {
      durationSeconds: round(duration),
      stopSeconds: round((Date.now() - stopStart) / 1000),
      lwm2m: {
        devices: this.options.lwm2m + this.options.managedMqtt,
        managedMqtt: this.options.managedMqtt,
        started: this.lwm2mDevices.length,
        peakRegistered: this.#peakRegistered,
        allRegisteredAfterSeconds:
          this.#allRegisteredAt === undefined
            ? null
            : round((this.#allRegisteredAt - this.#startedAt) / 1000),
        registeredAtStop,
        registrations: c.registrations,
        deregistrations: c.deregistrations,
        updates: c.updates,
        bootstraps: c.bootstraps,
        reboots: c.reboots,
        wakeUps: c.wakeUps,
        firmwareUpdates: c.firmwareUpdates,
        firmwareFailures: c.firmwareFailures,
        measurements: c.measurements,
        sends: c.sends,
      },
      mqtt: {
        devices: this.options.mqtt,
        started: this.mqttDevices.length,
        peakConnected: this.#peakMqtt,
        connectedAtStop,
        published: c.mqttPublished,
      },
      messages: {
        ...snap.coap,
        mqttOut: c.mqttPublished,
        total: snap.messages,
        perSecond: duration > 0 ? round(running.messages / duration) : 0,
      },
      churned: c.churned,
      errors: { count: c.errors, samples: [...this.errorSamples] },
      process: {
        peakRssMb: mb(this.#peakRss),
        rssMb: mb(memory.rss),
        heapUsedMb: mb(memory.heapUsed),
        cpuSeconds: round(cpuSeconds),
        cpuPercent: duration > 0 ? round((100 * cpuSeconds) / duration) : 0,
      },
    };
  }

  /** Every device of the fleet: LwM2M, plain MQTT, managed MQTT (in this order of indices). */
  #total(): number {
    const o = this.options;
    return o.lwm2m + o.mqtt + o.managedMqtt;
  }

  #startedCount(): number {
    return this.lwm2mDevices.length + this.mqttDevices.length;
  }

  #onTick(now: number, tick: number): void {
    if (this.#state !== 'running') return;
    const o = this.options;
    this.#arrive((o.rate * this.scheduler.tickMs) / 1000);
    const measureSlots = Math.max(1, Math.round((o.measureSeconds * 1000) / this.scheduler.tickMs));
    for (let i = tick % measureSlots; i < this.lwm2mDevices.length; i += measureSlots) {
      this.lwm2mDevices[i]!.measure(now);
    }
    const publishSlots = Math.max(1, Math.round((o.publishSeconds * 1000) / this.scheduler.tickMs));
    for (let i = tick % publishSlots; i < this.mqttDevices.length; i += publishSlots) {
      this.mqttDevices[i]!.publish(now);
    }
    if (o.churn > 0) this.#churn();
    this.#peaks();
    this.#sampleMemory(now, false);
  }

  /** Peak RSS, sampled once a second (process.memoryUsage.rss() is cheap). */
  #sampleMemory(now: number, force: boolean): void {
    if (!force && now - this.#lastMemorySample < 1000) return;
    this.#lastMemorySample = now;
    this.#peakRss = Math.max(this.#peakRss, process.memoryUsage.rss());
  }

  #peaks(): void {
    const o = this.options;
    if (
      this.#allRegisteredAt === undefined &&
      o.lwm2m + o.managedMqtt > 0 &&
      this.counters.lwm2mRegistered === o.lwm2m + o.managedMqtt
    )
      this.#allRegisteredAt = Date.now();
    this.#peakRegistered = Math.max(this.#peakRegistered, this.counters.lwm2mRegistered);
    this.#peakMqtt = Math.max(this.#peakMqtt, this.counters.mqttConnected);
  }

  /** Starts the devices whose turn has come (`rate` per second, LwM2M first). */
  #arrive(budget: number): void {
    const o = this.options;
    const host = this.#host!;
    const total = this.#total();
    if (this.#startedCount() >= total) return;
    this.#arrivalBudget += budget;
    while (this.#arrivalBudget >= 1 && this.#startedCount() < total) {
      this.#arrivalBudget--;
      const index = this.#startedCount();
      // Managed MQTT devices are LwM2M devices on another link: the same objects and life.
      if (index < o.lwm2m || index >= o.lwm2m + o.mqtt) {
        const device = new SimLwm2mDevice(host, index, index < o.lwm2m ? 'coap' : 'mqtt');
        this.lwm2mDevices.push(device);
        this.counters.lwm2mStarted++;
        device.start();
      } else {
        const device = new SimMqttDevice(host, index, o.mqttUrl ?? 'mqtt://127.0.0.1:1883');
        this.mqttDevices.push(device);
        this.counters.mqttStarted++;
        device.start();
      }
    }
    if (this.#startedCount() >= total) this.emit('arrived');
  }

  /** `churn` of the started fleet per minute drops off, spread over the ticks. */
  #churn(): void {
    const started = this.#startedCount();
    this.#churnBudget += (this.options.churn * started * this.scheduler.tickMs) / 60_000;
    while (this.#churnBudget >= 1) {
      this.#churnBudget--;
      const k = Math.floor(this.#random() * started);
      const device =
        k < this.lwm2mDevices.length
          ? this.lwm2mDevices[k]
          : this.mqttDevices[k - this.lwm2mDevices.length];
      device?.churn();
    }
  }

  #error(device: string, err: unknown): void {
    this.counters.errors++;
    const message = describeError(err);
    if (this.errorSamples.length < MAX_SAMPLES) this.errorSamples.push(`${device}: ${message}`);
    if (this.listenerCount('error') > 0) this.emit('error', { device, message });
  }

  #resolve(uri: string): Promise<ResolvedServer> {
    let p = this.#resolved.get(uri);
    if (!p) {
      p = (async () => {
        const url = new URL(uri);
        const secure = url.protocol === 'coaps:';
        const host = url.hostname.replace(/^\[|\]$/g, '');
        const port = url.port ? Number(url.port) : secure ? 5684 : 5683;
        const address = isIP(host) ? host : (await lookup(host)).address;
        return { address, port, secure };
      })();
      this.#resolved.set(uri, p);
    }
    return p;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
