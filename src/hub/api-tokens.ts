import { createHash, randomBytes } from 'node:crypto';
import type { ApiRole, ApiTokenRecord, TokenStore } from '../store/ports.js';

export const API_ROLES: readonly ApiRole[] = ['read-only', 'operator', 'admin'];

/** Whether `role` includes everything `needed` may do (admin > operator > read-only). */
export function roleAllows(role: ApiRole, needed: ApiRole): boolean {
  return API_ROLES.indexOf(role) >= API_ROLES.indexOf(needed);
}

/** Prefix of every generated token, so a leaked one is recognisable by secret scanners. */
const TOKEN_PREFIX = 'tdm_';
/** A token from TANDEM_ADMIN_TOKEN must be at least this long (see `hashToken`). */
export const MIN_TOKEN_LENGTH = 32;
/** The token68 syntax of RFC 7235 §2.1 that a bearer token must have (RFC 6750 §2.1). */
export const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Id of the admin token that TANDEM_ADMIN_TOKEN supplies; replaced when the variable changes. */
export const ENV_TOKEN_ID = 'env-admin';

/**
 * SHA-256, not scrypt: a generated token carries 256 random bits, so nobody can search the
 * token space even with a fast hash, while a slow hash would cost ~50 ms on every API request.
 * Only the hash is stored, so a copy of the database does not let anyone call the API.
 */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export interface IssuedToken extends ApiTokenRecord {
  /** The secret, shown once and never stored. */
  readonly token: string;
}

/** Creates a token with a fresh 256-bit secret and stores its hash. */
export async function issueToken(
  tokens: TokenStore,
  role: ApiRole,
  description = '',
): Promise<IssuedToken> {
  const id = randomBytes(6).toString('hex');
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const record = await tokens.create({ id, role, description, hash: hashToken(token) });
  return { ...record, token };
}

/**
 * Installs the operator-chosen TANDEM_ADMIN_TOKEN as admin token `env-admin`. It must be long
 * enough for a fast hash to be safe (see `hashToken`).
 */
export async function installEnvAdminToken(
  tokens: TokenStore,
  token: string,
): Promise<ApiTokenRecord> {
  // RFC 6750 §2.1: what fits in `Authorization: Bearer <token68>`.
  if (!TOKEN68.test(token)) {
    throw new TokenError(
      'TANDEM_ADMIN_TOKEN may only hold A-Z a-z 0-9 - . _ ~ + / (and = at the end), as a bearer token must',
    );
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new TokenError(
      `TANDEM_ADMIN_TOKEN must be at least ${MIN_TOKEN_LENGTH} characters of random text (for example: openssl rand -hex 32)`,
    );
  }
  return tokens.put({
    id: ENV_TOKEN_ID,
    role: 'admin',
    description: 'from TANDEM_ADMIN_TOKEN',
    hash: hashToken(token),
  });
}

/** The token record a bearer secret stands for, if any. */
export function resolveToken(
  tokens: TokenStore,
  secret: string,
): Promise<ApiTokenRecord | undefined> {
  return tokens.findByHash(hashToken(secret));
}

export class TokenError extends Error {
  readonly code = 'TANDEM_ERR_ADMIN_TOKEN';
}
