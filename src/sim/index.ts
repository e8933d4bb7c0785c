/** The fleet simulator: many LwM2M and MQTT devices in one process (`tandem sim`). */
export { BootstrapError, bootstrap, type ServerAccount } from './bootstrap.js';
export {
  type CaPem,
  DeviceIdentities,
  type DeviceIdentity,
  deviceKey,
  loadOrCreateCa,
  type SecurityMode,
  serverTrust,
} from './credentials.js';
export { type DriftProfile, driftStep, PROFILES } from './drift.js';
export { packageVersion, SimFirmwareInstance, SimFirmwareObject } from './firmware.js';
export { type FleetEvents, type FleetSnapshot, type FleetSummary, SimFleet } from './fleet.js';
export { describeError, openFileLimit, socketShortfall } from './limits.js';
export { type DeviceHost, type ResolvedServer, SimLwm2mDevice } from './lwm2m-device.js';
export { SimMqttDevice } from './mqtt-device.js';
export {
  DEFAULTS,
  type FleetOptions,
  FleetOptionsError,
  type FleetOptionsInput,
  resolveOptions,
} from './options.js';
export { type Random, seededRandom } from './random.js';
export { SimScheduler } from './scheduler.js';
export type { FleetCounters, MessageTotals } from './stats.js';
