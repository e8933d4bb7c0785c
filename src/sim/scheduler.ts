/**
 * One ticker for the whole fleet: a single interval timer drives the per-tick work (sensor
 * measurements, telemetry, arrivals, churn) and the one-off delays (reboot, firmware download
 * and install, queue-mode wake-ups), kept in a binary heap. Ten thousand devices then cost one
 * timer, not one per device per resource.
 */
export interface Task {
  readonly at: number;
  readonly run: () => void;
  cancelled: boolean;
}

export type TickListener = (now: number, tick: number) => void;

export class SimScheduler {
  readonly tickMs: number;
  readonly #heap: Task[] = [];
  readonly #listeners = new Set<TickListener>();
  #timer: NodeJS.Timeout | undefined;
  #tick = 0;

  constructor(tickMs = 250) {
    this.tickMs = tickMs;
  }

  get pending(): number {
    return this.#heap.length;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#onTick(), this.tickMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const t of this.#heap) t.cancelled = true;
    this.#heap.length = 0;
  }

  /** Runs `fn` on every tick. */
  onTick(fn: TickListener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Runs `run` once, at the first tick at least `delayMs` from now. */
  after(delayMs: number, run: () => void): Task {
    const task: Task = { at: Date.now() + Math.max(0, delayMs), run, cancelled: false };
    this.#push(task);
    return task;
  }

  /** A promise resolved after `delayMs` (on a tick). */
  delay(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.after(delayMs, resolve));
  }

  cancel(task: Task | undefined): void {
    if (task) task.cancelled = true;
  }

  #onTick(): void {
    const now = Date.now();
    const tick = this.#tick++;
    for (const fn of this.#listeners) fn(now, tick);
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]!.at <= now) {
      const task = this.#pop()!;
      if (!task.cancelled) task.run();
    }
  }

  #push(task: Task): void {
    const heap = this.#heap;
    heap.push(task);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= task.at) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = task;
  }

  #pop(): Task | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || !last) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      const at = (k: number) => (k === i ? last.at : heap[k]!.at);
      if (l < heap.length && heap[l]!.at < at(m)) m = l;
      if (r < heap.length && heap[r]!.at < at(m)) m = r;
      if (m === i) break;
      heap[i] = heap[m]!;
      i = m;
    }
    heap[i] = last;
    return top;
  }
}
