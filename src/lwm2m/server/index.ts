/** The LwM2M server: registration, device management, observation, Send, queue mode. */
export type { ServerCoapPort } from './coap-port.js';
export { compositeFormat, preferredFormat } from './content-negotiation.js';
export { createUdpLwm2mServer, type UdpLwm2mServer, type UdpLwm2mServerOptions } from './create.js';
export { LWM2M_ERRORS, Lwm2mError, type Lwm2mErrorCode } from './errors.js';
export type {
  Lwm2mServerEvents,
  NotificationEvent,
  RegisteredEvent,
  SendEvent,
  UpdatedEvent,
} from './events.js';
export {
  atLeast,
  DEFAULT_LIFETIME_S,
  type Lwm2mVersion,
  type ObjectLinkEntry,
  objectLinksText,
  type RegisterParams,
  type Registration,
  SUPPORTED_VERSIONS,
} from './registration.js';
export { type RegistrationAuthorizer, sameIdentity } from './registration-handler.js';
export {
  MemoryRegistrationStore,
  RegistrationConflictError,
  type RegistrationPatch,
  type RegistrationStore,
  type RegistrationUpdate,
  type StoredObservation,
} from './registration-store.js';
export * from './requests/create.js';
export * from './requests/delete.js';
export * from './requests/discover.js';
export * from './requests/execute.js';
export * from './requests/observe.js';
export {
  type DeviceContext,
  Lwm2mResponse,
  type Operation,
  type RequestOptions,
} from './requests/operation.js';
export * from './requests/read.js';
export * from './requests/read-composite.js';
export * from './requests/write.js';
export * from './requests/write-attributes.js';
export * from './requests/write-composite.js';
export { type DeviceTarget, Lwm2mServer, type Lwm2mServerOptions } from './server.js';
