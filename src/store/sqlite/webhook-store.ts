import type Database from 'better-sqlite3';
import {
  type NewWebhook,
  StoreConflictError,
  type WebhookRecord,
  type WebhookStore,
} from '../ports.js';
import { WEBHOOK_COLUMNS, type WebhookRow, webhookFromRow } from '../rows.js';

/** Webhooks (table `webhooks`, migration 6). */
export class SqliteWebhookStore implements WebhookStore {
  readonly #now: () => number;
  readonly #q;

  constructor(db: Database.Database, now: () => number = Date.now) {
    this.#now = now;
    this.#q = {
      insert: db.prepare(
        `INSERT INTO webhooks (${WEBHOOK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      get: db.prepare(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?`),
      list: db.prepare(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id`),
      delete: db.prepare('DELETE FROM webhooks WHERE id = ?'),
    };
  }

  async create(w: NewWebhook): Promise<WebhookRecord> {
    try {
      this.#q.insert.run(
        w.id,
        w.url,
        JSON.stringify(w.events ?? []),
        JSON.stringify(w.devices ?? []),
        JSON.stringify(w.paths ?? []),
        w.secret ?? null,
        w.description ?? '',
        this.#now(),
      );
    } catch (err) {
      if (((err as { code?: string }).code ?? '').startsWith('SQLITE_CONSTRAINT')) {
        throw new StoreConflictError(`a webhook with id ${w.id} exists`);
      }
      throw err;
    }
    return webhookFromRow(this.#q.get.get(w.id) as WebhookRow);
  }

  async get(id: string): Promise<WebhookRecord | undefined> {
    const row = this.#q.get.get(id) as WebhookRow | undefined;
    return row && webhookFromRow(row);
  }

  async list(): Promise<WebhookRecord[]> {
    return (this.#q.list.all() as WebhookRow[]).map(webhookFromRow);
  }

  async delete(id: string): Promise<boolean> {
    return this.#q.delete.run(id).changes > 0;
  }
}
