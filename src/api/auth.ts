import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hashToken, roleAllows, TOKEN68 } from '../hub/api-tokens.js';
import type { ApiRole, ApiTokenRecord, TokenStore } from '../store/ports.js';
import { ApiError } from './errors.js';

/** Who may call a route: anyone, or a token of at least this role. */
export type Access = 'public' | ApiRole;

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    /**
     * The token may also come as the `access_token` query parameter (RFC 6750 §2.3), for
     * clients that cannot set headers: browsers opening a WebSocket.
     */
    queryToken?: boolean;
  }
  interface FastifyRequest {
    /** The token the request authenticated with; undefined for public or anonymous reads. */
    apiToken?: ApiTokenRecord;
    /** The SHA-256 of its secret, with which a long-lived stream checks that it still stands. */
    apiTokenHash?: Buffer;
  }
}

/** OpenAPI security requirement of every route that takes a token. */
export const BEARER = [{ bearer: [] }];
export const bearerScheme = { bearer: { type: 'http', scheme: 'bearer' } } as const;

export interface AuthOptions {
  tokens: TokenStore | undefined;
  /**
   * Let requests without a token read (never write): the loopback-only development mode. A
   * request that does send a token is still checked, so a bad token is never silently ignored.
   */
  anonymousReads: boolean;
}

/** Routes registered by plugins, without our `access` config, that stay public. */
const PUBLIC_PREFIXES = ['/api/docs', '/api/openapi.json'];

/**
 * Bearer-token authentication (RFC 6750) on every route. A route says who may call it in
 * `config.access`; one that says nothing needs an admin token, so a route that forgets is
 * closed, not open.
 */
export function installAuth(app: FastifyInstance, options: AuthOptions): void {
  app.addHook('onRequest', async (request) => {
    const access = accessOf(request);
    if (access === 'public') return;
    const header = request.headers.authorization ?? queryBearer(request);
    if (header === undefined) {
      if (options.anonymousReads && access === 'read-only') return;
      throw new ApiError('TANDEM_ERR_UNAUTHORIZED', 'this request needs a bearer token');
    }
    // RFC 6750 §2.1: `Bearer <token68>`; the scheme is case-insensitive (RFC 7235 §2.1).
    const secret = /^Bearer +(\S+) *$/i.exec(header)?.[1];
    if (secret === undefined || !TOKEN68.test(secret)) {
      throw new ApiError(
        'TANDEM_ERR_UNAUTHORIZED',
        'the Authorization header must be "Bearer <token>"',
      );
    }
    const hash = hashToken(secret);
    const token = await options.tokens?.findByHash(hash);
    if (!token) throw new ApiError('TANDEM_ERR_UNAUTHORIZED', 'unknown or revoked token');
    if (!roleAllows(token.role, access)) {
      throw new ApiError(
        'TANDEM_ERR_FORBIDDEN',
        `a ${token.role} token may not ${request.method} ${request.routeOptions.url}; it needs ${access}`,
      );
    }
    request.apiToken = token;
    request.apiTokenHash = hash;
  });
}

/**
 * Whether the token a request authenticated with still stands (not revoked nor replaced); a
 * stream that stays open checks it now and then. True for anonymous and public requests.
 */
export async function tokenStands(
  request: FastifyRequest,
  tokens: TokenStore | undefined,
): Promise<boolean> {
  if (request.apiTokenHash === undefined) return true;
  return (await tokens?.findByHash(request.apiTokenHash)) !== undefined;
}

function accessOf(request: FastifyRequest): Access {
  if (request.is404) return 'public';
  const declared = request.routeOptions.config.access;
  if (declared) return declared;
  const url = request.routeOptions.url ?? '';
  return PUBLIC_PREFIXES.some((p) => url.startsWith(p)) ? 'public' : 'admin';
}

/**
 * A logged URL (`url` or `path`, whoever logs it: our error handler, fastify, its plugins) with
 * an `access_token` (RFC 6750 §2.3) replaced: tokens are never logged.
 */
export function redactedUrl(url: unknown): unknown {
  return typeof url === 'string' ? url.replace(/([?&]access_token=)[^&#]*/gi, '$1[redacted]') : url;
}

/** The `access_token` query parameter as an Authorization header, where the route takes it. */
function queryBearer(request: FastifyRequest): string | undefined {
  if (!request.routeOptions.config.queryToken) return undefined;
  const token = (request.query as { access_token?: unknown } | undefined)?.access_token;
  return typeof token === 'string' ? `Bearer ${token}` : undefined;
}
