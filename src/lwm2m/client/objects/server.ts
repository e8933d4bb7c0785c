/**
 * LwM2M Server (object 1, LwM2M-TS-Core 1.1 Appendix E.2): the registration parameters of one
 * server. A write of the lifetime or the binding, and an execute of Registration Update Trigger
 * (resource 8), lead the client to send a registration Update (LwM2M-TS-Core 1.1 §6.2.2).
 */
import { Code } from '../../../coap/code.js';
import type { Lwm2mResource } from '../../node/lwm2m-node.js';
import { type Lwm2mValue, Value } from '../../node/lwm2m-value.js';
import {
  type ExecuteArguments,
  InstanceEnabler,
  modelOf,
  ObjectEnabler,
} from '../object-enabler.js';

export interface ServerInstanceOptions {
  readonly shortServerId?: number;
  readonly lifetime: number;
  readonly binding?: string;
  readonly defaultPmin?: number;
  readonly defaultPmax?: number;
  readonly notificationStoring?: boolean;
}

/** What the client does for the Server object. */
/** Sends an Update now; `lifetime` or `binding` when they changed. */
export type RegistrationTrigger = (changes: { lifetime?: number; binding?: string }) => void;

export class ServerInstance extends InstanceEnabler {
  /** Set by the client. */
  trigger: RegistrationTrigger | undefined;

  constructor(id: number, o: ServerInstanceOptions) {
    const values: [number, Lwm2mValue][] = [
      [0, Value.integer(o.shortServerId ?? 1)],
      [1, Value.integer(o.lifetime)],
      [6, Value.boolean(o.notificationStoring ?? false)],
      [7, Value.string(o.binding ?? 'U')],
    ];
    if (o.defaultPmin !== undefined) values.push([2, Value.integer(o.defaultPmin)]);
    if (o.defaultPmax !== undefined) values.push([3, Value.integer(o.defaultPmax)]);
    super(id, modelOf(1), values);
  }

  protected override supportsExecute(resourceId: number): boolean {
    return resourceId === 8;
  }

  override write(resource: Lwm2mResource): number {
    if (resource.kind !== 'single-resource') return super.write(resource);
    const v = resource.value;
    // E.2: lifetime, default pmin/pmax are non-negative integers (lifetime at least 1).
    if ([1, 2, 3].includes(resource.id)) {
      if (v.type !== 'integer' && v.type !== 'unsigned') return Code.BadRequest;
      if (Number(v.value) < (resource.id === 1 ? 1 : 0)) return Code.BadRequest;
    }
    const code = super.write(resource);
    if (resource.id === 1) this.trigger?.({ lifetime: Number(v.value) });
    if (resource.id === 7 && v.type === 'string') this.trigger?.({ binding: v.value });
    return code;
  }

  override execute(resourceId: number, _args: ExecuteArguments): number {
    if (resourceId !== 8) return Code.NotFound;
    // E.2 resource 8: "Registration Update Trigger": the client sends an Update.
    this.trigger?.({});
    return Code.Changed;
  }

  /** Lifetime (resource 1), seconds. */
  get lifetime(): number {
    return Number((this.values.get(1) as Lwm2mValue).value);
  }

  /** Default minimum period (resource 2), seconds. */
  get defaultPmin(): number | undefined {
    const v = this.values.get(2) as Lwm2mValue | undefined;
    return v ? Number(v.value) : undefined;
  }

  /** Default maximum period (resource 3), seconds. */
  get defaultPmax(): number | undefined {
    const v = this.values.get(3) as Lwm2mValue | undefined;
    return v ? Number(v.value) : undefined;
  }
}

export class ServerObject extends ObjectEnabler {
  constructor(instances: readonly ServerInstanceOptions[]) {
    super(
      modelOf(1),
      instances.map((o, i) => new ServerInstance(i, o)),
    );
  }
}
