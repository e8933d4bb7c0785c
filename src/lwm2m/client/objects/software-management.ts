/**
 * LwM2M Software Management (object 9, LwM2M-TS-Core 1.1 Appendix E.8 / OMA object 9):
 * Update State (resource 7) INITIAL 0 → DOWNLOAD STARTED 1 → DOWNLOADED 2 → DELIVERED 3 →
 * INSTALLED 4; Install (4), Uninstall (6), Activate (10), Deactivate (11).
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
} from '../object-enabler.js';

export const SoftwareState = {
  Initial: 0,
  DownloadStarted: 1,
  Downloaded: 2,
  Delivered: 3,
  Installed: 4,
} as const;

export class SoftwareInstance extends InstanceEnabler {
  constructor(id: number, model: ObjectModel, name = '', version = '') {
    super(id, model, [
      [0, Value.string(name)],
      [1, Value.string(version)],
      [7, Value.integer(SoftwareState.Initial)],
      [9, Value.integer(0)],
      [12, Value.boolean(false)],
    ]);
  }

  get state(): number {
    return Number((this.get(7) as { value: number }).value);
  }

  protected override supportsExecute(resourceId: number): boolean {
    return [4, 6, 10, 11].includes(resourceId);
  }

  override write(resource: Lwm2mResource): number {
    if ((resource.id === 2 || resource.id === 3) && resource.kind === 'single-resource') {
      const v = resource.value;
      if (this.state !== SoftwareState.Initial) return Code.BadRequest;
      if (resource.id === 2 && (v.type !== 'opaque' || v.value.length === 0))
        return Code.BadRequest;
      if (resource.id === 3 && (v.type !== 'string' || v.value === '')) return Code.BadRequest;
      // The package arrives whole (push) or is fetched at once (pull); it is then checked and
      // delivered: DOWNLOADED then DELIVERED, Update Result 3 "Successfully Downloaded and package integrity verified".
      this.set(7, Value.integer(SoftwareState.Delivered));
      this.set(9, Value.integer(3));
      return Code.Changed;
    }
    return super.write(resource);
  }

  override execute(resourceId: number, args: ExecuteArguments): number {
    switch (resourceId) {
      case 4:
        // Install needs a delivered package.
        if (this.state !== SoftwareState.Delivered) return Code.MethodNotAllowed;
        this.set(7, Value.integer(SoftwareState.Installed));
        this.set(9, Value.integer(2));
        return Code.Changed;
      case 6: {
        if (this.state !== SoftwareState.Installed && this.state !== SoftwareState.Delivered) {
          return Code.MethodNotAllowed;
        }
        // Object 9 resource 6: argument 0 (or none) uninstalls, 1 prepares for an update.
        const mode = args.has(1) ? 1 : 0;
        if (mode === 0) {
          this.set(12, Value.boolean(false));
          this.set(7, Value.integer(SoftwareState.Initial));
          this.set(9, Value.integer(0));
        }
        return Code.Changed;
      }
      case 10:
      case 11:
        if (this.state !== SoftwareState.Installed) return Code.MethodNotAllowed;
        this.set(12, Value.boolean(resourceId === 10));
        return Code.Changed;
      default:
        return Code.NotFound;
    }
  }
}

export class SoftwareManagementObject extends ObjectEnabler {
  constructor(packages: readonly { name: string; version: string }[] = []) {
    const model = modelOf(9);
    super(
      model,
      packages.map((p, i) => new SoftwareInstance(i, model, p.name, p.version)),
      (id, m) => new SoftwareInstance(id, m),
    );
  }
}
