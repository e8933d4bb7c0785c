/**
 * Basic congestion control towards each peer (RFC 7252 §4.7): at most NSTART outstanding
 * interactions, the rest queued in order; and NONs to a peer that has not answered since our
 * last one are paced at PROBING_RATE bytes per second.
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import type { TransmissionParameters } from './parameters.js';

interface Job {
  readonly nonConfirmable: boolean;
  readonly bytes: number;
  readonly start: () => void;
  cancelled: boolean;
}

interface PeerState {
  active: number;
  readonly queue: Job[];
  /** Set when we sent a NON and have heard nothing from the peer since. */
  unansweredNonAt: number | undefined;
  unansweredNonBytes: number;
  timer: TimerHandle | undefined;
}

export interface Slot {
  /** Ends the interaction (response, ACK, RST or timeout) and lets the next one go. */
  release(): void;
}

export class CongestionControl {
  readonly #clock: Clock;
  readonly #params: TransmissionParameters;
  readonly #peers = new Map<string, PeerState>();

  constructor(clock: Clock, params: TransmissionParameters) {
    this.#clock = clock;
    this.#params = params;
  }

  /**
   * Runs `start` when the peer has a free interaction slot; `start` must eventually release the
   * returned slot. Returns a cancel function that drops the job if it has not started yet.
   */
  schedule(
    peerKey: string,
    nonConfirmable: boolean,
    bytes: number,
    start: (slot: Slot) => void,
  ): () => void {
    const state = this.#state(peerKey);
    let released = false;
    const slot: Slot = {
      release: () => {
        if (released) return;
        released = true;
        state.active--;
        this.#pump(peerKey, state);
      },
    };
    const job: Job = { nonConfirmable, bytes, start: () => start(slot), cancelled: false };
    state.queue.push(job);
    this.#pump(peerKey, state);
    return () => {
      if (job.cancelled) return;
      job.cancelled = true;
      const i = state.queue.indexOf(job);
      if (i >= 0) {
        state.queue.splice(i, 1);
        this.#pump(peerKey, state);
      }
    };
  }

  /** Any datagram from the peer shows it is responsive again (RFC 7252 §4.7). */
  heard(peerKey: string): void {
    const state = this.#peers.get(peerKey);
    if (!state || state.unansweredNonAt === undefined) return;
    state.unansweredNonAt = undefined;
    this.#pump(peerKey, state);
  }

  #state(peerKey: string): PeerState {
    let state = this.#peers.get(peerKey);
    if (!state) {
      state = {
        active: 0,
        queue: [],
        unansweredNonAt: undefined,
        unansweredNonBytes: 0,
        timer: undefined,
      };
      this.#peers.set(peerKey, state);
    }
    return state;
  }

  #pump(peerKey: string, state: PeerState): void {
    if (state.timer) {
      this.#clock.clearTimeout(state.timer);
      state.timer = undefined;
    }
    // RFC 7252 §4.7: no more than NSTART outstanding interactions to a given server.
    while (state.active < this.#params.nstart && state.queue.length > 0) {
      const job = state.queue[0]!;
      if (job.nonConfirmable && state.unansweredNonAt !== undefined) {
        // RFC 7252 §4.7: towards a peer that does not respond, send no faster than PROBING_RATE.
        const earliest =
          state.unansweredNonAt + (state.unansweredNonBytes * 1000) / this.#params.probingRate;
        const wait = earliest - this.#clock.now();
        if (wait > 0) {
          state.timer = this.#clock.setTimeout(() => {
            state.timer = undefined;
            this.#pump(peerKey, state);
          }, wait);
          state.timer.unref?.();
          return;
        }
      }
      state.queue.shift();
      state.active++;
      if (job.nonConfirmable) {
        state.unansweredNonAt = this.#clock.now();
        state.unansweredNonBytes = job.bytes;
      }
      job.start();
    }
    if (state.active === 0 && state.queue.length === 0) {
      const pacing =
        state.unansweredNonAt !== undefined &&
        state.unansweredNonAt + (state.unansweredNonBytes * 1000) / this.#params.probingRate >
          this.#clock.now();
      if (!pacing) this.#peers.delete(peerKey);
    }
  }

  /** Number of peers with state (active, queued or paced). */
  get peers(): number {
    return this.#peers.size;
  }

  clear(): void {
    for (const state of this.#peers.values()) {
      if (state.timer) this.#clock.clearTimeout(state.timer);
      state.queue.length = 0;
    }
    this.#peers.clear();
  }
}
