/** Wire constants of DTLS 1.2 (RFC 6347) and the extensions Tandem implements. */

/** RFC 6347 §4.1: DTLS 1.2 is {254, 253}; DTLS 1.0 is {254, 255}. */
export const DTLS_1_2 = 0xfefd;
export const DTLS_1_0 = 0xfeff;

/** RFC 5246 §6.2.1 ContentType, RFC 9146 §4 tls12_cid. */
export const ContentType = {
  change_cipher_spec: 20,
  alert: 21,
  handshake: 22,
  application_data: 23,
  tls12_cid: 25,
} as const;

/** RFC 6347 §4.3.2 HandshakeType. */
export const HandshakeType = {
  hello_request: 0,
  client_hello: 1,
  server_hello: 2,
  hello_verify_request: 3,
  certificate: 11,
  server_key_exchange: 12,
  certificate_request: 13,
  server_hello_done: 14,
  certificate_verify: 15,
  client_key_exchange: 16,
  finished: 20,
} as const;

/** Extension code points (IANA TLS ExtensionType registry). */
export const ExtensionType = {
  max_fragment_length: 1, // RFC 6066 §4
  supported_groups: 10, // RFC 8422 §5.1.1
  ec_point_formats: 11, // RFC 8422 §5.1.2
  signature_algorithms: 13, // RFC 5246 §7.4.1.4.1
  client_certificate_type: 19, // RFC 7250 §3
  server_certificate_type: 20, // RFC 7250 §3
  encrypt_then_mac: 22, // RFC 7366
  record_size_limit: 28, // RFC 8449 §4
  extended_master_secret: 23, // RFC 7627 §5.1
  session_ticket: 35, // RFC 5077
  connection_id: 54, // RFC 9146 §3
  renegotiation_info: 0xff01, // RFC 5746 §3.2
} as const;

/** RFC 5746 §3.3: the signalling cipher suite value. */
export const TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;

/** RFC 8422 §5.1.1 NamedCurve secp256r1; §5.4 ECCurveType named_curve; §5.1.2 uncompressed. */
export const NamedGroup = { secp256r1: 23 } as const;
export const EC_CURVE_TYPE_NAMED = 3;
export const EC_POINT_FORMAT_UNCOMPRESSED = 0;

/** RFC 5246 §7.4.1.4.1: HashAlgorithm sha256 and SignatureAlgorithm ecdsa. */
export const SignatureScheme = { ecdsa_secp256r1_sha256: 0x0403 } as const;

/** RFC 7250 §3: CertificateType values. */
export const CertificateType = { x509: 0, raw_public_key: 2 } as const;

/** RFC 5246 §7.4.4 ClientCertificateType ecdsa_sign (RFC 8422 §5.5). */
export const CLIENT_CERT_TYPE_ECDSA_SIGN = 64;

/** RFC 6347 §4.1.1: the length field of a record is at most 2^14 bytes of plaintext, plus expansion. */
export const MAX_PLAINTEXT = 16384;
export const MAX_CIPHERTEXT = 16384 + 2048;
