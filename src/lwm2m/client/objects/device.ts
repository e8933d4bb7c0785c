/**
 * Device (object 3, LwM2M-TS-Core 1.1 Appendix E.4): identity, power, errors, time; Reboot,
 * Factory Reset and Reset Error Code as executable resources.
 */
import { Code } from '../../../coap/code.js';
import type { Clock } from '../../../util/clock.js';
import type { Lwm2mResource } from '../../node/lwm2m-node.js';
import { type Lwm2mValue, Value } from '../../node/lwm2m-value.js';
import {
  type ExecuteArguments,
  InstanceEnabler,
  modelOf,
  ObjectEnabler,
  type ResourceValue,
} from '../object-enabler.js';

export interface DeviceOptions {
  readonly manufacturer?: string;
  readonly modelNumber?: string;
  readonly serialNumber?: string;
  readonly firmwareVersion?: string;
  readonly binding?: string;
  readonly batteryLevel?: number;
  readonly memoryFree?: number;
  readonly utcOffset?: string;
  readonly timezone?: string;
  readonly deviceType?: string;
  /** Time source of Current Time (resource 13). */
  readonly clock?: Clock;
  /** Called on Reboot (resource 4) and Factory Reset (resource 5). */
  readonly onReboot?: () => void;
  readonly onFactoryReset?: () => void;
}

const multi = (values: readonly Lwm2mValue[]): ReadonlyMap<number, Lwm2mValue> =>
  new Map(values.map((v, i) => [i, v]));

export class DeviceInstance extends InstanceEnabler {
  readonly #options: DeviceOptions;
  /** Seconds to add to the clock: a write of Current Time sets the device's time. */
  #timeOffset = 0;

  constructor(options: DeviceOptions = {}) {
    const values: [number, ResourceValue][] = [
      [0, Value.string(options.manufacturer ?? 'Tandem')],
      [1, Value.string(options.modelNumber ?? 'tandem-client')],
      [2, Value.string(options.serialNumber ?? '0000')],
      [3, Value.string(options.firmwareVersion ?? '1.0')],
      [6, multi([Value.integer(1), Value.integer(5)])],
      [9, Value.integer(options.batteryLevel ?? 100)],
      [10, Value.integer(options.memoryFree ?? 1024)],
      // E.4 resource 11: 0 means no error.
      [11, multi([Value.integer(0)])],
      // Current Time: present; its value is computed from the clock on every read.
      [13, Value.time(0)],
      [14, Value.string(options.utcOffset ?? '+00:00')],
      [15, Value.string(options.timezone ?? 'Etc/UTC')],
      [16, Value.string(options.binding ?? 'U')],
      [17, Value.string(options.deviceType ?? 'simulator')],
    ];
    super(0, modelOf(3), values);
    this.#options = options;
  }

  protected override supportsExecute(resourceId: number): boolean {
    return resourceId === 4 || resourceId === 5 || resourceId === 12;
  }

  override read(resourceId: number): Lwm2mResource | undefined {
    if (resourceId === 13) {
      const now = (this.#options.clock?.now() ?? Date.now()) / 1000 + this.#timeOffset;
      return { kind: 'single-resource', id: 13, value: Value.time(Math.floor(now)) };
    }
    return super.read(resourceId);
  }

  override write(resource: Lwm2mResource): number {
    if (resource.id === 13) {
      if (resource.kind !== 'single-resource' || resource.value.type !== 'time') {
        return Code.BadRequest;
      }
      const now = (this.#options.clock?.now() ?? Date.now()) / 1000;
      this.#timeOffset = Math.floor(resource.value.value.getTime() / 1000 - now);
      this.changed(13);
      return Code.Changed;
    }
    return super.write(resource);
  }

  override execute(resourceId: number, _args: ExecuteArguments): number {
    switch (resourceId) {
      case 4:
        this.#options.onReboot?.();
        return Code.Changed;
      case 5:
        this.#options.onFactoryReset?.();
        return Code.Changed;
      case 12:
        // E.4 resource 12: Reset Error Code clears the errors back to the single 0.
        this.set(11, multi([Value.integer(0)]));
        return Code.Changed;
      default:
        return Code.NotFound;
    }
  }

  /** Adds an error code (E.4 resource 11), as a device does when something goes wrong. */
  reportError(code: number): void {
    const current = [...((this.get(11) as ReadonlyMap<number, Lwm2mValue>) ?? new Map()).values()];
    const errors = current.filter((v) => v.value !== 0);
    errors.push(Value.integer(code));
    this.set(11, multi(errors));
  }
}

export class DeviceObject extends ObjectEnabler {
  readonly device: DeviceInstance;
  constructor(options: DeviceOptions = {}) {
    const device = new DeviceInstance(options);
    super(modelOf(3), [device]);
    this.device = device;
  }
}
