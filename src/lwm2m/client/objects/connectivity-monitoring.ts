/** Connectivity Monitoring (object 4, LwM2M-TS-Core 1.1 Appendix E.5). */
import { type Lwm2mValue, Value } from '../../node/lwm2m-value.js';
import { InstanceEnabler, modelOf, ObjectEnabler, type ResourceValue } from '../object-enabler.js';

export interface ConnectivityOptions {
  /** E.5 resource 0: 0 GSM ... 21 WLAN ... 41 Ethernet. */
  readonly networkBearer?: number;
  readonly availableBearers?: readonly number[];
  /** dBm. */
  readonly radioSignalStrength?: number;
  readonly linkQuality?: number;
  readonly ipAddresses?: readonly string[];
  readonly routerIpAddresses?: readonly string[];
  readonly apn?: readonly string[];
  readonly cellId?: number;
  readonly smnc?: number;
  readonly smcc?: number;
}

const list = (values: readonly Lwm2mValue[]): ReadonlyMap<number, Lwm2mValue> =>
  new Map(values.map((v, i) => [i, v]));

export class ConnectivityMonitoringObject extends ObjectEnabler {
  readonly connectivity: InstanceEnabler;
  constructor(o: ConnectivityOptions = {}) {
    const values: [number, ResourceValue][] = [
      [0, Value.integer(o.networkBearer ?? 6)],
      [1, list((o.availableBearers ?? [6]).map((b) => Value.integer(b)))],
      [2, Value.integer(o.radioSignalStrength ?? -70)],
      [3, Value.integer(o.linkQuality ?? 100)],
      [4, list((o.ipAddresses ?? ['192.0.2.10']).map((a) => Value.string(a)))],
    ];
    if (o.routerIpAddresses)
      values.push([5, list(o.routerIpAddresses.map((a) => Value.string(a)))]);
    if (o.apn) values.push([7, list(o.apn.map((a) => Value.string(a)))]);
    if (o.cellId !== undefined) values.push([8, Value.integer(o.cellId)]);
    if (o.smnc !== undefined) values.push([9, Value.integer(o.smnc)]);
    if (o.smcc !== undefined) values.push([10, Value.integer(o.smcc)]);
    const instance = new InstanceEnabler(0, modelOf(4), values);
    super(modelOf(4), [instance]);
    this.connectivity = instance;
  }
}
