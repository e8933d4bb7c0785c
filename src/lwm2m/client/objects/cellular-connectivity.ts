/** LwM2M Cellular Connectivity (object 10, LwM2M-TS-Core 1.1 Appendix E.9). */
import { Value } from '../../node/lwm2m-value.js';
import { InstanceEnabler, modelOf, ObjectEnabler } from '../object-enabler.js';

export interface CellularOptions {
  /** E.9 resource 11: links to the APN connection profiles (object 11 instances). */
  readonly apnProfiles?: readonly number[];
  readonly psmTimer?: number;
  readonly activeTimer?: number;
}

export class CellularConnectivityObject extends ObjectEnabler {
  constructor(o: CellularOptions = {}) {
    const model = modelOf(10);
    super(model, [
      new InstanceEnabler(0, model, [
        [11, new Map((o.apnProfiles ?? [0]).map((id, i) => [i, Value.objlnk(11, id)]))],
        [4, Value.integer(o.psmTimer ?? 3600)],
        [5, Value.integer(o.activeTimer ?? 60)],
      ]),
    ]);
  }
}
