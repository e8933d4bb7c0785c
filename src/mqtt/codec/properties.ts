/** MQTT 5.0 property identifiers and data types (MQTT 5.0 §2.2.2.2, Table 2-4). */
export type PropertyType = 'byte' | 'int16' | 'int32' | 'var' | 'string' | 'binary' | 'pair';

/** Where a property may appear: packet names, plus `will` for the Will Properties. */
export type PropertyPlace =
  | 'connect'
  | 'connack'
  | 'publish'
  | 'will'
  | 'puback'
  | 'pubrec'
  | 'pubrel'
  | 'pubcomp'
  | 'subscribe'
  | 'suback'
  | 'unsubscribe'
  | 'unsuback'
  | 'disconnect'
  | 'auth';

export interface PropertySpec {
  name: string;
  type: PropertyType;
  places: readonly PropertyPlace[];
}

const ACKS: PropertyPlace[] = ['puback', 'pubrec', 'pubrel', 'pubcomp', 'suback', 'unsuback'];

export const PROPERTIES: ReadonlyMap<number, PropertySpec> = new Map<number, PropertySpec>([
  [0x01, { name: 'payloadFormatIndicator', type: 'byte', places: ['publish', 'will'] }],
  [0x02, { name: 'messageExpiryInterval', type: 'int32', places: ['publish', 'will'] }],
  [0x03, { name: 'contentType', type: 'string', places: ['publish', 'will'] }],
  [0x08, { name: 'responseTopic', type: 'string', places: ['publish', 'will'] }],
  [0x09, { name: 'correlationData', type: 'binary', places: ['publish', 'will'] }],
  [0x0b, { name: 'subscriptionIdentifier', type: 'var', places: ['publish', 'subscribe'] }],
  [
    0x11,
    {
      name: 'sessionExpiryInterval',
      type: 'int32',
      places: ['connect', 'connack', 'disconnect'],
    },
  ],
  [0x12, { name: 'assignedClientIdentifier', type: 'string', places: ['connack'] }],
  [0x13, { name: 'serverKeepAlive', type: 'int16', places: ['connack'] }],
  [0x15, { name: 'authenticationMethod', type: 'string', places: ['connect', 'connack', 'auth'] }],
  [0x16, { name: 'authenticationData', type: 'binary', places: ['connect', 'connack', 'auth'] }],
  [0x17, { name: 'requestProblemInformation', type: 'byte', places: ['connect'] }],
  [0x18, { name: 'willDelayInterval', type: 'int32', places: ['will'] }],
  [0x19, { name: 'requestResponseInformation', type: 'byte', places: ['connect'] }],
  [0x1a, { name: 'responseInformation', type: 'string', places: ['connack'] }],
  [0x1c, { name: 'serverReference', type: 'string', places: ['connack', 'disconnect'] }],
  [
    0x1f,
    { name: 'reasonString', type: 'string', places: ['connack', 'disconnect', 'auth', ...ACKS] },
  ],
  [0x21, { name: 'receiveMaximum', type: 'int16', places: ['connect', 'connack'] }],
  [0x22, { name: 'topicAliasMaximum', type: 'int16', places: ['connect', 'connack'] }],
  [0x23, { name: 'topicAlias', type: 'int16', places: ['publish'] }],
  [0x24, { name: 'maximumQoS', type: 'byte', places: ['connack'] }],
  [0x25, { name: 'retainAvailable', type: 'byte', places: ['connack'] }],
  [
    0x26,
    {
      name: 'userProperties',
      type: 'pair',
      places: [
        'connect',
        'connack',
        'publish',
        'will',
        'subscribe',
        'unsubscribe',
        'disconnect',
        'auth',
        ...ACKS,
      ],
    },
  ],
  [0x27, { name: 'maximumPacketSize', type: 'int32', places: ['connect', 'connack'] }],
  [0x28, { name: 'wildcardSubscriptionAvailable', type: 'byte', places: ['connack'] }],
  [0x29, { name: 'subscriptionIdentifiersAvailable', type: 'byte', places: ['connack'] }],
  [0x2a, { name: 'sharedSubscriptionAvailable', type: 'byte', places: ['connack'] }],
]);

/** An ordered list of user properties; duplicates are kept (MQTT 5.0 §3.3.2.3.7). */
export type UserProperties = Array<[string, string]>;

/** Converts ordered user properties to mqtt-packet's object form (for packets it generates). */
export function toPacketUserProperties(list: UserProperties): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [k, v] of list) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}
