import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/index.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A SQLite store on a file in a fresh directory, removed when the test file ends (for the
 * contract suites, whose factories have no test context). With a file, telemetry is written
 * by the worker thread unless `telemetryWorker: false`.
 */
export function fileStore(options: Omit<SqliteStoreOptions, 'dataDir'> = {}): SqliteStore {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-store-'));
  dirs.push(dir);
  return new SqliteStore({ ...options, dataDir: dir });
}
