import {
  type BootstrapConfig,
  type BootstrapConfigStore,
  bootstrapConfigFromJson,
  bootstrapConfigToJson,
  pickBootstrapConfig,
  validateBootstrapConfig,
} from '../../lwm2m/bootstrap/config.js';
import type { PgQuery } from './query.js';

/** Bootstrap configurations by endpoint name or `*` pattern (table `bootstrap_configs`). */
export class PgBootstrapConfigStore implements BootstrapConfigStore {
  readonly #query: PgQuery;
  readonly #now: () => number;

  constructor(query: PgQuery, now: () => number) {
    this.#query = query;
    this.#now = now;
  }

  async get(endpoint: string): Promise<BootstrapConfig | undefined> {
    // The endpoint's own configuration, else every pattern for pickBootstrapConfig to choose.
    const { rows } = await this.#query<{ key: string; config: string }>(
      "SELECT key, config FROM bootstrap_configs WHERE key = $1 OR strpos(key, '*') > 0",
      [endpoint],
    );
    const exact = rows.find((r) => r.key === endpoint);
    const picked =
      exact?.config ??
      pickBootstrapConfig(
        rows.map((r): [string, string] => [r.key, r.config]),
        endpoint,
      );
    return picked === undefined ? undefined : bootstrapConfigFromJson(JSON.parse(picked));
  }

  async put(key: string, config: BootstrapConfig): Promise<void> {
    validateBootstrapConfig(config);
    await this.#query(
      'INSERT INTO bootstrap_configs (key, config, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at',
      [key, JSON.stringify(bootstrapConfigToJson(config)), this.#now()],
    );
  }

  async delete(key: string): Promise<boolean> {
    const { rowCount } = await this.#query('DELETE FROM bootstrap_configs WHERE key = $1', [key]);
    return (rowCount ?? 0) > 0;
  }

  async list(): Promise<{ key: string; config: BootstrapConfig }[]> {
    const { rows } = await this.#query<{ key: string; config: string }>(
      'SELECT key, config FROM bootstrap_configs ORDER BY key',
    );
    return rows.map((r) => ({ key: r.key, config: bootstrapConfigFromJson(JSON.parse(r.config)) }));
  }
}
