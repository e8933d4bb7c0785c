/**
 * The CoAP layer's errors, each with a stable `code` and what the endpoint needs to reply:
 * the message ID, type and token of the message at fault, or the response code to send.
 */
export type CoapErrorCode =
  | 'COAP_ERR_FORMAT'
  | 'COAP_ERR_TIMEOUT'
  | 'COAP_ERR_RESET'
  | 'COAP_ERR_CLOSED'
  | 'COAP_ERR_CANCELLED'
  | 'COAP_ERR_BLOCKWISE'
  | 'COAP_ERR_RESPONSE';

export class CoapError extends Error {
  readonly code: CoapErrorCode;
  constructor(code: CoapErrorCode, message: string) {
    super(message);
    this.name = 'CoapError';
    this.code = code;
  }
}

/**
 * A datagram that is not a well-formed CoAP message (RFC 7252 §3). When the header could be
 * read, `messageId` and `type` let the endpoint reject a CON with RST (§4.2); `silent` says the
 * RFC wants the message ignored without any answer (unknown version, §3).
 */
export class CoapFormatError extends CoapError {
  readonly messageId: number | undefined;
  readonly type: number | undefined;
  readonly token: Buffer | undefined;
  readonly silent: boolean;
  constructor(
    message: string,
    header: { messageId?: number; type?: number; token?: Buffer; silent?: boolean } = {},
  ) {
    super('COAP_ERR_FORMAT', message);
    this.name = 'CoapFormatError';
    this.messageId = header.messageId;
    this.type = header.type;
    this.token = header.token;
    this.silent = header.silent ?? false;
  }
}

/** A request of ours that got no answer in time (RFC 7252 §4.2 MAX_TRANSMIT_WAIT, or ours). */
export class CoapTimeoutError extends CoapError {
  constructor(message = 'CoAP request timed out') {
    super('COAP_ERR_TIMEOUT', message);
    this.name = 'CoapTimeoutError';
  }
}

/** The peer rejected our message with RST (RFC 7252 §4.2, §4.3). */
export class CoapResetError extends CoapError {
  readonly messageId: number;
  constructor(messageId: number) {
    super('COAP_ERR_RESET', `peer answered message ${messageId} with RST`);
    this.name = 'CoapResetError';
    this.messageId = messageId;
  }
}

/** A block-wise transfer that cannot go on (RFC 7959); `responseCode` is what a server answers. */
export class CoapBlockwiseError extends CoapError {
  readonly responseCode: number | undefined;
  constructor(message: string, responseCode?: number) {
    super('COAP_ERR_BLOCKWISE', message);
    this.name = 'CoapBlockwiseError';
    this.responseCode = responseCode;
  }
}
