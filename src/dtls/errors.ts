/**
 * Alerts and the one error type of the DTLS library. Every `DtlsError` carries the alert that
 * answers it (RFC 5246 §7.2), so the connection turns any failure into exactly one wire reply.
 */

/** RFC 5246 §7.2: AlertLevel. */
export const AlertLevel = { warning: 1, fatal: 2 } as const;

/** RFC 5246 §7.2, RFC 4279 §6 (unknown_psk_identity), RFC 5746 (no_renegotiation). */
export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  user_canceled: 90,
  no_renegotiation: 100,
  unsupported_extension: 110,
  unknown_psk_identity: 115,
} as const;

export type AlertDescriptionName = keyof typeof AlertDescription;

const alertNames = new Map<number, AlertDescriptionName>(
  Object.entries(AlertDescription).map(([k, v]) => [v, k as AlertDescriptionName]),
);

/** The name of an alert description, or `alert_<n>` for one we do not know. */
export function alertName(description: number): string {
  return alertNames.get(description) ?? `alert_${description}`;
}

/** A handshake or record failure; `alert` is what to send the peer (always fatal). */
export class DtlsError extends Error {
  /** Stable code, `DTLS_ERR_<ALERT NAME>`. */
  readonly code: string;
  constructor(
    readonly alert: AlertDescriptionName,
    message: string,
  ) {
    super(message);
    this.name = 'DtlsError';
    this.code = `DTLS_ERR_${alert.toUpperCase()}`;
  }
}
