import type Database from 'better-sqlite3';
import {
  type ApiRole,
  type ApiTokenRecord,
  type NewApiToken,
  StoreConflictError,
  type TokenStore,
} from '../ports.js';

/** A row of `api_tokens` without the hash, as both backends read it. */
export interface TokenRow {
  id: string;
  role: ApiRole;
  description: string;
  created_at: number;
}

/** API tokens by the SHA-256 of their secret (table `api_tokens`, migration 3). */
export class SqliteTokenStore implements TokenStore {
  readonly #now: () => number;
  readonly #q;

  constructor(db: Database.Database, now: () => number = Date.now) {
    this.#now = now;
    this.#q = {
      insert: db.prepare(
        'INSERT INTO api_tokens (id, role, description, hash, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
      upsert: db.prepare(
        'INSERT INTO api_tokens (id, role, description, hash, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET role = excluded.role, description = excluded.description, hash = excluded.hash, created_at = excluded.created_at',
      ),
      get: db.prepare('SELECT id, role, description, created_at FROM api_tokens WHERE id = ?'),
      byHash: db.prepare('SELECT id, role, description, created_at FROM api_tokens WHERE hash = ?'),
      list: db.prepare(
        'SELECT id, role, description, created_at FROM api_tokens ORDER BY created_at, id',
      ),
      delete: db.prepare('DELETE FROM api_tokens WHERE id = ?'),
    };
  }

  async create(token: NewApiToken): Promise<ApiTokenRecord> {
    this.#write(this.#q.insert, token);
    return tokenFromRow(this.#q.get.get(token.id) as TokenRow);
  }

  async put(token: NewApiToken): Promise<ApiTokenRecord> {
    this.#write(this.#q.upsert, token);
    return tokenFromRow(this.#q.get.get(token.id) as TokenRow);
  }

  async findByHash(hash: Buffer): Promise<ApiTokenRecord | undefined> {
    const row = this.#q.byHash.get(hash) as TokenRow | undefined;
    return row && tokenFromRow(row);
  }

  async list(): Promise<ApiTokenRecord[]> {
    return (this.#q.list.all() as TokenRow[]).map(tokenFromRow);
  }

  async delete(id: string): Promise<boolean> {
    return this.#q.delete.run(id).changes > 0;
  }

  #write(statement: Database.Statement, token: NewApiToken): void {
    try {
      statement.run(token.id, token.role, token.description ?? '', token.hash, this.#now());
    } catch (err) {
      if (((err as { code?: string }).code ?? '').startsWith('SQLITE_CONSTRAINT')) {
        throw new StoreConflictError('a token with this id or secret exists');
      }
      throw err;
    }
  }
}

export function tokenFromRow(row: TokenRow): ApiTokenRecord {
  return { id: row.id, role: row.role, description: row.description, createdAt: row.created_at };
}
