import { issueToken } from '../../src/hub/api-tokens.js';
import type { Tandem } from '../../src/server/tandem.js';
import type { ApiRole } from '../../src/store/ports.js';

export type Json = Record<string, unknown>;

/**
 * An HTTP caller of a started Tandem's API, with one token of each role: `call` sends a JSON
 * `body` or a text one, as the role `as` (or with no token), and parses the JSON answer.
 */
export async function httpApi(tandem: Tandem) {
  const tokens = {} as Record<ApiRole, string>;
  for (const role of ['admin', 'operator', 'read-only'] as const) {
    tokens[role] = (await issueToken(tandem.store.tokens, role, role)).token;
  }
  const base = `http://127.0.0.1:${tandem.address('http')!.port}`;
  const call = async (
    method: string,
    url: string,
    opts: { as?: ApiRole; body?: unknown; text?: string } = {},
  ) => {
    const headers: Record<string, string> = {};
    if (opts.as) headers.authorization = `Bearer ${tokens[opts.as]}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    } else if (opts.text !== undefined) {
      headers['content-type'] = 'text/plain';
      body = opts.text;
    }
    const res = await fetch(`${base}${url}`, { method, headers, ...(body ? { body } : {}) });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      json: (text ? JSON.parse(text) : undefined) as Json,
    };
  };
  return { call, tokens, base };
}
