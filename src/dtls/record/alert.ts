import { AlertLevel } from '../errors.js';

/** RFC 5246 §7.2: struct { AlertLevel level; AlertDescription description; } Alert. */
export interface Alert {
  level: number;
  description: number;
}

/** Undefined for a malformed alert (dropped, RFC 6347 §4.1.2.7). */
export function parseAlert(fragment: Buffer): Alert | undefined {
  if (fragment.length !== 2) return undefined;
  const level = fragment[0]!;
  if (level !== AlertLevel.warning && level !== AlertLevel.fatal) return undefined;
  return { level, description: fragment[1]! };
}

export function serializeAlert(alert: Alert): Buffer {
  return Buffer.from([alert.level, alert.description]);
}
