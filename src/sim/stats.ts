/** The fleet's counters, for the progress line and the summary. */
export interface FleetCounters {
  lwm2mStarted: number;
  lwm2mConnected: number;
  lwm2mRegistered: number;
  registrations: number;
  deregistrations: number;
  updates: number;
  bootstraps: number;
  reboots: number;
  churned: number;
  wakeUps: number;
  firmwareUpdates: number;
  firmwareFailures: number;
  measurements: number;
  sends: number;
  mqttStarted: number;
  mqttConnected: number;
  mqttPublished: number;
  errors: number;
}

export function emptyCounters(): FleetCounters {
  return {
    lwm2mStarted: 0,
    lwm2mConnected: 0,
    lwm2mRegistered: 0,
    registrations: 0,
    deregistrations: 0,
    updates: 0,
    bootstraps: 0,
    reboots: 0,
    churned: 0,
    wakeUps: 0,
    firmwareUpdates: 0,
    firmwareFailures: 0,
    measurements: 0,
    sends: 0,
    mqttStarted: 0,
    mqttConnected: 0,
    mqttPublished: 0,
    errors: 0,
  };
}

/** CoAP message counts of the endpoints that are gone, added to those of the live ones. */
export interface MessageTotals {
  coapIn: number;
  coapOut: number;
  coapTimeouts: number;
  coapRetransmissions: number;
}
