/**
 * LwM2M Security (object 0, LwM2M-TS-Core 1.1 Appendix E.1): where the server is and how to
 * reach it. Only the Bootstrap-Server reads or writes it; the client refuses Device Management
 * on it.
 */
import { Value } from '../../node/lwm2m-value.js';
import { InstanceEnabler, modelOf, ObjectEnabler } from '../object-enabler.js';

export interface SecurityInstanceOptions {
  readonly serverUri: string;
  readonly shortServerId?: number;
  readonly bootstrapServer?: boolean;
  /** E.1 resource 2: 0 PSK, 1 RPK, 2 Certificate, 3 NoSec, 4 Certificate with EST. */
  readonly securityMode?: number;
}

export class SecurityObject extends ObjectEnabler {
  constructor(instances: readonly SecurityInstanceOptions[]) {
    const model = modelOf(0);
    super(
      model,
      instances.map(
        (o, i) =>
          new InstanceEnabler(i, model, [
            [0, Value.string(o.serverUri)],
            [1, Value.boolean(o.bootstrapServer ?? false)],
            [2, Value.integer(o.securityMode ?? 3)],
            [3, Value.opaque(Buffer.alloc(0))],
            [4, Value.opaque(Buffer.alloc(0))],
            [5, Value.opaque(Buffer.alloc(0))],
            [10, Value.integer(o.shortServerId ?? 1)],
          ]),
      ),
    );
  }
}
