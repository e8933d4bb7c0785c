/**
 * Errors of the hub's operations, each with a stable code (the API's catalogue in
 * src/api/errors.ts maps them to HTTP statuses) and, for bad input, the offending field as a
 * dotted path (`credentials.psk.key`).
 */
export type HubErrorCode =
  | 'TANDEM_ERR_VALIDATION'
  | 'TANDEM_ERR_DEVICE_NOT_FOUND'
  | 'TANDEM_ERR_DEVICE_EXISTS'
  | 'TANDEM_ERR_CREDENTIAL_CONFLICT'
  | 'TANDEM_ERR_PROFILE_NOT_FOUND'
  | 'TANDEM_ERR_PROFILE_IN_USE';

export class HubError extends Error {
  constructor(
    readonly code: HubErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

export const invalid = (field: string, message: string) =>
  new HubError('TANDEM_ERR_VALIDATION', `${field}: ${message}`, field);
