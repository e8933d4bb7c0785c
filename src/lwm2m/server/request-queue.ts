/**
 * Queue mode (LwM2M-TS-Core 1.1 §6.5; 1.0 §5.3.1.1 binding UQ): a device in queue mode is
 * reachable only for a while after it last spoke (the LwM2M Client keeps listening for
 * MAX_TRANSMIT_WAIT after its last message, LwM2M-TS-Transport 1.1 §6.5 / 1.0 §8.3). Requests for a
 * sleeping device wait here, each with a time-to-live, until the device shows up again
 * (a registration update or any other message); expired ones fail with LWM2M_ERR_QUEUE_EXPIRED.
 */
import type { Clock } from '../../util/clock.js';
import { Lwm2mError } from './errors.js';
import { type LongTimer, setLongTimeout } from './long-timeout.js';

interface QueuedJob {
  readonly run: () => void;
  readonly fail: (error: Error) => void;
  timer: LongTimer | undefined;
}

interface DeviceState {
  awakeUntil: number;
  readonly jobs: QueuedJob[];
}

export interface RequestQueueOptions {
  readonly clock: Clock;
  /** How long a device stays reachable after its last message (default 93 s, MAX_TRANSMIT_WAIT). */
  readonly awakeMs: number;
  /** Default time-to-live of a queued request. */
  readonly ttlMs: number;
  /** Most requests waiting for one device; more are refused at once. */
  readonly maxPerDevice: number;
}

const notQueued = () => false;

/** Per-endpoint awake state and the requests waiting for the device. */
export class RequestQueue {
  readonly #options: RequestQueueOptions;
  readonly #devices = new Map<string, DeviceState>();

  constructor(options: RequestQueueOptions) {
    this.#options = options;
  }

  /** True when the device spoke within the awake window. */
  isAwake(endpoint: string): boolean {
    const state = this.#devices.get(endpoint);
    return state !== undefined && state.awakeUntil > this.#options.clock.now();
  }

  /** The device spoke: it is awake for the window, and its waiting requests go out in order. */
  seen(endpoint: string): void {
    const state = this.#state(endpoint);
    state.awakeUntil = this.#options.clock.now() + this.#options.awakeMs;
    const jobs = state.jobs.splice(0);
    for (const job of jobs) {
      job.timer?.cancel();
      job.run();
    }
    this.#prune(endpoint, state);
  }

  /** The device did not answer: take it as asleep until it speaks again. */
  asleep(endpoint: string): void {
    const state = this.#devices.get(endpoint);
    if (!state) return;
    state.awakeUntil = 0;
    this.#prune(endpoint, state);
  }

  /**
   * Runs `run` now when the device is awake, else when it next shows up; `fail` is called
   * with LWM2M_ERR_QUEUE_EXPIRED when `ttlMs` passes first. Returns `withdraw`, which takes
   * the request out of the queue if it is still there (then neither `run` nor `fail` is called)
   * and says whether it was.
   */
  submit(
    endpoint: string,
    run: () => void,
    fail: (error: Error) => void,
    ttlMs?: number,
  ): () => boolean {
    if (this.isAwake(endpoint)) {
      run();
      return notQueued;
    }
    const state = this.#state(endpoint);
    if (state.jobs.length >= this.#options.maxPerDevice) {
      fail(new Lwm2mError('LWM2M_ERR_QUEUE_EXPIRED', `queue of ${endpoint} is full`));
      return notQueued;
    }
    const ttl = ttlMs ?? this.#options.ttlMs;
    const job: QueuedJob = { run, fail, timer: undefined };
    job.timer = setLongTimeout(
      this.#options.clock,
      () => {
        const i = state.jobs.indexOf(job);
        if (i < 0) return;
        state.jobs.splice(i, 1);
        this.#prune(endpoint, state);
        fail(
          new Lwm2mError(
            'LWM2M_ERR_QUEUE_EXPIRED',
            `request to sleeping device ${endpoint} expired after ${ttl} ms in the queue`,
          ),
        );
      },
      ttl,
    );
    state.jobs.push(job);
    return () => {
      const i = state.jobs.indexOf(job);
      if (i < 0) return false;
      state.jobs.splice(i, 1);
      job.timer?.cancel();
      this.#prune(endpoint, state);
      return true;
    };
  }

  /** Requests waiting for `endpoint`. */
  pending(endpoint: string): number {
    return this.#devices.get(endpoint)?.jobs.length ?? 0;
  }

  /** Fails every waiting request of `endpoint` (de-registration, expiry) and forgets it. */
  drop(endpoint: string, error: Error): void {
    const state = this.#devices.get(endpoint);
    if (!state) return;
    this.#devices.delete(endpoint);
    for (const job of state.jobs.splice(0)) {
      job.timer?.cancel();
      job.fail(error);
    }
  }

  clear(error: Error): void {
    for (const endpoint of [...this.#devices.keys()]) this.drop(endpoint, error);
  }

  #state(endpoint: string): DeviceState {
    let state = this.#devices.get(endpoint);
    if (!state) {
      state = { awakeUntil: 0, jobs: [] };
      this.#devices.set(endpoint, state);
    }
    return state;
  }

  #prune(endpoint: string, state: DeviceState): void {
    if (state.jobs.length === 0 && state.awakeUntil <= this.#options.clock.now()) {
      this.#devices.delete(endpoint);
    }
  }
}
