import {
  type CommandRecord,
  type CommandStatus,
  type CommandStore,
  StoreConflictError,
} from '../ports.js';
import { COMMAND_COLUMNS, type CommandRow, commandFromRow } from '../rows.js';
import { isUniqueViolation, type PgQuery } from './query.js';

/** The hub's queued commands (table `commands`), as in the SQLite store. */
export class PgCommandStore implements CommandStore {
  readonly #query: PgQuery;

  constructor(query: PgQuery) {
    this.#query = query;
  }

  async create(r: CommandRecord): Promise<void> {
    try {
      await this.#query(
        `INSERT INTO commands (${COMMAND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          r.id,
          r.deviceId,
          JSON.stringify(r.command),
          r.status,
          r.by ?? null,
          r.createdAt,
          r.updatedAt,
          r.expiresAt,
          r.outcome === undefined ? null : JSON.stringify(r.outcome),
        ],
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError(`command ${r.id} exists`);
      throw err;
    }
  }

  async update(
    id: string,
    change: { status: CommandStatus; updatedAt: number; outcome?: Record<string, unknown> },
  ): Promise<CommandRecord | undefined> {
    const { rows } = await this.#query<CommandRow>(
      `UPDATE commands SET status = $1, updated_at = $2, outcome = COALESCE($3, outcome) WHERE id = $4 RETURNING ${COMMAND_COLUMNS}`,
      [
        change.status,
        change.updatedAt,
        change.outcome === undefined ? null : JSON.stringify(change.outcome),
        id,
      ],
    );
    return rows[0] && commandFromRow(rows[0]);
  }

  async get(id: string): Promise<CommandRecord | undefined> {
    const { rows } = await this.#query<CommandRow>(
      `SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = $1`,
      [id],
    );
    return rows[0] && commandFromRow(rows[0]);
  }

  async list(deviceId: string, limit: number): Promise<CommandRecord[]> {
    const { rows } = await this.#query<CommandRow>(
      `SELECT ${COMMAND_COLUMNS} FROM commands WHERE device_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
      [deviceId, limit],
    );
    return rows.map(commandFromRow);
  }

  async unfinished(): Promise<CommandRecord[]> {
    const { rows } = await this.#query<CommandRow>(
      `SELECT ${COMMAND_COLUMNS} FROM commands WHERE status IN ('queued', 'sent') ORDER BY created_at, id`,
    );
    return rows.map(commandFromRow);
  }

  async prune(before: number): Promise<number> {
    const { rowCount } = await this.#query(
      "DELETE FROM commands WHERE status NOT IN ('queued', 'sent') AND updated_at < $1",
      [before],
    );
    return rowCount ?? 0;
  }
}
