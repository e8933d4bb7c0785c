/**
 * Timers longer than Node's limit: `setTimeout` takes at most 2^31-1 ms (24.8 days) and fires
 * at once beyond it, but an LwM2M lifetime may be 2^32-1 s (LwM2M-TS-Core 1.1 Appendix E.2,
 * resource 1) and a pmax as long. Such a timer is chained in steps on the injected clock.
 */
import type { Clock, TimerHandle } from '../../util/clock.js';

/** The longest delay one `setTimeout` takes (Node.js timers). */
export const MAX_TIMER_MS = 2_147_483_647;

export interface LongTimer {
  cancel(): void;
}

/** Calls `fn` once after `ms` on `clock`, however long `ms` is; the timers are unref'ed. */
export function setLongTimeout(clock: Clock, fn: () => void, ms: number): LongTimer {
  const due = clock.now() + Math.max(0, ms);
  let handle: TimerHandle | undefined;
  const arm = () => {
    const left = due - clock.now();
    handle = clock.setTimeout(
      () => {
        handle = undefined;
        if (clock.now() < due) arm();
        else fn();
      },
      Math.min(Math.max(0, left), MAX_TIMER_MS),
    );
    handle.unref?.();
  };
  arm();
  return {
    cancel: () => {
      if (handle) clock.clearTimeout(handle);
      handle = undefined;
    },
  };
}
