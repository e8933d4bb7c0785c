import type { Clock } from '../util/clock.js';

export interface AuthThrottleOptions {
  /** Failures from one source that are answered normally before throttling starts. */
  freeFailures: number;
  /** First lock-out after the free failures; doubles with each further failure. */
  baseLockMs: number;
  maxLockMs: number;
  /** A source whose last failure is this old starts again from zero. */
  forgetAfterMs: number;
  /** Sources remembered at most; the oldest are forgotten first (bounded memory under attack). */
  maxSources: number;
}

export const DEFAULT_AUTH_THROTTLE: AuthThrottleOptions = {
  freeFailures: 5,
  baseLockMs: 1000,
  maxLockMs: 5 * 60_000,
  forgetAfterMs: 15 * 60_000,
  maxSources: 10_000,
};

interface Entry {
  failures: number;
  lastFailure: number;
  lockedUntil: number;
}

/**
 * Throttles failed authentication per source address: after a few failures, the source is
 * locked out for an exponentially growing time, during which its attempts are refused without
 * checking the password (which also spares the server the memory-hard hash).
 */
export class AuthThrottle {
  readonly #options: AuthThrottleOptions;
  readonly #clock: Clock;
  readonly #sources = new Map<string, Entry>();
  /** Attempts refused while locked out, since start. */
  refused = 0;

  constructor(clock: Clock, options: Partial<AuthThrottleOptions> = {}) {
    this.#clock = clock;
    this.#options = { ...DEFAULT_AUTH_THROTTLE, ...options };
  }

  /** Milliseconds the source must still wait, or 0 when it may try. */
  lockedFor(source: string): number {
    const entry = this.#current(source);
    const wait = entry ? entry.lockedUntil - this.#clock.now() : 0;
    if (wait > 0) this.refused++;
    return Math.max(0, wait);
  }

  failed(source: string): void {
    const now = this.#clock.now();
    const entry = this.#current(source) ?? { failures: 0, lastFailure: now, lockedUntil: 0 };
    entry.failures++;
    entry.lastFailure = now;
    const over = entry.failures - this.#options.freeFailures;
    if (over > 0) {
      entry.lockedUntil =
        now + Math.min(this.#options.maxLockMs, this.#options.baseLockMs * 2 ** (over - 1));
    }
    // Re-insert so that Map order is least recently failed first.
    this.#sources.delete(source);
    this.#sources.set(source, entry);
    if (this.#sources.size > this.#options.maxSources) {
      this.#sources.delete(this.#sources.keys().next().value!);
    }
  }

  succeeded(source: string): void {
    this.#sources.delete(source);
  }

  get tracked(): number {
    return this.#sources.size;
  }

  #current(source: string): Entry | undefined {
    const entry = this.#sources.get(source);
    if (entry && this.#clock.now() - entry.lastFailure > this.#options.forgetAfterMs) {
      this.#sources.delete(source);
      return undefined;
    }
    return entry;
  }
}
