/**
 * Firmware Update of a simulated device, on the client library's state machine (object 5,
 * LwM2M 1.0 Appendix E.6, Figure E.6-1): this adds what a real device does around it. A pull
 * takes a while to download and may fail (Update Result 4 Connection lost); a URI that does
 * not parse is Update Result 7 Invalid URI and one of an unknown scheme 9 Unsupported protocol;
 * the install takes a while and may fail (Update Result 8 Firmware update failed); on success
 * Device /3/0/3 Firmware Version reports the version of the package.
 */
import { Code } from '../coap/code.js';
import {
  type DeviceInstance,
  FirmwareResult,
  FirmwareState,
  FirmwareUpdateInstance,
  ObjectEnabler,
} from '../lwm2m/client/index.js';
import type { Lwm2mResource } from '../lwm2m/node/lwm2m-node.js';
import { Value } from '../lwm2m/node/lwm2m-value.js';
import type { Random } from './random.js';

/** LwM2M 1.0 Appendix E.6 resource 8: 0 CoAP, 1 CoAP over DTLS, 2 HTTP 1.1, 3 HTTPS 1.1. */
const PROTOCOLS: Readonly<Record<string, number>> = {
  'coap:': 0,
  'coaps:': 1,
  'http:': 2,
  'https:': 3,
};

export interface SimFirmwareOptions {
  readonly device: DeviceInstance;
  /** Milliseconds a pull download takes (each device draws between half and all of it). */
  readonly downloadMs: number;
  /** Milliseconds the install takes. */
  readonly installMs: number;
  /** Probability that a download, and separately an install, fails. */
  readonly failureRate: number;
  readonly random: Random;
  readonly delay: (ms: number) => Promise<void>;
  /** Called when a new firmware runs (the device then tells the server, as after a reboot). */
  readonly onUpdated?: (version: string) => void;
  /** Called when a download or an install fails. */
  readonly onFailed?: (phase: 'download' | 'install') => void;
}

/** The version a package announces: `version=2.1` or a `2.1.0` in its name; else the next one. */
export function packageVersion(name: string, current: string): string {
  const tagged = /version[=:]\s*([0-9A-Za-z.+-]+)/i.exec(name);
  if (tagged) return tagged[1]!;
  const numbers = name.match(/\d+(?:\.\d+)+/g);
  if (numbers) return numbers[numbers.length - 1]!;
  const parts = current.split('.').map((p) => Number.parseInt(p, 10));
  if (parts.some((n) => Number.isNaN(n))) return `${current}.1`;
  parts[parts.length - 1]! += 1;
  return parts.join('.');
}

export class SimFirmwareInstance extends FirmwareUpdateInstance {
  #packageName = '';

  constructor(o: SimFirmwareOptions) {
    const random = o.random;
    super({
      deliveryMethod: 2,
      download: async (uri) => {
        await o.delay(o.downloadMs * (0.5 + random() / 2));
        if (random() < o.failureRate) {
          o.onFailed?.('download');
          throw new Error('simulated connection loss');
        }
        return Buffer.from(uri, 'utf8');
      },
      install: async (pkg) => {
        await o.delay(o.installMs * (0.5 + random() / 2));
        if (random() < o.failureRate) {
          o.onFailed?.('install');
          return false;
        }
        const name = this!.#packageName || pkg.subarray(0, 256).toString('latin1');
        const current = String((o.device.get(3) as { value: string }).value);
        const version = packageVersion(name, current);
        o.device.set(3, Value.string(version));
        this!.set(7, Value.string(version));
        o.onUpdated?.(version);
        return true;
      },
    });
    this.values.set(6, Value.string(''));
    this.values.set(7, Value.string(''));
    this.values.set(8, new Map([0, 1, 2, 3].map((p, i) => [i, Value.integer(p)])));
  }

  override write(resource: Lwm2mResource): number {
    if (resource.kind === 'single-resource' && resource.id === 1) {
      const v = resource.value;
      if (v.type !== 'string') return Code.BadRequest;
      if (v.value !== '' && this.state === FirmwareState.Idle) {
        let url: URL | undefined;
        try {
          url = new URL(v.value);
        } catch {
          url = undefined;
        }
        // LwM2M 1.0 Appendix E.6 resource 5: 7 Invalid URI, 9 Unsupported protocol; the state
        // stays Idle.
        const result = !url
          ? FirmwareResult.InvalidUri
          : PROTOCOLS[url.protocol] === undefined
            ? FirmwareResult.UnsupportedProtocol
            : undefined;
        if (result !== undefined) {
          this.set(1, v);
          this.set(5, Value.integer(result));
          return Code.Changed;
        }
        this.#packageName = url!.pathname + url!.search;
        this.set(6, Value.string(url!.pathname.split('/').pop() ?? ''));
      }
    }
    if (resource.kind === 'single-resource' && resource.id === 0) this.#packageName = '';
    return super.write(resource);
  }
}

export class SimFirmwareObject extends ObjectEnabler {
  readonly firmware: SimFirmwareInstance;
  constructor(o: SimFirmwareOptions) {
    const firmware = new SimFirmwareInstance(o);
    super(firmware.model, [firmware]);
    this.firmware = firmware;
  }
}
