/**
 * A small event emitter whose event names and payloads are checked by the compiler. Listeners run
 * synchronously in the order they were added; one that throws is reported to `onListenerError`
 * and does not stop the others nor fail the operation that emitted (a device deleted through the
 * API stays deleted even if a consumer of `deleted` has a bug).
 */
export class TypedEmitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(payload: never) => void>>();
  readonly #onListenerError: (err: unknown, event: string) => void;

  constructor(onListenerError: (err: unknown, event: string) => void = () => undefined) {
    this.#onListenerError = onListenerError;
  }

  on<K extends keyof Events & string>(event: K, listener: (payload: Events[K]) => void): this {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return this;
  }

  off<K extends keyof Events & string>(event: K, listener: (payload: Events[K]) => void): this {
    this.#listeners.get(event)?.delete(listener);
    return this;
  }

  /** Resolves with the next payload of `event`. */
  next<K extends keyof Events & string>(event: K): Promise<Events[K]> {
    return new Promise((resolve) => {
      const once = (payload: Events[K]) => {
        this.off(event, once);
        resolve(payload);
      };
      this.on(event, once);
    });
  }

  emit<K extends keyof Events & string>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set] as ((payload: Events[K]) => void)[]) {
      try {
        listener(payload);
      } catch (err) {
        this.#onListenerError(err, event);
      }
    }
  }

  listenerCount(event: keyof Events & string): number {
    return this.#listeners.get(event)?.size ?? 0;
  }
}
