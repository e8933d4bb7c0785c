/**
 * The message of a StoreConflictError for a taken device id or credential identity, from the
 * table and column of the unique constraint that failed (the same names in every backend).
 */
export function deviceConflictMessage(table: string | undefined, column: string | undefined) {
  if (table === undefined || column === undefined) return 'conflicts with an existing device';
  if (table === 'devices') return 'a device with this id exists';
  return `another device already has this ${table.replace('credentials_', '')} ${column.replace('_', ' ')}`;
}
