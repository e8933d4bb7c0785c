/** What the benchmark's processes say to each other over their IPC channels. */

/** The PSK of every `bench*` identity (RFC 4279), also given to openssl s_server. */
export const BENCH_PSK = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');

/**
 * What a generator process does for `durationMs`:
 * - `psk` / `rpk`: full handshakes (cookie exchange included) on `sockets` sockets at once, each
 *   socket starting its next handshake when one completes; the server replaces the previous
 *   association of that address (RFC 6347 §4.2.8), so no close_notify is sent.
 * - `sequential`: one full PSK handshake at a time, each from a new socket and ended with
 *   close_notify, as openssl s_server (one connection at a time) needs.
 * - `records`: `sockets` established PSK sessions, each echoing `window` application data
 *   records in flight.
 */
export interface GeneratorRun {
  cmd: 'run';
  mode: 'psk' | 'rpk' | 'sequential' | 'records';
  port: number;
  sockets: number;
  window: number;
  durationMs: number;
}

export interface GeneratorResult {
  /** Handshakes completed, or echoes received, inside the window. */
  done: number;
  failures: number;
  seconds: number;
}

export interface ServerStatsReply {
  stats: Record<string, number>;
  sessions: number;
}
