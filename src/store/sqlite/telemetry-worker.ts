/**
 * The telemetry worker: a thread with its own connection to the store's SQLite file, writing
 * the batches the SqliteTelemetryStore hands over, off the main thread that runs the network
 * endpoints. Requests are handled one at a time in the order they arrive (a batch, then a
 * retention delete, then the next batch...), each answered with the same `seq`. A request that
 * fails is answered with its error: its transaction is rolled back and the worker goes on.
 */
import { parentPort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { decodeBatch } from './telemetry-batch.js';
import type { WorkerReply, WorkerRequest } from './telemetry-worker-protocol.js';
import { SqliteTelemetryWriter } from './telemetry-writer.js';

const port = parentPort;
if (!port) throw new Error('telemetry-worker.ts runs in a worker thread');

let db: Database.Database | undefined;
let writer: SqliteTelemetryWriter | undefined;

function handle(request: WorkerRequest): number | undefined {
  if (request.type === 'open') {
    const { path, intervals, busyTimeoutMs } = request.settings;
    db = new Database(path, { fileMustExist: true });
    // The main thread's connection set WAL mode in the file; these are per connection. The
    // busy timeout makes this connection wait for the main thread's write transactions (and
    // the main thread's for this one's) instead of failing with SQLITE_BUSY.
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    db.pragma('synchronous = NORMAL');
    writer = new SqliteTelemetryWriter(db, intervals);
    return undefined;
  }
  if (request.type === 'close') {
    db?.close();
    db = undefined;
    writer = undefined;
    return undefined;
  }
  if (!writer) throw new Error('the telemetry worker has no open database');
  if (request.type === 'write') {
    writer.write(decodeBatch(request.batch));
    return undefined;
  }
  return writer.delete(request);
}

port.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    const changes = handle(request);
    reply =
      changes === undefined
        ? { seq: request.seq, ok: true }
        : { seq: request.seq, ok: true, changes };
  } catch (err) {
    const e = err as { name?: unknown; message?: unknown; code?: unknown };
    reply = {
      seq: request.seq,
      ok: false,
      error: {
        name: typeof e.name === 'string' ? e.name : 'Error',
        message: typeof e.message === 'string' ? e.message : String(err),
        ...(typeof e.code === 'string' ? { code: e.code } : {}),
      },
    };
  }
  port.postMessage(reply);
  // After its connection is closed the worker has nothing left to do.
  if (request.type === 'close') port.close();
});
