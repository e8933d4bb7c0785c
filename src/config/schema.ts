import { z } from 'zod';
import { parseDuration } from '../util/duration.js';

/** A listener's port: 0..65535 (0 picks a free one) or `off` to not start it. */
const PORT_ERROR = { error: 'expected a port number 0-65535 or "off"' };
const port = z.union(
  [
    z.literal('off', PORT_ERROR),
    z.number(PORT_ERROR).int(PORT_ERROR).min(0, PORT_ERROR).max(65535, PORT_ERROR),
  ],
  PORT_ERROR,
);

const listener = (defaultPort: number) =>
  z
    .object({
      port: port.default(defaultPort),
      /** Overrides the top-level `host` for this listener. */
      host: z.string().min(1).optional(),
    })
    .strict()
    .prefault({});

const tlsFiles = {
  /** PEM files; when `cert` and `key` are absent a self-signed development pair is generated. */
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  /** CA bundle that client certificates are verified against (enables client-certificate auth). */
  ca: z.string().min(1).optional(),
};

const dtlsFiles = {
  /**
   * PEM X.509 certificate chain (leaf first) presented to X.509 devices; without it the key is
   * presented as a raw public key (RFC 7250). Absent with `key`: a development pair is generated.
   */
  certificate: z.string().min(1).optional(),
  /** PEM private key, ECDSA P-256 (RFC 7925 §4.3), for the ECDHE_ECDSA cipher suites. */
  key: z.string().min(1).optional(),
};

/** Issue 5 limits of a DTLS listener (DtlsServerLimits in src/dtls/server.ts); unset: its defaults. */
const dtlsLimits = z
  .object({
    /** Handshakes in progress at once, after the cookie exchange (default 1000). */
    maxHandshakes: z.number().int().min(1).optional(),
    /** Handshakes in progress from one IP address (default 10). */
    maxHandshakesPerSource: z.number().int().min(1).optional(),
    /** Established sessions (default 10000). */
    maxSessions: z.number().int().min(1).optional(),
    /** A session without a record for this long is closed (default 10 minutes). */
    idleTimeoutMs: z.number().int().min(1000).optional(),
    /** Sessions kept for resumption, RFC 5246 §7.3 (default 10000; 0 disables resumption). */
    sessionCacheSize: z.number().int().min(0).optional(),
    /** A cached session resumes for at most this long, RFC 5246 §F.1.4 (default 24 hours). */
    sessionLifetimeMs: z.number().int().min(1000).optional(),
  })
  .strict()
  .optional();

/** A duration such as `90s`, `1m`, `30d` or `2y` (at least one second), as milliseconds. */
const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms !== undefined && ms >= 1000) return ms;
  ctx.addIssue({
    code: 'custom',
    message: `expected a duration of at least 1s such as 90s, 15m, 1h, 30d or 2y, got "${text}"`,
  });
  return z.NEVER;
});

export const STORAGE_BACKENDS = ['sqlite', 'postgres'] as const;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const configSchema = z
  .object({
    /** Directory of the embedded store (SQLite) and generated files. */
    dataDir: z.string().min(1).default('./data'),
    /** Address every listener binds unless it names its own. */
    host: z.string().min(1).default('127.0.0.1'),
    logLevel: z.enum(LOG_LEVELS).default('info'),
    /** Lets devices connect without credentials even when reachable beyond loopback. */
    allowAnonymous: z.boolean().default(false),
    /** Longest a graceful stop may take before connections are cut. */
    shutdownTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    listeners: z
      .object({
        http: listener(8080),
        mqtt: listener(1883),
        mqtts: listener(8883)
          .unwrap()
          .extend(tlsFiles)
          .extend({ requestCert: z.boolean().default(false) })
          .strict()
          .prefault({}),
        ws: listener(8083)
          .unwrap()
          .extend({ path: z.string().startsWith('/').default('/mqtt') })
          .strict()
          .prefault({}),
        coap: listener(5683),
        coaps: listener(5684)
          .unwrap()
          .extend(dtlsFiles)
          .extend({ limits: dtlsLimits })
          .strict()
          .prefault({}),
        bootstrap: listener(5783),
        /** Without its own certificate and key, the bootstrap DTLS listener uses those of coaps. */
        bootstrapDtls: listener(5784)
          .unwrap()
          .extend(dtlsFiles)
          .extend({ limits: dtlsLimits })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    mqtt: z
      .object({
        /**
         * Topic-filter patterns an authenticated device may publish and subscribe to; `%d` is
         * its device id. Anonymous clients (development mode) are not restricted.
         */
        deviceTopics: z.array(z.string().min(1)).min(1).default(['devices/%d/#']),
        /** Messages queued per client beyond those in flight (src/mqtt/README.md). */
        maxQueuedMessages: z.number().int().min(1).default(10_000),
        /**
         * What a full queue of a connected subscriber does: `drop` the newest message (counted
         * in $SYS and metrics), or `backpressure`: hold its publishers, losing nothing.
         */
        queueFullPolicy: z.enum(['drop', 'backpressure']).default('drop'),
      })
      .strict()
      .prefault({}),
    lwm2m: z
      .object({
        /** Directory of extra DDF XML object definitions, loaded beside the OMA registry. */
        objectsDir: z.string().min(1).optional(),
        /**
         * PEM bundle of the CAs that LwM2M client certificates must chain to (X.509 mode,
         * LwM2M-TS-Transport 1.1 §5.2.8.3); without it no client certificate is asked for.
         */
        trustStore: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    /** The application topics under `tandem/` (docs/application-topics.md). */
    bridge: z
      .object({
        /** Publish device data retained: a new subscriber gets each resource's last value. */
        retainData: z.boolean().default(false),
        /** QoS of the data and events published. */
        qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(0),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        /** Telemetry points are written in batches of at most this many... */
        batchSize: z.number().int().min(1).max(100_000).default(500),
        /** ...or after at most this many milliseconds. */
        flushIntervalMs: z.number().int().min(1).max(60_000).default(1000),
        /**
         * SQLite: write telemetry batches from a worker thread with its own connection, off the
         * thread that runs the listeners (docs/storage.md). A `:memory:` database is always
         * written in-thread.
         */
        telemetryWorker: z.boolean().default(true),
        /** Where devices, tokens, telemetry and bootstrap configurations live (docs/storage.md). */
        backend: z.enum(STORAGE_BACKENDS).default('sqlite'),
        /** `postgres://user:password@host:port/database`, for backend `postgres`. */
        postgresUrl: z.string().min(1).optional(),
      })
      .strict()
      .superRefine((s, ctx) => {
        if (s.backend === 'postgres' && s.postgresUrl === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['postgresUrl'],
            message: 'required when storage.backend is postgres',
          });
        }
      })
      .prefault({}),
    telemetry: z
      .object({
        /** Raw points older than this are deleted; their rollup buckets stay. */
        retention: duration.prefault('30d'),
        /** Downsampled buckets (min, max, avg, count, last) of each width, and how long each is kept. */
        rollups: z
          .array(z.object({ interval: duration, retention: duration }).strict())
          .max(8)
          .refine((r) => new Set(r.map((x) => x.interval)).size === r.length, {
            message: 'each rollup interval may appear only once',
          })
          .prefault([
            { interval: '1m', retention: '90d' },
            { interval: '1h', retention: '2y' },
          ]),
        /** How often expired points and buckets are deleted (in small batches). */
        sweepInterval: duration.prefault('1m'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type TandemConfig = z.output<typeof configSchema>;
export type TandemConfigInput = z.input<typeof configSchema>;
export type ListenerName = keyof TandemConfig['listeners'];

export const LISTENER_NAMES = [
  'http',
  'mqtt',
  'mqtts',
  'ws',
  'coap',
  'coaps',
  'bootstrap',
  'bootstrapDtls',
] as const satisfies readonly ListenerName[];
