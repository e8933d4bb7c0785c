import {
  type NewWebhook,
  StoreConflictError,
  type WebhookRecord,
  type WebhookStore,
} from '../ports.js';
import { isUniqueViolation, type PgQuery } from './query.js';

interface WebhookRow {
  id: string;
  url: string;
  events: string;
  devices: string;
  paths: string;
  secret: string | null;
  description: string;
  created_at: number;
}

const COLUMNS = 'id, url, events, devices, paths, secret, description, created_at';

/** Webhooks (table `webhooks`), as in the SQLite store: the filters as JSON arrays. */
export class PgWebhookStore implements WebhookStore {
  readonly #query: PgQuery;
  readonly #now: () => number;

  constructor(query: PgQuery, now: () => number) {
    this.#query = query;
    this.#now = now;
  }

  async create(w: NewWebhook): Promise<WebhookRecord> {
    try {
      const { rows } = await this.#query<WebhookRow>(
        `INSERT INTO webhooks (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
        [
          w.id,
          w.url,
          JSON.stringify(w.events ?? []),
          JSON.stringify(w.devices ?? []),
          JSON.stringify(w.paths ?? []),
          w.secret ?? null,
          w.description ?? '',
          this.#now(),
        ],
      );
      return toRecord(rows[0]!);
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError(`a webhook with id ${w.id} exists`);
      throw err;
    }
  }

  async get(id: string): Promise<WebhookRecord | undefined> {
    const { rows } = await this.#query<WebhookRow>(
      `SELECT ${COLUMNS} FROM webhooks WHERE id = $1`,
      [id],
    );
    return rows[0] && toRecord(rows[0]);
  }

  async list(): Promise<WebhookRecord[]> {
    const { rows } = await this.#query<WebhookRow>(
      `SELECT ${COLUMNS} FROM webhooks ORDER BY created_at, id`,
    );
    return rows.map(toRecord);
  }

  async delete(id: string): Promise<boolean> {
    const { rowCount } = await this.#query('DELETE FROM webhooks WHERE id = $1', [id]);
    return (rowCount ?? 0) > 0;
  }
}

function toRecord(row: WebhookRow): WebhookRecord {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    devices: JSON.parse(row.devices) as string[],
    paths: JSON.parse(row.paths) as string[],
    ...(row.secret !== null ? { secret: row.secret } : {}),
    description: row.description,
    createdAt: row.created_at,
  };
}
