import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';

/** One query on the store's pool (see PostgresStore: it records the outcome for health()). */
export type PgQuery = <R extends QueryResultRow>(
  sql: string,
  params?: unknown[],
) => Promise<QueryResult<R>>;

/** A transaction on one pooled connection (see inTransaction), its outcome recorded like PgQuery's. */
export type PgTransact = <T>(fn: (client: PoolClient) => Promise<T>) => Promise<T>;

/** SQLSTATE 23505: a UNIQUE or PRIMARY KEY constraint refused the row. */
export function isUniqueViolation(
  err: unknown,
): err is Error & { table?: string; detail?: string } {
  return (err as { code?: string }).code === '23505';
}

/** Runs `fn` on one pooled connection between BEGIN and COMMIT; ROLLBACK and rethrow on failure. */
export async function inTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    return await transaction(client, () => fn(client));
  } finally {
    client.release();
  }
}

export async function transaction<T>(client: PoolClient, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
