/**
 * IPSO sensors on the shared "sensor value" pattern (OMA objects 3303 Temperature, 3323
 * Pressure, 3202 Analog Input): a current value, its measured minimum and maximum, the range,
 * units, and Reset Min and Max Measured Values (resource 5605).
 */
import { Code } from '../../../coap/code.js';
import type { ObjectModel } from '../../model/object-model.js';
import type { Lwm2mResource } from '../../node/lwm2m-node.js';
import { Value } from '../../node/lwm2m-value.js';
import {
  type ExecuteArguments,
  InstanceEnabler,
  modelOf,
  ObjectEnabler,
  type ResourceValue,
} from '../object-enabler.js';

export interface SensorOptions {
  readonly value?: number;
  readonly units?: string;
  readonly min?: number;
  readonly max?: number;
  readonly applicationType?: string;
}

/** A sensor instance: `measure()` records a new value and notifies observers. */
export class SensorInstance extends InstanceEnabler {
  /** 5700 Sensor Value, or 5600 Analog Input Current Value for 3202. */
  readonly valueId: number;

  constructor(id: number, model: ObjectModel, o: SensorOptions = {}) {
    const valueId = model.id === 3202 ? 5600 : 5700;
    const v = o.value ?? 0;
    const values: [number, ResourceValue][] = [
      [valueId, Value.float(v)],
      [5601, Value.float(v)],
      [5602, Value.float(v)],
    ];
    if (o.min !== undefined) values.push([5603, Value.float(o.min)]);
    if (o.max !== undefined) values.push([5604, Value.float(o.max)]);
    if (o.units !== undefined && model.resources.has(5701))
      values.push([5701, Value.string(o.units)]);
    if (o.applicationType !== undefined) values.push([5750, Value.string(o.applicationType)]);
    super(id, model, values);
    this.valueId = valueId;
  }

  get value(): number {
    return (this.get(this.valueId) as { value: number }).value;
  }

  /** Records a measurement: the value, and the measured minimum and maximum. */
  measure(value: number): void {
    const min = (this.get(5601) as { value: number }).value;
    const max = (this.get(5602) as { value: number }).value;
    if (value < min) this.set(5601, Value.float(value));
    if (value > max) this.set(5602, Value.float(value));
    this.set(this.valueId, Value.float(value));
  }

  protected override supportsExecute(resourceId: number): boolean {
    return resourceId === 5605;
  }

  override execute(resourceId: number, _args: ExecuteArguments): number {
    if (resourceId !== 5605) return Code.NotFound;
    // 5605: "Reset the Min and Max Measured Values to Current Value".
    this.set(5601, Value.float(this.value));
    this.set(5602, Value.float(this.value));
    return Code.Changed;
  }
}

function sensorObject(
  id: number,
  sensors: readonly SensorOptions[],
): [ObjectModel, SensorInstance[]] {
  const model = modelOf(id);
  return [model, sensors.map((s, i) => new SensorInstance(i, model, s))];
}

export class SensorObject extends ObjectEnabler {
  declare readonly instances: Map<number, SensorInstance>;
  constructor(id: 3303 | 3323 | 3202, sensors: readonly SensorOptions[] = [{}]) {
    const [model, instances] = sensorObject(id, sensors);
    super(model, instances, (iid, m) => new SensorInstance(iid, m));
  }

  sensor(instanceId = 0): SensorInstance {
    const s = this.instances.get(instanceId);
    if (!s) throw new RangeError(`no instance ${instanceId} of object ${this.id}`);
    return s;
  }
}

/** Temperature (3303), °C by default. */
export class TemperatureObject extends SensorObject {
  constructor(sensors: readonly SensorOptions[] = [{ value: 20, units: 'Cel' }]) {
    super(3303, sensors);
  }
}

/** Pressure (3323), Pa by default. */
export class PressureObject extends SensorObject {
  constructor(sensors: readonly SensorOptions[] = [{ value: 101325, units: 'Pa' }]) {
    super(3323, sensors);
  }
}

/** Analog Input (3202). */
export class AnalogInputObject extends SensorObject {
  constructor(sensors: readonly SensorOptions[] = [{ value: 0, min: 0, max: 10 }]) {
    super(3202, sensors);
  }
}

/** Analog Output (3203): 5650 Analog Output Current Value, writable within 5603..5604. */
export class AnalogOutputInstance extends InstanceEnabler {
  constructor(
    id: number,
    model: ObjectModel,
    o: { value?: number; min?: number; max?: number } = {},
  ) {
    const values: [number, ResourceValue][] = [[5650, Value.float(o.value ?? 0)]];
    if (o.min !== undefined) values.push([5603, Value.float(o.min)]);
    if (o.max !== undefined) values.push([5604, Value.float(o.max)]);
    super(id, model, values);
  }

  override write(resource: Lwm2mResource): number {
    if (resource.id === 5650 && resource.kind === 'single-resource') {
      const v = Number(resource.value.value);
      const min = this.get(5603) as { value: number } | undefined;
      const max = this.get(5604) as { value: number } | undefined;
      // 3203: the output stays within Min Range Value .. Max Range Value when they are set.
      if ((min && v < min.value) || (max && v > max.value)) return Code.BadRequest;
    }
    return super.write(resource);
  }
}

export class AnalogOutputObject extends ObjectEnabler {
  constructor(
    outputs: readonly { value?: number; min?: number; max?: number }[] = [
      { value: 0, min: 0, max: 10 },
    ],
  ) {
    const model = modelOf(3203);
    super(
      model,
      outputs.map((o, i) => new AnalogOutputInstance(i, model, o)),
      (id, m) => new AnalogOutputInstance(id, m),
    );
  }
}
