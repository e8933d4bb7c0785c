/** The events of the LwM2M server, typed for `EventEmitter`. */
import type { TimestampedNode } from '../codec/lwm2m-codec.js';
import type { Lwm2mNode } from '../node/lwm2m-node.js';
import type { Lwm2mPathValue } from '../node/path-value.js';
import type { Registration } from './registration.js';
import type { RegistrationUpdate } from './registration-store.js';
import type { Lwm2mObservation } from './requests/observe.js';

export interface RegisteredEvent {
  readonly registration: Registration;
  /** The registration of the same endpoint name that this one replaced (LwM2M-TS-Core 1.1 §6.2.1). */
  readonly replaced?: Registration;
}

export interface UpdatedEvent extends RegistrationUpdate {
  /** True when the Update came from another address than the registration's (NAT rebinding). */
  readonly moved: boolean;
}

export interface NotificationEvent {
  readonly observation: Lwm2mObservation;
  /** Response code of the notification (2.05, or an error that ended the observation). */
  readonly code: number;
  /** The new value (Observe): the untimed one, else the newest of `timestamped`. */
  readonly content?: Lwm2mNode;
  /** Every value with its time, oldest first, when the payload carried timestamps (SenML). */
  readonly timestamped?: readonly TimestampedNode[];
  /** The new values by path (Observe-Composite). */
  readonly compositeContent?: ReadonlyMap<string, Lwm2mNode | undefined>;
  /** Set when the notification did not decode; the observation goes on. */
  readonly error?: Error;
}

export interface SendEvent {
  readonly registration: Registration;
  readonly values: readonly Lwm2mPathValue[];
  readonly contentFormat: number;
}

export interface Lwm2mServerEvents {
  registered: [RegisteredEvent];
  updated: [UpdatedEvent];
  deregistered: [Registration];
  expired: [Registration];
  notification: [NotificationEvent];
  send: [SendEvent];
}
