import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../util/worker.js';
import type { WorkerReply, WorkerRequest, WorkerSettings } from './telemetry-worker-protocol.js';

/** A request the telemetry worker failed, with the error it caught (its `code`, e.g. SQLITE_FULL). */
export class TelemetryWorkerError extends Error {
  override readonly name = 'TelemetryWorkerError';
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

type Request = WorkerRequest extends infer R
  ? R extends WorkerRequest
    ? Omit<R, 'seq'>
    : never
  : never;

/**
 * The main thread's end of the telemetry worker (telemetry-worker.ts): requests answered in
 * order, one promise each. The worker keeps the process alive only while a request waits for
 * its answer. When the worker dies (an uncaught error, or it is terminated) every waiting
 * request is rejected and `onExit` is told once, with the cause.
 */
export class TelemetryWorkerLink {
  readonly worker: Worker;
  readonly #waiting = new Map<
    number,
    { resolve: (changes: number) => void; reject: (err: Error) => void }
  >();
  #seq = 0;
  #error: Error | undefined;
  #exited = false;
  #closing = false;
  readonly #exit: Promise<unknown>;
  /** Settles when the worker has opened its connection, or failed to. */
  readonly opened: Promise<number>;

  constructor(settings: WorkerSettings, onExit: (cause: Error) => void) {
    this.worker = startWorker(new URL(`./telemetry-worker${extension()}`, import.meta.url));
    this.worker.unref();
    this.worker.on('message', (reply: WorkerReply) => this.#answer(reply));
    this.worker.on('error', (err) => {
      this.#error ??= err;
    });
    this.worker.on('messageerror', (err) => {
      this.#error ??= err;
    });
    this.#exit = once(this.worker, 'exit').then(([code]) => {
      this.#exited = true;
      const cause =
        this.#error ??
        new TelemetryWorkerError(`the telemetry worker exited with code ${String(code)}`);
      for (const w of this.#waiting.values()) w.reject(cause);
      this.#waiting.clear();
      if (!this.#closing) onExit(cause);
    });
    this.#exit.catch(() => undefined);
    this.opened = this.request({ type: 'open', settings });
    this.opened.catch(() => undefined);
  }

  /** Whether the worker still runs (it has not exited and is not closing). */
  get alive(): boolean {
    return !this.#exited && !this.#closing;
  }

  /** Sends one request; resolves with the rows it changed, or rejects with its error. */
  request(request: Request, transfer: readonly ArrayBuffer[] = []): Promise<number> {
    if (this.#exited) {
      return Promise.reject(this.#error ?? new TelemetryWorkerError('the telemetry worker exited'));
    }
    const seq = ++this.#seq;
    return new Promise<number>((resolve, reject) => {
      if (this.#waiting.size === 0) this.worker.ref();
      this.#waiting.set(seq, { resolve, reject });
      this.worker.postMessage({ ...request, seq }, transfer as ArrayBuffer[]);
    });
  }

  /** Ends the worker at once; waiting requests are rejected, `onExit` is not told. */
  async terminate(): Promise<void> {
    this.#closing = true;
    await this.worker.terminate();
    await this.#exit;
  }

  /** Closes the worker's connection once every earlier request is answered; resolves when it has exited. */
  async close(): Promise<void> {
    if (this.#exited) return;
    const closed = this.request({ type: 'close' });
    this.#closing = true;
    try {
      await closed;
    } catch {
      // Its connection could not be closed cleanly (or it died meanwhile): end it anyway.
      await this.worker.terminate();
    }
    // Held until it has exited: its last answer may have let it go (#answer).
    this.worker.ref();
    await this.#exit;
  }

  #answer(reply: WorkerReply): void {
    const w = this.#waiting.get(reply.seq);
    if (!w) return;
    this.#waiting.delete(reply.seq);
    if (this.#waiting.size === 0) this.worker.unref();
    if (reply.ok) w.resolve(reply.changes ?? 0);
    else w.reject(new TelemetryWorkerError(reply.error.message, reply.error.code));
  }
}

/** `.ts` when this module runs from the sources (under tsx), `.js` from dist/. */
function extension(): string {
  return import.meta.url.endsWith('.ts') ? '.ts' : '.js';
}
