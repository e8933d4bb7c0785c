import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker thread running the module at `url`. From the built `dist/` that is a plain `.js`
 * module. From the sources (`node --import tsx`) it is a `.ts` file, and Node 20 does not apply
 * the `--import` hooks of `execArgv` to a worker's entry (nodejs/node#47747, fixed in 22.2):
 * a small CommonJS entry registers tsx itself, then imports the module. That worker is started
 * without the inherited `execArgv`, so tsx is registered once whatever the Node version.
 * `workerData` is the entry's own: send a worker its settings in its first message.
 */
export function startWorker(url: URL, options: WorkerOptions = {}): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options);
  const entry = `const { workerData } = require('node:worker_threads');
import(workerData.tsx)
  .then((tsx) => { tsx.register(); return import(workerData.entry); })
  .catch((err) => { process.nextTick(() => { throw err; }); });`;
  return new Worker(entry, {
    ...options,
    eval: true,
    execArgv: [],
    workerData: { entry: url.href, tsx: import.meta.resolve('tsx/esm/api') },
  });
}
