import type { Clock, TimerHandle } from '../util/clock.js';

/** Something that must be closed once a point in time passes without news from its peer. */
export interface Expiring {
  /**
   * When it must be closed (clock ms), or `undefined` for never. Asked again at every sweep, so
   * it may move later (activity) without telling anyone.
   */
  deadline(now: number): number | undefined;
  /** Its deadline passed. */
  expire(): void;
}

/** Sweeps closer together than this wait for it: at most this late when many deadlines are due. */
const MIN_SWEEP_GAP_MS = 1_000;

/**
 * One timer for the deadlines of all connections (CONNECT timeout, Keep Alive), instead of a
 * timer per connection: an idle connection then costs no Timeout object and no closure. The
 * timer is armed for the earliest deadline seen at the last sweep (or announced by `schedule`);
 * a deadline only moves later with activity, so a sweep never comes too early, and one that finds
 * nothing due simply re-arms. Sweeps at least `MIN_SWEEP_GAP_MS` apart bound the cost of walking
 * every connection when deadlines crowd; a deadline is then met up to that much later.
 */
export class DeadlineSweep {
  readonly #clock: Clock;
  readonly #items: Iterable<Expiring>;
  #timer: TimerHandle | undefined;
  #armedAt = Number.POSITIVE_INFINITY;
  #lastSweep = Number.NEGATIVE_INFINITY;
  #stopped = false;

  constructor(clock: Clock, items: Iterable<Expiring>) {
    this.#clock = clock;
    this.#items = items;
  }

  /** An item got a deadline (new, or earlier than it had): the sweep comes by then at the latest. */
  schedule(at: number): void {
    if (this.#stopped || at >= this.#armedAt) return;
    this.#arm(Math.max(at, this.#lastSweep + MIN_SWEEP_GAP_MS));
  }

  stop(): void {
    this.#stopped = true;
    this.#disarm();
  }

  #arm(at: number): void {
    this.#disarm();
    this.#armedAt = at;
    this.#timer = this.#clock.setTimeout(() => this.#sweep(), at - this.#clock.now());
    this.#timer.unref?.();
  }

  #disarm(): void {
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    this.#lastSweep = now;
    let next = Number.POSITIVE_INFINITY;
    for (const item of this.#items) {
      const at = item.deadline(now);
      if (at === undefined) continue;
      if (at <= now) item.expire();
      else if (at < next) next = at;
    }
    if (next !== Number.POSITIVE_INFINITY) this.schedule(next);
  }
}
