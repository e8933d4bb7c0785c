/**
 * Where registrations live: a port with a memory implementation here and a durable one in
 * src/store/sqlite (a Redis one for a cluster to follow), all passing one contract suite. The
 * store keeps the rules that must hold across server processes: one registration per endpoint
 * name (a new Register replaces the old, LwM2M-TS-Core 1.1 §6.2.1) and unique registration IDs.
 * It also keeps the observations the devices accepted, by registration (as Leshan's
 * RegistrationStore does), so that a restarted server still knows the tokens of the
 * notifications the devices go on sending (RFC 7641 §3.6 would otherwise have them cancelled);
 * they end with their registration (LwM2M-TS-Core 1.2 §6.3: a new Register, a De-register or
 * the lifetime's end ends the observations of the registration).
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

/**
 * An observation a device accepted (2.05 with an Observe option, RFC 7641 §3.1), as kept to
 * resume it after a restart: the server rebuilds its request and decoder from the paths, the
 * format and the registration.
 */
export interface StoredObservation {
  /** The observation ID the server reports (`Lwm2mObservation.id`): its first token in hex. */
  readonly id: string;
  /** The CoAP token its notifications carry now, in hex (a new one after the device moved). */
  readonly token: string;
  readonly registrationId: string;
  readonly endpoint: string;
  /** One path for Observe, several for Observe-Composite. */
  readonly paths: readonly string[];
  readonly composite: boolean;
  /** The content format asked for with Accept (and sent, for Observe-Composite's path list). */
  readonly format: number;
  /** When the device accepted it (ms since the epoch). */
  readonly createdAt: number;
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
   * Adds a registration. A registration of the same endpoint name is replaced and returned,
   * and its observations removed (LwM2M-TS-Core 1.2 §6.3). Rejects with RegistrationConflictError when another endpoint holds the registration ID.
   */
  add(registration: Registration): Promise<Registration | undefined>;
  /** Applies `patch` to the registration `id`; undefined when there is none. */
  update(id: string, patch: RegistrationPatch): Promise<RegistrationUpdate | undefined>;
  /** Removes and returns the registration `id`, and removes its observations. */
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
  /**
   * Keeps an observation of a registration, replacing the one with the same `id`. False (and
   * nothing kept) when the registration is gone: its observations ended with it.
   */
  addObservation(observation: StoredObservation): Promise<boolean>;
  /** Removes and returns the observation `id`. */
  removeObservation(id: string): Promise<StoredObservation | undefined>;
  /** The observations of a registration (of every registration without an argument). */
  observations(registrationId?: string): Promise<StoredObservation[]>;
}

/** Registrations in two maps in this process; the default store. */
export class MemoryRegistrationStore implements RegistrationStore {
  readonly #byId = new Map<string, Registration>();
  readonly #idByEndpoint = new Map<string, string>();
  /** Observations by ID, and their IDs by registration ID. */
  readonly #observations = new Map<string, StoredObservation>();
  readonly #observationsOf = new Map<string, Set<string>>();

  async add(registration: Registration): Promise<Registration | undefined> {
    const taken = this.#byId.get(registration.id);
    if (taken && taken.endpoint !== registration.endpoint) {
      throw new RegistrationConflictError(registration.id);
    }
    const oldId = this.#idByEndpoint.get(registration.endpoint);
    const old = oldId === undefined ? undefined : this.#byId.get(oldId);
    if (oldId !== undefined) {
      this.#byId.delete(oldId);
      // LwM2M-TS-Core 1.2 §6.3: a new Register ends the old registration's observations.
      if (oldId !== registration.id) this.#dropObservationsOf(oldId);
    }
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
    this.#dropObservationsOf(id);
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

  async addObservation(observation: StoredObservation): Promise<boolean> {
    if (!this.#byId.has(observation.registrationId)) return false;
    const old = this.#observations.get(observation.id);
    if (old) this.#observationsOf.get(old.registrationId)?.delete(old.id);
    this.#observations.set(observation.id, observation);
    let ids = this.#observationsOf.get(observation.registrationId);
    if (!ids) {
      ids = new Set();
      this.#observationsOf.set(observation.registrationId, ids);
    }
    ids.add(observation.id);
    return true;
  }

  async removeObservation(id: string): Promise<StoredObservation | undefined> {
    const observation = this.#observations.get(id);
    if (!observation) return undefined;
    this.#observations.delete(id);
    const ids = this.#observationsOf.get(observation.registrationId);
    ids?.delete(id);
    if (ids?.size === 0) this.#observationsOf.delete(observation.registrationId);
    return observation;
  }

  async observations(registrationId?: string): Promise<StoredObservation[]> {
    if (registrationId === undefined) return [...this.#observations.values()];
    const ids = this.#observationsOf.get(registrationId) ?? [];
    return [...ids].map((id) => this.#observations.get(id)!);
  }

  #dropObservationsOf(registrationId: string): void {
    for (const id of this.#observationsOf.get(registrationId) ?? []) this.#observations.delete(id);
    this.#observationsOf.delete(registrationId);
  }
}
