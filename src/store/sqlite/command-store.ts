import type Database from 'better-sqlite3';
import {
  type CommandRecord,
  type CommandStatus,
  type CommandStore,
  StoreConflictError,
} from '../ports.js';
import { COMMAND_COLUMNS, type CommandRow, commandFromRow } from '../rows.js';

/** The hub's queued commands (table `commands`, migration 7). */
export class SqliteCommandStore implements CommandStore {
  readonly #q;

  constructor(db: Database.Database) {
    this.#q = {
      insert: db.prepare(
        `INSERT INTO commands (${COMMAND_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      update: db.prepare(
        'UPDATE commands SET status = ?, updated_at = ?, outcome = coalesce(?, outcome) WHERE id = ?',
      ),
      get: db.prepare(`SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = ?`),
      list: db.prepare(
        `SELECT ${COMMAND_COLUMNS} FROM commands WHERE device_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`,
      ),
      unfinished: db.prepare(
        `SELECT ${COMMAND_COLUMNS} FROM commands WHERE status IN ('queued', 'sent') ORDER BY created_at, id`,
      ),
      prune: db.prepare(
        "DELETE FROM commands WHERE status NOT IN ('queued', 'sent') AND updated_at < ?",
      ),
    };
  }

  async create(r: CommandRecord): Promise<void> {
    try {
      this.#q.insert.run(
        r.id,
        r.deviceId,
        JSON.stringify(r.command),
        r.status,
        r.by ?? null,
        r.createdAt,
        r.updatedAt,
        r.expiresAt,
        r.outcome === undefined ? null : JSON.stringify(r.outcome),
      );
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new StoreConflictError(`command ${r.id} exists`);
      }
      throw err;
    }
  }

  async update(
    id: string,
    change: { status: CommandStatus; updatedAt: number; outcome?: Record<string, unknown> },
  ): Promise<CommandRecord | undefined> {
    const outcome = change.outcome === undefined ? null : JSON.stringify(change.outcome);
    if (this.#q.update.run(change.status, change.updatedAt, outcome, id).changes === 0) {
      return undefined;
    }
    return this.get(id);
  }

  async get(id: string): Promise<CommandRecord | undefined> {
    const row = this.#q.get.get(id) as CommandRow | undefined;
    return row && commandFromRow(row);
  }

  async list(deviceId: string, limit: number): Promise<CommandRecord[]> {
    return (this.#q.list.all(deviceId, limit) as CommandRow[]).map(commandFromRow);
  }

  async unfinished(): Promise<CommandRecord[]> {
    return (this.#q.unfinished.all() as CommandRow[]).map(commandFromRow);
  }

  async prune(before: number): Promise<number> {
    return this.#q.prune.run(before).changes;
  }
}
