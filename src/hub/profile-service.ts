/**
 * The hub's device profiles: validated definitions in the store, which device has which, and
 * a cache of ready mappers for the MQTT message path (src/hub/mqtt-data.ts), kept current as
 * profiles and assignments change through here.
 */
import type { Lwm2mModel } from '../lwm2m/model/object-model.js';
import { type ProfileRecord, type ProfileStore, StoreConflictError } from '../store/ports.js';
import type { DeviceRegistry } from './device-registry.js';
import { HubError } from './errors.js';
import {
  type ProfileDefinition,
  ProfileMapper,
  validateProfile,
  validateProfileId,
} from './profiles.js';

export class DeviceProfiles {
  readonly #store: ProfileStore;
  readonly #devices: DeviceRegistry;
  /** The object model that profiles map onto (names, types and units of the values). */
  readonly model: Lwm2mModel;
  /** Mappers by profile id. */
  readonly #mappers = new Map<string, ProfileMapper>();
  /** Each device's profile id (null: none) once looked up. */
  readonly #assigned = new Map<string, string | null>();

  constructor(options: { store: ProfileStore; devices: DeviceRegistry; model: Lwm2mModel }) {
    this.#store = options.store;
    this.#devices = options.devices;
    this.model = options.model;
    this.#devices.events.on('deleted', ({ id }) => this.#assigned.delete(id));
  }

  /** Creates or replaces profile `id`; throws HubError TANDEM_ERR_VALIDATION. */
  async put(
    id: string,
    definition: ProfileDefinition,
  ): Promise<{ profile: ProfileRecord; created: boolean }> {
    validateProfileId(id);
    validateProfile(definition, this.model);
    const put = await this.#store.put({
      id,
      description: definition.description ?? '',
      mappings: definition.mappings.map((m) => ({
        topic: m.topic,
        path: m.path,
        ...(m.field !== undefined ? { field: m.field } : {}),
      })),
    });
    this.#mappers.delete(id);
    return put;
  }

  async get(id: string): Promise<ProfileRecord> {
    const profile = await this.#store.get(id);
    if (!profile) throw new HubError('TANDEM_ERR_PROFILE_NOT_FOUND', `no profile ${id}`);
    return profile;
  }

  list(): Promise<ProfileRecord[]> {
    return this.#store.list();
  }

  /** Throws HubError TANDEM_ERR_PROFILE_IN_USE while devices have it. */
  async delete(id: string): Promise<void> {
    let deleted: boolean;
    try {
      deleted = await this.#store.delete(id);
    } catch (err) {
      if (err instanceof StoreConflictError) {
        throw new HubError('TANDEM_ERR_PROFILE_IN_USE', err.message);
      }
      throw err;
    }
    if (!deleted) throw new HubError('TANDEM_ERR_PROFILE_NOT_FOUND', `no profile ${id}`);
    this.#mappers.delete(id);
  }

  /** Gives device `deviceId` profile `profileId`, or none. */
  async assign(deviceId: string, profileId: string | null): Promise<void> {
    if (!(await this.#devices.get(deviceId))) {
      throw new HubError('TANDEM_ERR_DEVICE_NOT_FOUND', `no device ${deviceId}`);
    }
    if (profileId !== null && !(await this.#store.get(profileId))) {
      throw new HubError('TANDEM_ERR_VALIDATION', `profile: no profile ${profileId}`, 'profile');
    }
    await this.#store.assign(deviceId, profileId);
    this.#assigned.set(deviceId, profileId);
  }

  async profileOf(deviceId: string): Promise<string | null> {
    if (!(await this.#devices.get(deviceId))) {
      throw new HubError('TANDEM_ERR_DEVICE_NOT_FOUND', `no device ${deviceId}`);
    }
    return (await this.#store.profileOf(deviceId)) ?? null;
  }

  /**
   * The mapper of the device's profile: null when it has none; undefined when not known
   * without a look-up (then `mapperOf`).
   */
  cachedMapper(deviceId: string): ProfileMapper | null | undefined {
    const id = this.#assigned.get(deviceId);
    if (id === undefined) return undefined;
    if (id === null) return null;
    return this.#mappers.get(id);
  }

  async mapperOf(deviceId: string): Promise<ProfileMapper | null> {
    let id = this.#assigned.get(deviceId);
    if (id === undefined) {
      id = (await this.#store.profileOf(deviceId)) ?? null;
      this.#assigned.set(deviceId, id);
    }
    if (id === null) return null;
    let mapper = this.#mappers.get(id);
    if (!mapper) {
      const profile = await this.#store.get(id);
      if (!profile) return null;
      mapper = new ProfileMapper(profile, this.model);
      this.#mappers.set(id, mapper);
    }
    return mapper;
  }
}
