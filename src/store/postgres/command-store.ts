import {
  type CommandRecord,
  type CommandStatus,
  type CommandStore,
  StoreConflictError,
} from '../ports.js';
import { isUniqueViolation, type PgQuery } from './query.js';

interface CommandRow {
  id: string;
  device_id: string;
  command: string;
  status: CommandStatus;
  by_token: string | null;
  created_at: number;
  updated_at: number;
  expires_at: number;
  outcome: string | null;
}

const COLUMNS =
  'id, device_id, command, status, by_token, created_at, updated_at, expires_at, outcome';

/** The hub's queued commands (table `commands`), as in the SQLite store. */
export class PgCommandStore implements CommandStore {
  readonly #query: PgQuery;

  constructor(query: PgQuery) {
    this.#query = query;
  }

  async create(r: CommandRecord): Promise<void> {
    try {
      await this.#query(
        `INSERT INTO commands (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
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
      `UPDATE commands SET status = $1, updated_at = $2, outcome = COALESCE($3, outcome) WHERE id = $4 RETURNING ${COLUMNS}`,
      [
        change.status,
        change.updatedAt,
        change.outcome === undefined ? null : JSON.stringify(change.outcome),
        id,
      ],
    );
    return rows[0] && toRecord(rows[0]);
  }

  async get(id: string): Promise<CommandRecord | undefined> {
    const { rows } = await this.#query<CommandRow>(
      `SELECT ${COLUMNS} FROM commands WHERE id = $1`,
      [id],
    );
    return rows[0] && toRecord(rows[0]);
  }

  async list(deviceId: string, limit: number): Promise<CommandRecord[]> {
    const { rows } = await this.#query<CommandRow>(
      `SELECT ${COLUMNS} FROM commands WHERE device_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
      [deviceId, limit],
    );
    return rows.map(toRecord);
  }

  async unfinished(): Promise<CommandRecord[]> {
    const { rows } = await this.#query<CommandRow>(
      `SELECT ${COLUMNS} FROM commands WHERE status IN ('queued', 'sent') ORDER BY created_at, id`,
    );
    return rows.map(toRecord);
  }

  async prune(before: number): Promise<number> {
    const { rowCount } = await this.#query(
      "DELETE FROM commands WHERE status NOT IN ('queued', 'sent') AND updated_at < $1",
      [before],
    );
    return rowCount ?? 0;
  }
}

function toRecord(row: CommandRow): CommandRecord {
  return {
    id: row.id,
    deviceId: row.device_id,
    command: JSON.parse(row.command) as Record<string, unknown>,
    status: row.status,
    ...(row.by_token !== null ? { by: row.by_token } : {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    ...(row.outcome !== null
      ? { outcome: JSON.parse(row.outcome) as Record<string, unknown> }
      : {}),
  };
}
