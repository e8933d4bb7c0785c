/**
 * Where registrations live: a port with a memory implementation here and a durable one in
 * src/store/sqlite (a Redis one for a cluster to follow), all passing one contract suite. The
 * store keeps the rules that must hold across server processes: one registration per endpoint
 * name (a new Register replaces the old, LwM2M-TS-Core 1.1 §6.2.1) and unique registration IDs.
 * Observations are not part of the port: their CoAP tokens live in the endpoint's memory, so a
 * restarted server could not match their notifications anyway (see `Lwm2mServer.restore`).
 */
import type { Registration } from './registration.js';

/** The fields an Update (or the server itself) may change. */
export type RegistrationPatch = Partial<
  Pick<
    Registration,
    | 'lifetime'
    | 'binding'
    | 'queueMode'
    | 'smsNumber'
    | 'peer'
    | 'rootPath'
    | 'objectLinks'
    | 'objectVersions'
    | 'supportedContentFormats'
    | 'preferredContentFormat'
    | 'lastUpdateAt'
    | 'expiresAt'
  >
>;

export interface RegistrationUpdate {
  readonly previous: Registration;
  readonly current: Registration;
}

/** `add` of a registration whose ID another endpoint holds. */
export class RegistrationConflictError extends Error {
  override readonly name = 'RegistrationConflictError';
  readonly code = 'LWM2M_ERR_REGISTRATION_ID_TAKEN';
  constructor(readonly registrationId: string) {
    super(`registration ID ${registrationId} is taken`);
  }
}

export interface RegistrationStore {
  /**
   * Adds a registration. A registration of the same endpoint name is replaced and returned.
   * Rejects with RegistrationConflictError when another endpoint holds the registration ID.
   */
  add(registration: Registration): Promise<Registration | undefined>;
  /** Applies `patch` to the registration `id`; undefined when there is none. */
  update(id: string, patch: RegistrationPatch): Promise<RegistrationUpdate | undefined>;
  /** Removes and returns the registration `id`. */
  remove(id: string): Promise<Registration | undefined>;
  /**
   * Removes the registration `id` only if it has expired at `now` (its `expiresAt` is not
   * after `now`), so that of two racing servers only one reports the expiry.
   */
  removeIfExpired(id: string, now: number): Promise<Registration | undefined>;
  getById(id: string): Promise<Registration | undefined>;
  getByEndpoint(endpoint: string): Promise<Registration | undefined>;
  /** Every registration, in no particular order. */
  all(): Promise<Registration[]>;
  /** Registrations whose `expiresAt` is not after `now`. */
  expired(now: number): Promise<Registration[]>;
  size(): Promise<number>;
}

/** Registrations in two maps in this process; the default store. */
export class MemoryRegistrationStore implements RegistrationStore {
  readonly #byId = new Map<string, Registration>();
  readonly #idByEndpoint = new Map<string, string>();

  async add(registration: Registration): Promise<Registration | undefined> {
    const taken = this.#byId.get(registration.id);
    if (taken && taken.endpoint !== registration.endpoint) {
      throw new RegistrationConflictError(registration.id);
    }
    const oldId = this.#idByEndpoint.get(registration.endpoint);
    const old = oldId === undefined ? undefined : this.#byId.get(oldId);
    if (oldId !== undefined) this.#byId.delete(oldId);
    this.#byId.set(registration.id, registration);
    this.#idByEndpoint.set(registration.endpoint, registration.id);
    return old;
  }

  async update(id: string, patch: RegistrationPatch): Promise<RegistrationUpdate | undefined> {
    const previous = this.#byId.get(id);
    if (!previous) return undefined;
    const current: Registration = { ...previous, ...patch };
    this.#byId.set(id, current);
    return { previous, current };
  }

  async remove(id: string): Promise<Registration | undefined> {
    const reg = this.#byId.get(id);
    if (!reg) return undefined;
    this.#byId.delete(id);
    if (this.#idByEndpoint.get(reg.endpoint) === id) this.#idByEndpoint.delete(reg.endpoint);
    return reg;
  }

  async removeIfExpired(id: string, now: number): Promise<Registration | undefined> {
    const reg = this.#byId.get(id);
    if (!reg || reg.expiresAt > now) return undefined;
    return this.remove(id);
  }

  async getById(id: string): Promise<Registration | undefined> {
    return this.#byId.get(id);
  }

  async getByEndpoint(endpoint: string): Promise<Registration | undefined> {
    const id = this.#idByEndpoint.get(endpoint);
    return id === undefined ? undefined : this.#byId.get(id);
  }

  async all(): Promise<Registration[]> {
    return [...this.#byId.values()];
  }

  async expired(now: number): Promise<Registration[]> {
    return [...this.#byId.values()].filter((r) => r.expiresAt <= now);
  }

  async size(): Promise<number> {
    return this.#byId.size;
  }
}
