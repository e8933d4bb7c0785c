/**
 * Firmware Update (object 5, LwM2M-TS-Core 1.1 Appendix E.6) and its state machine (Figure
 * E.6-1): Idle (0) → Downloading (1) → Downloaded (2) → Updating (3) → Idle, with Update Result
 * (resource 5) telling how it ended. The package comes pushed (resource 0) or pulled from a URI
 * (resource 1) by the `download` function.
 */
import { Code } from '../../../coap/code.js';
import type { Lwm2mResource } from '../../node/lwm2m-node.js';
import { Value } from '../../node/lwm2m-value.js';
import {
  type ExecuteArguments,
  InstanceEnabler,
  modelOf,
  ObjectEnabler,
} from '../object-enabler.js';

export const FirmwareState = { Idle: 0, Downloading: 1, Downloaded: 2, Updating: 3 } as const;
/** E.6 resource 5. */
export const FirmwareResult = {
  Initial: 0,
  Success: 1,
  NotEnoughFlash: 2,
  OutOfRam: 3,
  ConnectionLost: 4,
  IntegrityCheckFailed: 5,
  UnsupportedPackage: 6,
  InvalidUri: 7,
  UpdateFailed: 8,
  UnsupportedProtocol: 9,
} as const;

export interface FirmwareUpdateOptions {
  /** Fetches a package from a URI; resolves with the bytes. Default: the URI's bytes are the package. */
  readonly download?: (uri: string) => Promise<Buffer>;
  /** Installs a package; resolves true on success. Default: success. */
  readonly install?: (pkg: Buffer) => Promise<boolean>;
  /** E.6 resource 9: 0 pull, 1 push, 2 both. */
  readonly deliveryMethod?: number;
}

export class FirmwareUpdateInstance extends InstanceEnabler {
  readonly #options: FirmwareUpdateOptions;
  #package: Buffer = Buffer.alloc(0);

  constructor(options: FirmwareUpdateOptions = {}) {
    super(0, modelOf(5), [
      [1, Value.string('')],
      [3, Value.integer(FirmwareState.Idle)],
      [5, Value.integer(FirmwareResult.Initial)],
      [9, Value.integer(options.deliveryMethod ?? 2)],
    ]);
    this.#options = options;
  }

  get state(): number {
    return Number((this.get(3) as { value: number }).value);
  }

  get result(): number {
    return Number((this.get(5) as { value: number }).value);
  }

  protected override supportsExecute(resourceId: number): boolean {
    return resourceId === 2;
  }

  override write(resource: Lwm2mResource): number {
    if (resource.kind !== 'single-resource') return Code.BadRequest;
    const v = resource.value;
    if (resource.id === 0) {
      if (v.type !== 'opaque') return Code.BadRequest;
      // E.6 resource 0: an empty package resets the state machine to Idle.
      if (v.value.length === 0) return this.#reset();
      if (this.state !== FirmwareState.Idle) return Code.BadRequest;
      this.#package = v.value;
      this.#setState(FirmwareState.Downloaded, FirmwareResult.Initial);
      return Code.Changed;
    }
    if (resource.id === 1) {
      if (v.type !== 'string') return Code.BadRequest;
      this.set(1, v);
      // E.6 resource 1: an empty URI resets the state machine to Idle.
      if (v.value === '') return this.#reset();
      if (this.state !== FirmwareState.Idle) return Code.BadRequest;
      this.#setState(FirmwareState.Downloading, FirmwareResult.Initial);
      const download = this.#options.download ?? (async (uri: string) => Buffer.from(uri, 'utf8'));
      download(v.value).then(
        (pkg) => {
          if (this.state !== FirmwareState.Downloading) return;
          this.#package = pkg;
          this.#setState(FirmwareState.Downloaded, FirmwareResult.Initial);
        },
        () => {
          if (this.state === FirmwareState.Downloading) {
            this.#setState(FirmwareState.Idle, FirmwareResult.ConnectionLost);
          }
        },
      );
      return Code.Changed;
    }
    return super.write(resource);
  }

  override execute(resourceId: number, _args: ExecuteArguments): number {
    if (resourceId !== 2) return Code.NotFound;
    // E.6 resource 2: Update is only possible in the Downloaded state.
    if (this.state !== FirmwareState.Downloaded) return Code.MethodNotAllowed;
    this.#setState(FirmwareState.Updating, FirmwareResult.Initial);
    const install = this.#options.install ?? (async () => true);
    install(this.#package).then(
      (ok) => this.#finish(ok),
      () => this.#finish(false),
    );
    return Code.Changed;
  }

  #finish(ok: boolean): void {
    if (this.state !== FirmwareState.Updating) return;
    this.#package = Buffer.alloc(0);
    this.#setState(FirmwareState.Idle, ok ? FirmwareResult.Success : FirmwareResult.UpdateFailed);
  }

  #reset(): number {
    this.#package = Buffer.alloc(0);
    this.#setState(FirmwareState.Idle, FirmwareResult.Initial);
    return Code.Changed;
  }

  #setState(state: number, result: number): void {
    this.set(3, Value.integer(state));
    this.set(5, Value.integer(result));
  }
}

export class FirmwareUpdateObject extends ObjectEnabler {
  readonly firmware: FirmwareUpdateInstance;
  constructor(options: FirmwareUpdateOptions = {}) {
    const firmware = new FirmwareUpdateInstance(options);
    super(modelOf(5), [firmware]);
    this.firmware = firmware;
  }
}
