export { MqttBroker, type ServerPublish } from './broker.js';
export { MqttProtocolError } from './errors.js';
export type { MessageProperties, MqttMessage } from './message.js';
export type {
  AuthenticateRequest,
  AuthenticateResult,
  ClientInfo,
  ConnectionInfo,
  EnhancedAuthRequest,
  EnhancedAuthResult,
  MqttBrokerOptions,
  MqttBrokerStats,
  MqttHooks,
  MqttLimits,
} from './options.js';
export { DEFAULT_LIMITS } from './options.js';
export { MemoryPersistence } from './persistence/memory.js';
export type {
  MaybePromise,
  MqttPersistence,
  StoredDelivery,
  StoredSession,
  StoredWill,
} from './persistence/types.js';
export { ReasonCode } from './reason-codes.js';
export type { Subscription } from './topic/subscription.js';
export { MQTT_WS_PROTOCOLS, selectMqttProtocol, webSocketDuplex } from './ws-stream.js';
