import type { DeviceStore } from '../store/ports.js';

/**
 * PSK identities and keys held in memory: a DTLS handshake needs its key synchronously and
 * thousands of times a second, so it must not wait on the store. Loaded at start, kept current
 * by whoever changes device credentials.
 */
export class PskCache {
  readonly #keys = new Map<string, { deviceId: string; key: Buffer }>();

  async load(devices: DeviceStore): Promise<void> {
    this.#keys.clear();
    for (const c of await devices.pskCredentials()) {
      this.#keys.set(c.identity, { deviceId: c.deviceId, key: c.key });
    }
  }

  /** The key of a PSK identity, for the DTLS server's `pskStore`. */
  key(identity: string): Buffer | undefined {
    return this.#keys.get(identity)?.key;
  }

  deviceOf(identity: string): string | undefined {
    return this.#keys.get(identity)?.deviceId;
  }

  set(identity: string, deviceId: string, key: Buffer): void {
    this.#keys.set(identity, { deviceId, key });
  }

  /** Forgets every identity of a device (deleted device or replaced credential). */
  forgetDevice(deviceId: string): void {
    for (const [identity, entry] of this.#keys) {
      if (entry.deviceId === deviceId) this.#keys.delete(identity);
    }
  }

  get size(): number {
    return this.#keys.size;
  }
}
