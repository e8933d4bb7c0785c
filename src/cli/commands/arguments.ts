import { InvalidArgumentError } from 'commander';

/** Parsers of option values shared by the commands; a bad value is a usage error (exit 2). */

export function positiveNumber(raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('not a positive number');
  return n;
}

export function positiveInteger(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}
