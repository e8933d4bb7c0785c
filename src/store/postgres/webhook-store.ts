import {
  type NewWebhook,
  StoreConflictError,
  type WebhookRecord,
  type WebhookStore,
} from '../ports.js';
import { WEBHOOK_COLUMNS, type WebhookRow, webhookFromRow } from '../rows.js';
import { isUniqueViolation, type PgQuery } from './query.js';

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
        `INSERT INTO webhooks (${WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${WEBHOOK_COLUMNS}`,
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
      return webhookFromRow(rows[0]!);
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError(`a webhook with id ${w.id} exists`);
      throw err;
    }
  }

  async get(id: string): Promise<WebhookRecord | undefined> {
    const { rows } = await this.#query<WebhookRow>(
      `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1`,
      [id],
    );
    return rows[0] && webhookFromRow(rows[0]);
  }

  async list(): Promise<WebhookRecord[]> {
    const { rows } = await this.#query<WebhookRow>(
      `SELECT ${WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id`,
    );
    return rows.map(webhookFromRow);
  }

  async delete(id: string): Promise<boolean> {
    const { rowCount } = await this.#query('DELETE FROM webhooks WHERE id = $1', [id]);
    return (rowCount ?? 0) > 0;
  }
}
