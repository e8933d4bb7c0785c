/**
 * CoAP codes as one byte, `class << 5 | detail` (RFC 7252 §3, §12.1), with names for the ones
 * Tandem uses. `codeString(0x45)` is `'2.05'`.
 */
export const Code = {
  Empty: 0x00,
  Get: 0x01,
  Post: 0x02,
  Put: 0x03,
  Delete: 0x04,
  Fetch: 0x05,
  Patch: 0x06,
  IPatch: 0x07,
  Created: 0x41,
  Deleted: 0x42,
  Valid: 0x43,
  Changed: 0x44,
  Content: 0x45,
  Continue: 0x5f,
  BadRequest: 0x80,
  Unauthorized: 0x81,
  BadOption: 0x82,
  Forbidden: 0x83,
  NotFound: 0x84,
  MethodNotAllowed: 0x85,
  NotAcceptable: 0x86,
  RequestEntityIncomplete: 0x88,
  Conflict: 0x89,
  PreconditionFailed: 0x8c,
  RequestEntityTooLarge: 0x8d,
  UnsupportedContentFormat: 0x8f,
  InternalServerError: 0xa0,
  NotImplemented: 0xa1,
  BadGateway: 0xa2,
  ServiceUnavailable: 0xa3,
  GatewayTimeout: 0xa4,
  ProxyingNotSupported: 0xa5,
} as const;

/** `'c.dd'` form of a code byte. */
export function codeString(code: number): string {
  return `${code >> 5}.${String(code & 0x1f).padStart(2, '0')}`;
}

/** Code byte of a `'c.dd'` string, or `undefined` when it is not one. */
export function parseCode(text: string): number | undefined {
  const m = /^([0-7])\.([0-3][0-9])$/.exec(text);
  if (!m) return undefined;
  const detail = Number(m[2]);
  if (detail > 31) return undefined;
  return (Number(m[1]) << 5) | detail;
}

// RFC 7252 §12.1: class 0 is requests (detail > 0), 2/4/5 responses; 1, 6 and 7 are reserved.
export const isRequestCode = (code: number): boolean => code >> 5 === 0 && code !== 0;
export const isResponseCode = (code: number): boolean => {
  const c = code >> 5;
  return c === 2 || c === 4 || c === 5;
};
export const isSuccessCode = (code: number): boolean => code >> 5 === 2;
