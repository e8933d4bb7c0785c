/**
 * CoAP transmission parameters (RFC 7252 §4.8) and the derived times (§4.8.2), in milliseconds.
 */
export interface TransmissionParameters {
  /** RFC 7252 §4.8 ACK_TIMEOUT. */
  readonly ackTimeoutMs: number;
  /** RFC 7252 §4.8 ACK_RANDOM_FACTOR. */
  readonly ackRandomFactor: number;
  /** RFC 7252 §4.8 MAX_RETRANSMIT. */
  readonly maxRetransmit: number;
  /** RFC 7252 §4.8 NSTART: outstanding interactions per peer. */
  readonly nstart: number;
  /** RFC 7252 §4.8 PROBING_RATE, bytes per second towards a peer that does not respond. */
  readonly probingRate: number;
  /** RFC 7252 §4.8.2 EXCHANGE_LIFETIME: how long a message ID is remembered. */
  readonly exchangeLifetimeMs: number;
  /** RFC 7252 §4.8.2 NON_LIFETIME. */
  readonly nonLifetimeMs: number;
  /** RFC 7252 §4.8.2 MAX_TRANSMIT_WAIT: how long a CON request waits for any answer. */
  readonly maxTransmitWaitMs: number;
}

export const defaultTransmissionParameters: TransmissionParameters = {
  ackTimeoutMs: 2000,
  ackRandomFactor: 1.5,
  maxRetransmit: 4,
  nstart: 1,
  probingRate: 1,
  // RFC 7252 §4.8.2: MAX_TRANSMIT_SPAN 45 s + 2 * MAX_LATENCY 100 s + PROCESSING_DELAY 2 s.
  exchangeLifetimeMs: 247_000,
  // RFC 7252 §4.8.2: MAX_TRANSMIT_SPAN 45 s + MAX_LATENCY 100 s.
  nonLifetimeMs: 145_000,
  // RFC 7252 §4.8.2: ACK_TIMEOUT * (2 ** (MAX_RETRANSMIT + 1) - 1) * ACK_RANDOM_FACTOR.
  maxTransmitWaitMs: 93_000,
};
