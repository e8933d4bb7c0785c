/**
 * Tandem's MQTT broker (src/mqtt) on a plain net server, run by the harness as a child process:
 * `node --import tsx bench/tandem-broker.ts <port>`. The broker is found at run time so that the
 * harness type-checks and runs the peers even while src/mqtt is still being written.
 */
import { createServer, type Socket } from 'node:net';
import { answerGcRequests } from './gc-request.js';

interface BrokerLike {
  handleConnection(stream: Socket, info: Record<string, unknown>): unknown;
  readonly stats?: unknown;
  start?: () => unknown;
  close?: () => unknown;
  stop?: () => unknown;
}

type BrokerClass = new (options?: Record<string, unknown>) => BrokerLike;

const CANDIDATES = ['../src/mqtt/index.js', '../src/mqtt/broker.js'];

async function loadBrokerClass(): Promise<BrokerClass> {
  const failures: string[] = [];
  for (const candidate of CANDIDATES) {
    const url = new URL(candidate, import.meta.url).href;
    try {
      const module = (await import(url)) as Record<string, unknown>;
      const found = module.MqttBroker;
      if (typeof found === 'function') return found as BrokerClass;
      failures.push(`${candidate}: no MqttBroker export`);
    } catch (error) {
      failures.push(`${candidate}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`Tandem's MqttBroker is not available:\n  ${failures.join('\n  ')}`);
}

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error('usage: tandem-broker.ts <port>');

// Tandem runs with its defaults; TANDEM_BENCH_LIMITS='{"maxQueuedMessages":100000}' overrides
// some of its MqttLimits to explore their effect.
const limits = process.env.TANDEM_BENCH_LIMITS ? JSON.parse(process.env.TANDEM_BENCH_LIMITS) : {};
answerGcRequests();
const MqttBroker = await loadBrokerClass();
const broker = new MqttBroker({ limits });
await broker.start?.();
const server = createServer({ noDelay: true }, (socket) => {
  broker.handleConnection(socket, {
    transport: 'tcp',
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
  });
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));

async function shutdown(): Promise<void> {
  setTimeout(() => process.exit(0), 1000).unref();
  // The broker's own counters (messages dropped and why) for the harness, which reads this line
  // from stdout; writes to a pipe are synchronous on Linux.
  if (broker.stats !== undefined) process.stdout.write(`stats ${JSON.stringify(broker.stats)}\n`);
  server.close();
  await (broker.close ?? broker.stop)?.call(broker);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('disconnect', () => void shutdown());
