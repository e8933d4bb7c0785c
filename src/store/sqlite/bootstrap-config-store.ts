import type Database from 'better-sqlite3';
import {
  type BootstrapConfig,
  type BootstrapConfigStore,
  bootstrapConfigFromJson,
  bootstrapConfigToJson,
  pickBootstrapConfig,
  validateBootstrapConfig,
} from '../../lwm2m/bootstrap/config.js';

/** Bootstrap configurations in the embedded store, so they survive a restart. */
export class SqliteBootstrapConfigStore implements BootstrapConfigStore {
  readonly #q;
  readonly #now: () => number;

  constructor(db: Database.Database, now: () => number = Date.now) {
    this.#now = now;
    this.#q = {
      exact: db.prepare('SELECT config FROM bootstrap_configs WHERE key = ?'),
      patterns: db.prepare("SELECT key, config FROM bootstrap_configs WHERE instr(key, '*') > 0"),
      all: db.prepare('SELECT key, config FROM bootstrap_configs ORDER BY key'),
      put: db.prepare(
        'INSERT INTO bootstrap_configs (key, config, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at',
      ),
      delete: db.prepare('DELETE FROM bootstrap_configs WHERE key = ?'),
    };
  }

  async get(endpoint: string): Promise<BootstrapConfig | undefined> {
    const exact = this.#q.exact.get(endpoint) as { config: string } | undefined;
    if (exact) return bootstrapConfigFromJson(JSON.parse(exact.config));
    const rows = this.#q.patterns.all() as { key: string; config: string }[];
    const picked = pickBootstrapConfig(
      rows.map((r): [string, string] => [r.key, r.config]),
      endpoint,
    );
    return picked === undefined ? undefined : bootstrapConfigFromJson(JSON.parse(picked));
  }

  async put(key: string, config: BootstrapConfig): Promise<void> {
    validateBootstrapConfig(config);
    this.#q.put.run(key, JSON.stringify(bootstrapConfigToJson(config)), this.#now());
  }

  async delete(key: string): Promise<boolean> {
    return this.#q.delete.run(key).changes > 0;
  }

  async list(): Promise<{ key: string; config: BootstrapConfig }[]> {
    const rows = this.#q.all.all() as { key: string; config: string }[];
    return rows.map((r) => ({ key: r.key, config: bootstrapConfigFromJson(JSON.parse(r.config)) }));
  }
}
