/**
 * The harness side of the load generator: a pool of load workers (worker threads, or child
 * processes when the connections need more file descriptors than one process may open), driven
 * in lock step by request and reply messages.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { track } from './cleanup.js';
import type { ClientSpec, Counters, FromWorker, ToWorker } from './load-protocol.js';

export type WorkerMode = 'thread' | 'process';

type Reply<T extends FromWorker['type']> = Extract<FromWorker, { type: T }>;

const WORKER_URL = new URL('./load-worker.ts', import.meta.url);

interface Pending {
  resolve: (message: FromWorker) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

class WorkerHandle {
  private pending: Pending | null = null;

  constructor(
    private readonly postMessage: (message: ToWorker) => void,
    readonly pid: number | null,
    readonly stop: () => Promise<void>,
  ) {}

  deliver(message: FromWorker): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = null;
    clearTimeout(pending.timer);
    if (message.type === 'error') pending.reject(new Error(`load worker: ${message.message}`));
    else pending.resolve(message);
  }

  fail(error: Error): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = null;
    clearTimeout(pending.timer);
    pending.reject(error);
  }

  request<T extends FromWorker['type']>(
    message: ToWorker,
    expect: T,
    timeoutMs: number,
  ): Promise<Reply<T>> {
    if (this.pending) return Promise.reject(new Error('load worker is busy'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new Error(`no '${expect}' from load worker within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.pending = {
        resolve: (reply) => {
          if (reply.type === expect) resolve(reply as Reply<T>);
          else reject(new Error(`load worker answered '${reply.type}', expected '${expect}'`));
        },
        reject,
        timer,
      };
      this.postMessage(message);
    });
  }
}

function spawnThread(): WorkerHandle {
  // Worker threads of Node 20 do not inherit the tsx loader of `--import tsx`: register it inside.
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  const worker = new Worker(code, { eval: true });
  const handle: WorkerHandle = new WorkerHandle(
    (message) => worker.postMessage(message),
    null,
    async () => {
      await worker.terminate();
    },
  );
  worker.on('message', (message: FromWorker) => handle.deliver(message));
  worker.on('error', (error) => handle.fail(error));
  worker.on('exit', (code) => handle.fail(new Error(`load worker thread exited with ${code}`)));
  return handle;
}

function spawnProcess(): WorkerHandle {
  const child: ChildProcess = fork(fileURLToPath(WORKER_URL), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  track(child);
  const handle: WorkerHandle = new WorkerHandle(
    (message) => child.send(message),
    child.pid ?? null,
    () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          resolve();
          return;
        }
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  );
  child.on('message', (message) => handle.deliver(message as FromWorker));
  child.on('error', (error) => handle.fail(error));
  child.on('exit', (code, signal) =>
    handle.fail(new Error(`load worker process exited (${code ?? signal})`)),
  );
  return handle;
}

export interface ConnectOptions {
  host: string;
  port: number;
  concurrency: number;
  timeoutMs: number;
}

export class LoadGenerator {
  private constructor(private readonly workers: WorkerHandle[]) {}

  static spawn(count: number, mode: WorkerMode): LoadGenerator {
    const workers: WorkerHandle[] = [];
    for (let i = 0; i < count; i++)
      workers.push(mode === 'thread' ? spawnThread() : spawnProcess());
    return new LoadGenerator(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Child process ids (process mode); threads are counted in this process's own CPU time. */
  get pids(): number[] {
    return this.workers.flatMap((worker) => (worker.pid === null ? [] : [worker.pid]));
  }

  /** Opens `clients[i]` from worker i; resolves when every worker has finished its share. */
  async connect(clients: ClientSpec[][], options: ConnectOptions): Promise<Reply<'connected'>[]> {
    return Promise.all(
      this.workers.map((worker, i) =>
        worker.request(
          { type: 'connect', clients: clients[i] ?? [], ...options },
          'connected',
          // Module loading of a fresh worker comes on top of the connect timeout.
          options.timeoutMs + 30_000,
        ),
      ),
    );
  }

  /**
   * Publishes for `durationMs`, then waits up to `settleMs` for acknowledgements. With `qos0Window`,
   * QoS 0 publishers keep at most that many deliveries in flight over all workers.
   */
  async publish(
    durationMs: number,
    settleMs: number,
    qos0Window?: { subscribers: number; window: number },
  ): Promise<Reply<'published'>[]> {
    const buffer = new SharedArrayBuffer(this.workers.length * 2 * Float64Array.BYTES_PER_ELEMENT);
    return Promise.all(
      this.workers.map((worker, slot) =>
        worker.request(
          {
            type: 'start',
            durationMs,
            settleMs,
            ...(qos0Window ? { flow: { buffer, slot, ...qos0Window } } : {}),
          },
          'published',
          durationMs + settleMs + 10_000,
        ),
      ),
    );
  }

  async stats(): Promise<Counters[]> {
    return Promise.all(
      this.workers.map((worker) => worker.request({ type: 'stats' }, 'stats', 10_000)),
    );
  }

  async reset(): Promise<Counters[]> {
    return Promise.all(
      this.workers.map((worker) => worker.request({ type: 'reset' }, 'stats', 10_000)),
    );
  }

  async finish(): Promise<Reply<'final'>[]> {
    return Promise.all(
      this.workers.map((worker) => worker.request({ type: 'finish' }, 'final', 30_000)),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.stop().catch(() => undefined)));
  }
}

/** Sums the counters of several workers (max of the last receive, min of the first send). */
export function sumCounters(parts: readonly Counters[]): Counters {
  const total: Counters = {
    sent: 0,
    acked: 0,
    unacked: 0,
    received: 0,
    firstSendAt: 0,
    lastReceiveAt: 0,
    dropped: 0,
  };
  for (const part of parts) {
    total.sent += part.sent;
    total.acked += part.acked;
    total.unacked += part.unacked;
    total.received += part.received;
    total.dropped += part.dropped;
    if (part.firstSendAt > 0 && (total.firstSendAt === 0 || part.firstSendAt < total.firstSendAt)) {
      total.firstSendAt = part.firstSendAt;
    }
    if (part.lastReceiveAt > total.lastReceiveAt) total.lastReceiveAt = part.lastReceiveAt;
  }
  return total;
}
