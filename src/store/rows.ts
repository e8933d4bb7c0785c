/**
 * The rows of the tables that the SQLite and the Postgres stores share column for column, and
 * how each becomes its record: one reading for both backends (JSON columns as text, times as
 * milliseconds since the epoch).
 */
import type { CommandRecord, CommandStatus, ProfileRecord, WebhookRecord } from './ports.js';

export interface CommandRow {
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

export const COMMAND_COLUMNS =
  'id, device_id, command, status, by_token, created_at, updated_at, expires_at, outcome';

export function commandFromRow(row: CommandRow): CommandRecord {
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

export interface ProfileRow {
  id: string;
  description: string;
  mappings: string;
  created_at: number;
  updated_at: number;
}

export function profileFromRow(row: ProfileRow): ProfileRecord {
  return {
    id: row.id,
    description: row.description,
    mappings: JSON.parse(row.mappings) as ProfileRecord['mappings'],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface WebhookRow {
  id: string;
  url: string;
  events: string;
  devices: string;
  paths: string;
  secret: string | null;
  description: string;
  created_at: number;
}

export const WEBHOOK_COLUMNS = 'id, url, events, devices, paths, secret, description, created_at';

export function webhookFromRow(row: WebhookRow): WebhookRecord {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    devices: JSON.parse(row.devices) as string[],
    paths: JSON.parse(row.paths) as string[],
    ...(row.secret !== null ? { secret: row.secret } : {}),
    description: row.description,
    createdAt: row.created_at,
  };
}
