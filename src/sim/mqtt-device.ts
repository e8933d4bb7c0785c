/**
 * One simulated plain MQTT device (MQTT.js): connects as `<prefix><index>`, publishes JSON
 * telemetry on `devices/<id>/telemetry` (inside the default device ACL `devices/%d/#`) from
 * the same drifting sensors as the LwM2M devices, and drops off and comes back under churn.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { driftStep, PROFILES } from './drift.js';
import type { DeviceHost } from './lwm2m-device.js';

const STOP_TIMEOUT_MS = 3000;

export class SimMqttDevice {
  readonly id: string;
  readonly index: number;
  readonly topic: string;
  readonly #host: DeviceHost;
  readonly #url: string;
  #client: MqttClient | undefined;
  #connected = false;
  #stopped = false;
  #attempt = 0;
  readonly #walk = new Float64Array(3);
  readonly #phase: number;
  #last = 0;
  #battery: number;

  constructor(host: DeviceHost, index: number, url: string) {
    this.#host = host;
    this.index = index;
    this.id = `${host.options.endpointPrefix}${index}`;
    this.topic = `devices/${this.id}/telemetry`;
    this.#url = url;
    this.#phase = host.random() * 2 * Math.PI;
    this.#battery = 60 + host.random() * 40;
  }

  get connected(): boolean {
    return this.#connected;
  }

  start(): void {
    if (this.#stopped || this.#client) return;
    const o = this.#host.options;
    const client = mqtt.connect(this.#url, {
      clientId: this.id,
      protocolVersion: 5,
      clean: true,
      keepalive: 60,
      // Reconnection is the simulator's (with back-off and churn), not MQTT.js's.
      reconnectPeriod: 0,
      connectTimeout: 30_000,
      ...(o.mqttUsernamePrefix !== undefined
        ? { username: `${o.mqttUsernamePrefix}${this.index}`, password: o.mqttPassword ?? '' }
        : {}),
    });
    this.#client = client;
    client.on('connect', () => {
      this.#connected = true;
      this.#attempt = 0;
      this.#host.counters.mqttConnected++;
    });
    client.on('error', (e) => this.#host.error(this.id, e));
    client.on('close', () => {
      if (this.#connected) this.#host.counters.mqttConnected--;
      this.#connected = false;
      if (this.#client !== client) return;
      this.#client = undefined;
      client.removeAllListeners();
      client.on('error', () => undefined);
      if (this.#stopped) return;
      const wait = Math.min(60_000, 1000 * 2 ** ++this.#attempt) * (0.5 + this.#host.random());
      this.#host.scheduler.after(wait, () => this.start());
    });
  }

  /** One telemetry message (the fleet calls it on the device's tick). */
  publish(now: number): void {
    const client = this.#client;
    if (!client || !this.#connected) return;
    const host = this.#host;
    const dt = this.#last === 0 ? 1 : Math.max(0.001, (now - this.#last) / 1000);
    this.#last = now;
    const t = host.elapsed(now);
    const w = this.#walk;
    const step = (k: number, p: (typeof PROFILES)[keyof typeof PROFILES]) => {
      const r = driftStep(p, w[k]!, this.#phase, t, dt, host.options.cycleSeconds, host.random);
      w[k] = r.deviation;
      return r.value;
    };
    this.#battery = Math.max(1, this.#battery - dt * 0.0005);
    const payload = JSON.stringify({
      ts: new Date(now).toISOString(),
      temperature: step(0, PROFILES.temperature),
      pressure: step(1, PROFILES.pressure),
      analogInput: step(2, PROFILES.analogInput),
      battery: Math.round(this.#battery),
    });
    client.publish(this.topic, payload, { qos: 0 });
    host.counters.mqttPublished++;
  }

  /** Drops the connection (no DISCONNECT, as when a network goes); comes back later. */
  churn(): void {
    const client = this.#client;
    if (!client || !this.#connected) return;
    const host = this.#host;
    host.counters.churned++;
    this.#client = undefined;
    this.#connected = false;
    host.counters.mqttConnected--;
    client.removeAllListeners();
    client.on('error', () => undefined);
    client.end(true);
    const wait = host.options.churnDowntimeMs * (0.5 + host.random());
    host.scheduler.after(wait, () => this.start());
  }

  /** DISCONNECT and close. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const client = this.#client;
    if (!client) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.end(true);
        resolve();
      }, STOP_TIMEOUT_MS);
      client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
