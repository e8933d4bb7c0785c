/**
 * Every setting that can come from the environment or the command line, in one table: the CLI
 * builds its flags and `--help` from it, the loader reads `TANDEM_*` variables from it.
 * The config file can set these and everything else in the schema.
 */
export type SettingKind =
  | 'string'
  | 'path'
  | 'port'
  | 'boolean'
  | 'integer'
  | 'logLevel'
  | 'duration'
  | 'storageBackend'
  | 'qos'
  | 'queuePolicy';

export interface Setting {
  /** Dotted key in the configuration object, e.g. `listeners.http.port`. */
  readonly key: string;
  readonly flag: string;
  readonly env: string;
  readonly kind: SettingKind;
  readonly description: string;
}

const port = (name: string, key: string, what: string, byDefault: number): Setting => ({
  key: `listeners.${key}.port`,
  flag: `--${name}-port`,
  env: `TANDEM_${name.toUpperCase().replaceAll('-', '_')}_PORT`,
  kind: 'port',
  description: `${what} port, or "off" (default ${byDefault})`,
});

export const SETTINGS: readonly Setting[] = [
  {
    key: 'dataDir',
    flag: '--data-dir',
    env: 'TANDEM_DATA_DIR',
    kind: 'path',
    description: 'directory of the embedded SQLite store and generated files (default ./data)',
  },
  {
    key: 'host',
    flag: '--host',
    env: 'TANDEM_HOST',
    kind: 'string',
    description:
      'address every listener binds (default 127.0.0.1; beyond loopback, devices must authenticate)',
  },
  port('http', 'http', 'HTTP API, metrics and console', 8080),
  port('mqtt', 'mqtt', 'MQTT over TCP', 1883),
  port('mqtts', 'mqtts', 'MQTT over TLS', 8883),
  port('ws', 'ws', 'MQTT over WebSocket (path /mqtt)', 8083),
  port('coap', 'coap', 'LwM2M over CoAP/UDP', 5683),
  port('coaps', 'coaps', 'LwM2M over CoAP/DTLS', 5684),
  port('bootstrap', 'bootstrap', 'LwM2M bootstrap server over CoAP/UDP', 5783),
  port('bootstrap-dtls', 'bootstrapDtls', 'LwM2M bootstrap server over CoAP/DTLS', 5784),
  {
    key: 'listeners.mqtts.cert',
    flag: '--mqtts-cert',
    env: 'TANDEM_MQTTS_CERT',
    kind: 'path',
    description: 'PEM certificate (chain) for MQTT over TLS (default: a generated development one)',
  },
  {
    key: 'listeners.mqtts.key',
    flag: '--mqtts-key',
    env: 'TANDEM_MQTTS_KEY',
    kind: 'path',
    description: 'PEM private key for --mqtts-cert',
  },
  {
    key: 'listeners.mqtts.ca',
    flag: '--mqtts-ca',
    env: 'TANDEM_MQTTS_CA',
    kind: 'path',
    description: 'PEM CA bundle to verify client certificates against',
  },
  {
    key: 'listeners.coaps.certificate',
    flag: '--coaps-certificate',
    env: 'TANDEM_COAPS_CERTIFICATE',
    kind: 'path',
    description:
      'PEM certificate chain for LwM2M over DTLS (X.509 mode; without it the key is a raw public key)',
  },
  {
    key: 'listeners.coaps.key',
    flag: '--coaps-key',
    env: 'TANDEM_COAPS_KEY',
    kind: 'path',
    description:
      'PEM ECDSA P-256 private key for LwM2M over DTLS (default: a generated development one)',
  },
  {
    key: 'listeners.bootstrapDtls.certificate',
    flag: '--bootstrap-dtls-certificate',
    env: 'TANDEM_BOOTSTRAP_DTLS_CERTIFICATE',
    kind: 'path',
    description: 'PEM certificate chain for the DTLS bootstrap server (default: that of coaps)',
  },
  {
    key: 'listeners.bootstrapDtls.key',
    flag: '--bootstrap-dtls-key',
    env: 'TANDEM_BOOTSTRAP_DTLS_KEY',
    kind: 'path',
    description:
      'PEM ECDSA P-256 private key for the DTLS bootstrap server (default: that of coaps)',
  },
  {
    key: 'lwm2m.trustStore',
    flag: '--lwm2m-trust-store',
    env: 'TANDEM_LWM2M_TRUST_STORE',
    kind: 'path',
    description: 'PEM CA bundle that LwM2M client certificates must chain to (X.509 mode)',
  },
  {
    key: 'listeners.ws.path',
    flag: '--ws-path',
    env: 'TANDEM_WS_PATH',
    kind: 'string',
    description: 'HTTP path of MQTT over WebSocket (default /mqtt)',
  },
  {
    key: 'lwm2m.objectsDir',
    flag: '--objects-dir',
    env: 'TANDEM_OBJECTS_DIR',
    kind: 'path',
    description: 'directory of extra LwM2M object definitions (DDF XML)',
  },
  {
    key: 'logLevel',
    flag: '--log-level',
    env: 'TANDEM_LOG_LEVEL',
    kind: 'logLevel',
    description: 'fatal, error, warn, info, debug, trace or silent (default info)',
  },
  {
    key: 'allowAnonymous',
    flag: '--allow-anonymous',
    env: 'TANDEM_ALLOW_ANONYMOUS',
    kind: 'boolean',
    description: 'let devices connect without credentials even beyond loopback (logs a warning)',
  },
  {
    key: 'mqtt.queueFullPolicy',
    flag: '--mqtt-queue-full-policy',
    env: 'TANDEM_MQTT_QUEUE_FULL_POLICY',
    kind: 'queuePolicy',
    description:
      'a connected subscriber\'s full queue: "drop" the newest message (counted) or "backpressure" (hold publishers, lose nothing); default drop',
  },
  {
    key: 'bridge.retainData',
    flag: '--bridge-retain-data',
    env: 'TANDEM_BRIDGE_RETAIN_DATA',
    kind: 'boolean',
    description:
      "publish device data on tandem/ retained: new subscribers get each resource's last value",
  },
  {
    key: 'bridge.qos',
    flag: '--bridge-qos',
    env: 'TANDEM_BRIDGE_QOS',
    kind: 'qos',
    description: 'QoS (0, 1 or 2) of the device data and events published on tandem/ (default 0)',
  },
  {
    key: 'shutdownTimeoutMs',
    flag: '--shutdown-timeout',
    env: 'TANDEM_SHUTDOWN_TIMEOUT',
    kind: 'integer',
    description: 'milliseconds a graceful stop may take before connections are cut (default 10000)',
  },
  {
    key: 'storage.backend',
    flag: '--storage-backend',
    env: 'TANDEM_STORAGE_BACKEND',
    kind: 'storageBackend',
    description: 'sqlite (embedded, in --data-dir) or postgres (needs --storage-postgres-url)',
  },
  {
    key: 'storage.postgresUrl',
    flag: '--storage-postgres-url',
    env: 'TANDEM_STORAGE_POSTGRES_URL',
    kind: 'string',
    description: 'connection URL of the postgres backend, postgres://user:password@host/db',
  },
  {
    key: 'storage.telemetryWorker',
    flag: '--storage-telemetry-worker',
    env: 'TANDEM_STORAGE_TELEMETRY_WORKER',
    kind: 'boolean',
    description:
      "SQLite: write telemetry from a worker thread, off the listeners' thread (default true)",
  },
  {
    key: 'telemetry.retention',
    flag: '--telemetry-retention',
    env: 'TANDEM_TELEMETRY_RETENTION',
    kind: 'duration',
    description:
      'how long raw telemetry points are kept, e.g. 7d (default 30d; rollups stay longer)',
  },
];

/** `TANDEM_*` variables read elsewhere than this table; anything else unknown is reported. */
export const OTHER_ENV = new Set([
  'TANDEM_CONFIG',
  'TANDEM_ADMIN_TOKEN',
  // Read by the operator commands (tandem devices, tokens), not by the server.
  'TANDEM_URL',
  'TANDEM_TOKEN',
]);
