import {
  type ApiTokenRecord,
  type NewApiToken,
  StoreConflictError,
  type TokenStore,
} from '../ports.js';
import { type TokenRow, tokenFromRow } from '../sqlite/token-store.js';
import { isUniqueViolation, type PgQuery } from './query.js';

const INSERT =
  'INSERT INTO api_tokens (id, role, description, hash, created_at) VALUES ($1, $2, $3, $4, $5)';
const RETURNING = 'RETURNING id, role, description, created_at';

/** API tokens by the SHA-256 of their secret (table `api_tokens`). */
export class PgTokenStore implements TokenStore {
  readonly #query: PgQuery;
  readonly #now: () => number;

  constructor(query: PgQuery, now: () => number) {
    this.#query = query;
    this.#now = now;
  }

  create(token: NewApiToken): Promise<ApiTokenRecord> {
    return this.#write(`${INSERT} ${RETURNING}`, token);
  }

  put(token: NewApiToken): Promise<ApiTokenRecord> {
    return this.#write(
      `${INSERT} ON CONFLICT (id) DO UPDATE SET role = excluded.role, description = excluded.description, hash = excluded.hash, created_at = excluded.created_at ${RETURNING}`,
      token,
    );
  }

  async findByHash(hash: Buffer): Promise<ApiTokenRecord | undefined> {
    const { rows } = await this.#query<TokenRow>(
      'SELECT id, role, description, created_at FROM api_tokens WHERE hash = $1',
      [hash],
    );
    return rows[0] && tokenFromRow(rows[0]);
  }

  async list(): Promise<ApiTokenRecord[]> {
    const { rows } = await this.#query<TokenRow>(
      'SELECT id, role, description, created_at FROM api_tokens ORDER BY created_at, id',
    );
    return rows.map(tokenFromRow);
  }

  async delete(id: string): Promise<boolean> {
    const { rowCount } = await this.#query('DELETE FROM api_tokens WHERE id = $1', [id]);
    return (rowCount ?? 0) > 0;
  }

  async #write(sql: string, token: NewApiToken): Promise<ApiTokenRecord> {
    try {
      const { rows } = await this.#query<TokenRow>(sql, [
        token.id,
        token.role,
        token.description ?? '',
        token.hash,
        this.#now(),
      ]);
      return tokenFromRow(rows[0]!);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new StoreConflictError('a token with this id or secret exists');
      throw err;
    }
  }
}
