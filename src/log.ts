import { type DestinationStream, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * JSON lines on stdout; human-readable lines when stdout is a terminal. The pretty printer runs
 * in-process (not as a worker transport) so that nothing is lost when the process exits.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { name: 'tandem' } };
  if (destination) return pino(options, destination);
  if (process.stdout.isTTY) {
    return pino(options, pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l' }));
  }
  return pino(options, pino.destination({ dest: 1, sync: true }));
}

/** A logger that drops everything: the default for engines and tests that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
