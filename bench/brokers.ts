/**
 * The brokers under test, one adapter each, all started the same way: on a free loopback port,
 * in their own process (so that their CPU time and resident memory can be read from /proc), and
 * killed when the harness ends.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { atExit, track } from './cleanup.js';
import { freePort } from './free-port.js';

export type BrokerName = 'mosquitto' | 'aedes' | 'tandem' | 'reflector';

export interface RunningBroker {
  readonly port: number;
  readonly pid: number;
  /** The last lines the broker wrote to stdout/stderr (for error reports). */
  output(): string;
  /**
   * Runs a full garbage collection in a Node broker (bench/gc-request.ts) and resolves when it
   * is done; resolves at once for Mosquitto, whose memory is freed as it goes.
   */
  collectGarbage(): Promise<void>;
  stop(): Promise<void>;
}

export interface BrokerAdapter {
  readonly name: BrokerName;
  readonly label: string;
  version(): string;
  start(): Promise<RunningBroker>;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 20_000;
const GC_TIMEOUT_MS = 10_000;
const OUTPUT_KEPT = 4000;
const MOSQUITTO = '/usr/sbin/mosquitto';

/**
 * Mosquitto settings: anonymous access on one loopback listener, no persistence, and no limit
 * that would make it drop or throttle messages the other brokers keep: `max_queued_messages 0`
 * and `max_queued_bytes 0` (no per-client queue cap; the default 1000 drops QoS 1/2 messages for
 * a slow subscriber), `max_inflight_messages 100` (unacknowledged QoS 1/2 messages per client in
 * each direction, the publisher window of the generator; the default 20 stalls
 * a 3.1.1 publisher that keeps 100 QoS 2 messages in flight, and 0 (no limit) made Mosquitto
 * 2.0.11 deliver less than half as much in the QoS 1 fan-out),
 * `set_tcp_nodelay true` (Nagle off, like the Node brokers' sockets), logging of errors only.
 */
export function mosquittoConfig(port: number): string {
  return [
    `listener ${port} ${HOST}`,
    'allow_anonymous true',
    'persistence false',
    'max_queued_messages 0',
    'max_queued_bytes 0',
    'max_inflight_messages 100',
    'max_inflight_bytes 0',
    'max_keepalive 65535',
    'set_tcp_nodelay true',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n');
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function startChild(
  command: string,
  args: string[],
  port: number,
  node: boolean,
  cleanup?: () => void,
): Promise<RunningBroker> {
  // Node brokers may be asked for a garbage collection (collectGarbage below).
  const child: ChildProcess = spawn(command, node ? ['--expose-gc', ...args] : args, {
    stdio: node ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    cleanup?.();
  };
  const collectGarbage = (): Promise<void> => {
    if (!node || !child.connected) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (message: unknown): void => {
        if (message !== 'gc-done') return;
        clearTimeout(timer);
        child.off('message', done);
        resolve();
      };
      const timer = setTimeout(() => {
        child.off('message', done);
        resolve();
      }, GC_TIMEOUT_MS);
      child.on('message', done);
      child.send('gc');
    });
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (await canConnect(port)) {
      return { port, pid: child.pid ?? -1, output: () => output, stop, collectGarbage };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`${command} ${args.join(' ')} did not listen on ${port}:\n${output}`);
}

function nodeScript(name: string): string {
  return fileURLToPath(new URL(name, import.meta.url));
}

export const mosquitto: BrokerAdapter = {
  name: 'mosquitto',
  label: 'Mosquitto',
  version() {
    try {
      const out = execFileSync(MOSQUITTO, ['-h'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      return /mosquitto version (\S+)/.exec(out)?.[1] ?? 'unknown';
    } catch (error) {
      const out = String((error as { stdout?: unknown }).stdout ?? '');
      return /mosquitto version (\S+)/.exec(out)?.[1] ?? 'unknown';
    }
  },
  async start() {
    const port = await freePort(HOST);
    const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-mosquitto-'));
    const config = join(dir, 'mosquitto.conf');
    writeFileSync(config, mosquittoConfig(port));
    const remove = (): void => rmSync(dir, { recursive: true, force: true });
    const forget = atExit(remove);
    return startChild(MOSQUITTO, ['-c', config], port, false, () => {
      forget();
      remove();
    });
  },
};

export const aedes: BrokerAdapter = {
  name: 'aedes',
  label: 'Aedes',
  version() {
    // aedes exports only its entry point; its package.json sits beside it.
    const path = fileURLToPath(new URL('./package.json', import.meta.resolve('aedes')));
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  },
  async start() {
    const port = await freePort(HOST);
    return startChild(
      process.execPath,
      ['--import', 'tsx', nodeScript('./aedes-broker.ts'), String(port)],
      port,
      true,
    );
  },
};

export const tandem: BrokerAdapter = {
  name: 'tandem',
  label: 'Tandem',
  version() {
    try {
      const cwd = fileURLToPath(new URL('..', import.meta.url));
      const commit = execFileSync('git', ['log', '-1', '--format=%h', '--', 'src/mqtt'], {
        cwd,
        encoding: 'utf8',
      }).trim();
      const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src/mqtt'], {
        cwd,
        encoding: 'utf8',
      }).trim();
      return `${commit || 'uncommitted'}${dirty ? '+dirty' : ''}`;
    } catch {
      return 'unknown';
    }
  },
  async start() {
    const port = await freePort(HOST);
    return startChild(
      process.execPath,
      ['--import', 'tsx', nodeScript('./tandem-broker.ts'), String(port)],
      port,
      true,
    );
  },
};

/**
 * Not a broker: the generator's ceiling (bench/reflector-broker.ts copies PUBLISH packets to every
 * subscriber and answers the QoS flows, nothing more).
 */
export const reflector: BrokerAdapter = {
  name: 'reflector',
  label: 'Reflector',
  version() {
    return 'bench';
  },
  async start() {
    const port = await freePort(HOST);
    return startChild(
      process.execPath,
      ['--import', 'tsx', nodeScript('./reflector-broker.ts'), String(port)],
      port,
      true,
    );
  },
};

export const BROKERS: Record<BrokerName, BrokerAdapter> = { mosquitto, aedes, tandem, reflector };
