/**
 * `tandem observe <device> <path>`: starts an observation through the API, follows the new
 * values on the server's event stream (`GET /api/events`, Server-Sent Events) until Ctrl-C,
 * `--count` or `--duration`, then cancels the observation.
 */
import type { NodeJson, ResourceJson } from '../../hub/commands/json.js';
import { EXIT } from '../exit-codes.js';
import { ApiCallError, ApiClient, CliError } from './api-client.js';
import { describeNode, type ObserveFlags, operationUrl } from './operations.js';

/** One event of the stream: its `event:` name and its `data:` parsed as JSON. */
export interface StreamEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/**
 * A `data` event of the stream: one value a device reported, `data` the resource as a Read of
 * its path shows it (src/hub/device-events.ts).
 */
interface DataEvent {
  device: string;
  path: string;
  ts: string;
  data: ResourceJson;
}

/** Events after which no notification comes: the registration, and its observations, ended. */
const ENDED = new Set(['offline', 'deleted', 'revoked']);

export async function observeAction(
  device: string,
  path: string,
  opts: ObserveFlags,
): Promise<void> {
  const api = new ApiClient(opts);
  const abort = new AbortController();
  // The stream opens first, so that no notification between the Observe and it is lost. The
  // path is matched here rather than by the stream's `path` filter, which lets only data
  // events through: the offline event that ends the observation would not come.
  const q = new URLSearchParams({ device, type: ['data', ...ENDED].join(',') });
  const stream = await api.open(`/api/events?${q}`, abort.signal);
  const events = readEvents(stream.body!, abort.signal);
  let observing = false;
  const stop = new Promise<'signal' | 'duration'>((resolve) => {
    const onSignal = () => resolve('signal');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    abort.signal.addEventListener('abort', () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    });
    if (opts.duration !== undefined) {
      const timer = setTimeout(() => resolve('duration'), opts.duration * 1000);
      abort.signal.addEventListener('abort', () => clearTimeout(timer));
    }
  });
  try {
    const started = api.call<NodeJson>('POST', operationUrl(device, path, '/observe', opts));
    const current = await Promise.race([started, stop]);
    if (typeof current === 'string') {
      // Stopped while the Observe was under way: an observation it still starts is cancelled.
      observing = await started.then(
        () => true,
        () => false,
      );
      return;
    }
    observing = true;
    printCurrent(device, current, opts.json === true);
    let seen = 0;
    const iterator = events[Symbol.asyncIterator]();
    for (;;) {
      const next = await Promise.race([iterator.next(), stop]);
      if (typeof next === 'string') return;
      if (next.done) throw new CliError(EXIT.failure, 'the server closed the event stream');
      const { event, data } = next.value;
      if (data.device !== device) continue;
      if (ENDED.has(event)) {
        observing = false;
        throw new CliError(EXIT.unreachable, `${device} ${event}: the observation ended`);
      }
      if (event !== 'data' || !within(String(data.path), path)) continue;
      printData(data as unknown as DataEvent, opts.json === true);
      if (opts.count !== undefined && ++seen >= opts.count) return;
    }
  } finally {
    abort.abort();
    if (observing) await cancel(api, device, path, opts);
  }
}

/** Cancels the observation (LwM2M-TS-Core 1.1 §6.4.2: Cancel Observation); already gone is fine. */
async function cancel(api: ApiClient, device: string, path: string, opts: ObserveFlags) {
  try {
    await api.call(
      'DELETE',
      operationUrl(device, path, '/observe', { ...opts, format: undefined }),
    );
  } catch (err) {
    if (err instanceof ApiCallError && err.status === 404) return;
    throw err;
  }
}

/** `path` is the observed path or under it. */
function within(path: string, observed: string): boolean {
  return path === observed || path.startsWith(`${observed}/`);
}

function printCurrent(device: string, node: NodeJson, json: boolean): void {
  const ts = new Date().toISOString();
  if (json) {
    process.stdout.write(`${JSON.stringify({ device, ...node, ts })}\n`);
    return;
  }
  const text = describeNode(node);
  process.stdout.write(
    'resources' in node || 'instances' in node ? text : `${ts}  ${node.path}  ${text}`,
  );
}

function printData(e: DataEvent, json: boolean): void {
  const r = e.data;
  if (json) {
    process.stdout.write(`${JSON.stringify({ device: e.device, ...r, ts: e.ts })}\n`);
    return;
  }
  process.stdout.write(`${e.ts}  ${r.path}  ${describeNode(r)}`);
}

/**
 * The events of a `text/event-stream` body (WHATWG HTML §9.2.6 "Interpreting an event
 * stream"): lines end with CRLF, LF or CR; `:` starts a comment; `data` lines accumulate; an
 * empty line dispatches. Events whose data is not a JSON object are skipped.
 */
export async function* readEvents(
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal,
): AsyncGenerator<StreamEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  try {
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      // A CR at the very end may be the first half of a CRLF: it waits for the next chunk.
      const end = buffer.endsWith('\r') ? buffer.length - 1 : buffer.length;
      const lines = buffer.slice(0, end).split(/\r\n|\r|\n/);
      buffer = lines.pop()! + buffer.slice(end);
      for (const line of lines) {
        if (line === '') {
          const parsed = data.length ? parseData(data.join('\n')) : undefined;
          if (parsed) yield { event: event || 'message', data: parsed };
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
    }
  } catch (err) {
    if (!signal.aborted)
      throw new CliError(EXIT.failure, `event stream: ${(err as Error).message}`);
  }
}

function parseData(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
