/**
 * The open-file limit: every simulated LwM2M device needs its own UDP socket (its own source
 * port, so that the server sees a distinct peer) and every MQTT device a TCP connection.
 */
import { readFileSync } from 'node:fs';

/** The soft limit on open files (Linux: /proc/self/limits), or undefined when unknown. */
export function openFileLimit(): number | undefined {
  try {
    const text = readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (!m) return undefined;
    return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** File descriptors the process keeps for itself (stdio, the event loop, the odd file). */
export const RESERVED_FDS = 64;

/** Why `sockets` sockets will not fit under the limit, or undefined when they do. */
export function socketShortfall(sockets: number): string | undefined {
  const limit = openFileLimit();
  if (limit === undefined || sockets + RESERVED_FDS <= limit) return undefined;
  return (
    `${sockets} simulated devices need ${sockets + RESERVED_FDS} open files but the limit ` +
    `(ulimit -n) is ${limit}: each LwM2M device has its own UDP socket and each MQTT device ` +
    `its own TCP connection; raise it with 'ulimit -n ${sockets + RESERVED_FDS}' or simulate fewer`
  );
}

/** An error message for a failed socket, with the advice that EMFILE calls for. */
export function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = e instanceof Error ? e.message : String(err);
  if (e?.code === 'EMFILE' || e?.code === 'ENFILE') {
    const limit = openFileLimit();
    return `${message}: too many open files (ulimit -n is ${limit ?? 'unknown'}; each device needs one socket)`;
  }
  return message;
}
