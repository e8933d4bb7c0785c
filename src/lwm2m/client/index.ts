/** The LwM2M client library: object enablers, the OMA objects, registration, observe, Send. */
export {
  type AttributeChanges,
  AttributeStore,
  type Attributes,
  parseAttributeQuery,
} from './attributes.js';
export {
  type ClientCoapPort,
  type ClientVersion,
  Lwm2mClient,
  Lwm2mClientError,
  type Lwm2mClientEvents,
  type Lwm2mClientOptions,
} from './client.js';
export {
  type ChangeListener,
  type ExecuteArguments,
  fromResource,
  InstanceEnabler,
  type InstanceFactory,
  modelOf,
  ObjectEnabler,
  type ResourceValue,
  toResource,
} from './object-enabler.js';
export {
  CellularConnectivityObject,
  type CellularOptions,
} from './objects/cellular-connectivity.js';
export {
  ConnectivityMonitoringObject,
  type ConnectivityOptions,
} from './objects/connectivity-monitoring.js';
export { DeviceInstance, DeviceObject, type DeviceOptions } from './objects/device.js';
export {
  FirmwareResult,
  FirmwareState,
  FirmwareUpdateInstance,
  FirmwareUpdateObject,
  type FirmwareUpdateOptions,
} from './objects/firmware-update.js';
export { type SecurityInstanceOptions, SecurityObject } from './objects/security.js';
export {
  AnalogInputObject,
  AnalogOutputInstance,
  AnalogOutputObject,
  PressureObject,
  SensorInstance,
  SensorObject,
  type SensorOptions,
  TemperatureObject,
} from './objects/sensors.js';
export {
  type RegistrationTrigger,
  ServerInstance,
  type ServerInstanceOptions,
  ServerObject,
} from './objects/server.js';
export {
  SoftwareInstance,
  SoftwareManagementObject,
  SoftwareState,
} from './objects/software-management.js';
export { type NotificationSink, ObserveManager } from './observe-manager.js';
export { ObjectTree } from './tree.js';
