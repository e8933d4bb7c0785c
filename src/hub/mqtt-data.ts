/**
 * What plain MQTT devices publish, as telemetry (issue 6): each message of a client that
 * authenticated as a device goes through the device's profile (src/hub/profiles.ts); mapped
 * values are stored under their LwM2M paths, the rest as raw telemetry under `mqtt:<topic>`.
 * Messages of clients that are no device (applications, anonymous clients in development mode)
 * are no device's data.
 *
 * The broker calls `take` for every routed message, so the common case stays synchronous: the
 * device's mapper is cached after its first message. A device's messages are handled in the
 * order they came, its first look-up included.
 */
import type { Logger } from 'pino';
import type { Lwm2mModel } from '../lwm2m/model/object-model.js';
import type { Lwm2mPathValue } from '../lwm2m/node/path-value.js';
import type { TelemetryPoint, TelemetryStore } from '../store/ports.js';
import type { Clock } from '../util/clock.js';
import { leafJson } from './commands/json.js';
import { TypedEmitter } from './events.js';
import type { DataJson } from './lwm2m-data.js';
import { telemetryValue } from './lwm2m-telemetry.js';
import type { DeviceProfiles } from './profile-service.js';
import { type ProfileMapper, rawValue } from './profiles.js';

export interface MqttDataEvent {
  readonly deviceId: string;
  readonly topic: string;
  /** Milliseconds since the epoch, when the message arrived. */
  readonly ts: number;
  /** The values the device's profile mapped. */
  readonly values: readonly Lwm2mPathValue[];
}

/** The JSON of a mapped message's values, as applications get LwM2M devices' data. */
export function mqttDataJson(e: MqttDataEvent, model: Lwm2mModel): DataJson[] {
  const ts = new Date(e.ts).toISOString();
  return e.values.map((v) => ({ ...leafJson(v.path, v.value!, model), ts }));
}

export class MqttDeviceData {
  /** `data`: a message mapped onto resources (the bridge and the event feed follow it). */
  readonly events: TypedEmitter<{ data: MqttDataEvent }>;
  /** The object model the profiles map onto (the profiles' own). */
  readonly model: Lwm2mModel;
  readonly #profiles: DeviceProfiles;
  readonly #telemetry: TelemetryStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  /** Devices whose mapper is being looked up, and their messages meanwhile. */
  readonly #pending = new Map<string, { topic: string; payload: Buffer; ts: number }[]>();

  constructor(options: {
    profiles: DeviceProfiles;
    telemetry: TelemetryStore;
    clock: Clock;
    logger: Logger;
  }) {
    this.#profiles = options.profiles;
    this.model = options.profiles.model;
    this.#telemetry = options.telemetry;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.events = new TypedEmitter((err, event) =>
      options.logger.error({ err, event }, 'an MQTT data listener failed'),
    );
  }

  /** A message that device `deviceId` published. */
  take(deviceId: string, topic: string, payload: Buffer): void {
    const ts = this.#clock.now();
    const waiting = this.#pending.get(deviceId);
    if (waiting) {
      waiting.push({ topic, payload, ts });
      return;
    }
    const mapper = this.#profiles.cachedMapper(deviceId);
    if (mapper !== undefined) {
      this.#handle(mapper, deviceId, topic, payload, ts);
      return;
    }
    const queue = [{ topic, payload, ts }];
    this.#pending.set(deviceId, queue);
    this.#profiles
      .mapperOf(deviceId)
      .catch((err: unknown) => {
        this.#logger.warn({ err, deviceId }, 'could not look up the profile of an MQTT device');
        return null;
      })
      .then((found) => {
        this.#pending.delete(deviceId);
        for (const m of queue) this.#handle(found, deviceId, m.topic, m.payload, m.ts);
      });
  }

  #handle(
    mapper: ProfileMapper | null,
    deviceId: string,
    topic: string,
    payload: Buffer,
    ts: number,
  ): void {
    const mapped = mapper?.map(deviceId, topic, payload);
    const points: TelemetryPoint[] = [];
    for (const { path, value } of mapped?.values ?? []) {
      points.push({ deviceId, path: path.toString(), ts, value: telemetryValue(value) });
    }
    const raw = mapped ? mapped.raw : rawValue(payload);
    if (raw !== undefined) points.push({ deviceId, path: `mqtt:${topic}`, ts, value: raw });
    if (points.length > 0) this.#telemetry.append(points);
    if (mapped && mapped.values.length > 0) {
      this.events.emit('data', { deviceId, topic, ts, values: mapped.values });
    }
  }
}
