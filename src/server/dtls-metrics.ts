import { Counter, type Registry } from 'prom-client';
import type { DtlsServer, DtlsServerStats } from '../dtls/server.js';
import { gaugeFrom } from './metrics.js';

type Entries = [Record<string, string>, number][];

/** Counters of DtlsServerStats: name, help, the labels they split on, and the values. */
const COUNTERS: [string, string, string[], (s: DtlsServerStats) => Entries][] = [
  [
    'tandem_dtls_handshakes_total',
    'DTLS handshakes: started (after a valid cookie), completed (full), resumed (abbreviated), failed, and rejected by the handshake or session limits.',
    ['outcome'],
    (s) => [
      [{ outcome: 'started' }, s.handshakesStarted],
      [{ outcome: 'completed' }, s.handshakesCompleted],
      [{ outcome: 'resumed' }, s.sessionsResumed],
      [{ outcome: 'failed' }, s.handshakesFailed],
      [{ outcome: 'rejected' }, s.handshakesRejected],
    ],
  ],
  [
    'tandem_dtls_alerts_total',
    'DTLS alerts sent and received.',
    ['direction'],
    (s) => [
      [{ direction: 'sent' }, s.alertsSent],
      [{ direction: 'received' }, s.alertsReceived],
    ],
  ],
  ...(
    [
      [
        'tandem_dtls_hello_verify_requests_total',
        'HelloVerifyRequests sent to ClientHellos without a valid cookie (RFC 6347 §4.2.1).',
        'helloVerifyRequestsSent',
      ],
      [
        'tandem_dtls_sessions_closed_total',
        'Established DTLS sessions that ended: close_notify, fatal alert, revocation, idle eviction or shutdown.',
        'sessionsClosed',
      ],
      [
        'tandem_dtls_sessions_evicted_total',
        'DTLS sessions ended for being idle longer than the idle timeout.',
        'sessionsEvicted',
      ],
      [
        'tandem_dtls_address_changes_total',
        'DTLS sessions that followed their peer to a new address by connection ID (RFC 9146 §6).',
        'addressChanges',
      ],
      [
        'tandem_dtls_datagrams_received_total',
        'Datagrams received by the DTLS listener.',
        'datagramsReceived',
      ],
      [
        'tandem_dtls_datagrams_dropped_total',
        'Datagrams that belonged to no DTLS association and were no ClientHello.',
        'datagramsDropped',
      ],
      [
        'tandem_dtls_records_dropped_total',
        'Records of an association dropped silently: unknown epoch, replayed, not authentic (RFC 6347 §4.1.2.7).',
        'recordsDropped',
      ],
    ] as [string, string, keyof DtlsServerStats][]
  ).map(([name, help, key]): [string, string, string[], (s: DtlsServerStats) => Entries] => [
    name,
    help,
    [],
    (s) => [[{}, s[key]]],
  ]),
];

/**
 * The DTLS listeners' counters and limits (issue 5: handshakes in progress, sessions, refusals,
 * dropped records) as Prometheus metrics labelled by listener, read at scrape time from each
 * server's plain `stats`.
 */
export function dtlsMetrics(registry: Registry, servers: () => Iterable<[string, DtlsServer]>) {
  for (const [name, help, labels, read] of COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ['listener', ...labels],
      registers: [registry],
      collect() {
        this.reset();
        for (const [listener, server] of servers()) {
          for (const [l, n] of read(server.stats)) this.inc({ listener, ...l }, n);
        }
      },
    });
  }
  gaugeFrom(
    registry,
    'tandem_dtls_sessions',
    'Established DTLS sessions.',
    ['listener'],
    function* () {
      for (const [listener, server] of servers()) yield [{ listener }, server.sessions];
    },
  );
  gaugeFrom(
    registry,
    'tandem_dtls_handshakes_in_progress',
    'DTLS handshakes in progress (after the cookie exchange).',
    ['listener'],
    function* () {
      for (const [listener, server] of servers()) yield [{ listener }, server.handshakesInProgress];
    },
  );
}
