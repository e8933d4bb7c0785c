/**
 * The MQTT scenarios and how one run of each is measured against one broker.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { BrokerAdapter, RunningBroker } from './brokers.js';
import { LatencyHistogram } from './histogram.js';
import { LoadGenerator, sumCounters } from './load-generator.js';
import type { ClientSpec, Counters } from './load-protocol.js';
import type { Qos } from './mqtt-wire.js';
import {
  machineCpuTicks,
  openFilesLimit,
  processCpuSeconds,
  selfCpuSeconds,
  statusKb,
} from './proc-stats.js';

export interface ThroughputScenario {
  kind: 'throughput';
  name: string;
  title: string;
  qos: Qos;
  publishers: number;
  subscribers: number;
  /** Fan-in publishers each use their own topic under one wildcard subscription. */
  wildcard: boolean;
}

export interface IdleScenario {
  kind: 'idle';
  name: 'idle';
  title: string;
}

export type Scenario = ThroughputScenario | IdleScenario;

function throughput(qos: Qos, shape: '1to1' | 'fanout' | 'fanin'): ThroughputScenario {
  const sizes = { '1to1': [1, 1], fanout: [1, 50], fanin: [100, 1] } as const;
  const [publishers, subscribers] = sizes[shape];
  const name = `qos${qos}-${shape === '1to1' ? '1to1' : shape === 'fanout' ? 'fanout50' : 'fanin100'}`;
  return {
    kind: 'throughput',
    name,
    title: `QoS ${qos}, ${publishers} → ${subscribers}`,
    qos,
    publishers,
    subscribers,
    wildcard: shape === 'fanin',
  };
}

export const THROUGHPUT_SCENARIOS: ThroughputScenario[] = [
  throughput(0, '1to1'),
  throughput(1, '1to1'),
  throughput(2, '1to1'),
  throughput(0, 'fanout'),
  throughput(1, 'fanout'),
  throughput(2, 'fanout'),
  throughput(0, 'fanin'),
  throughput(1, 'fanin'),
  throughput(2, 'fanin'),
];

export const IDLE_SCENARIO: IdleScenario = {
  kind: 'idle',
  name: 'idle',
  title: 'Idle connections: resident memory per connection',
};

export interface Options {
  durationS: number;
  workers: number;
  payloadSize: number;
  /** Per-publisher QoS 1/2 window; 0 picks 100 (one or few publishers) or 10 (fan-in). */
  window: number;
  idleConnections: number;
  /** Messages per second over all publishers; 0 saturates the broker. */
  rate: number;
  /** Publishing before the measured phase, in seconds (0: none). */
  warmupS: number;
  /** QoS 0: most deliveries in flight (sent × subscribers − received) over all publishers. */
  qos0Window: number;
}

export interface ThroughputResult {
  kind: 'throughput';
  scenario: string;
  broker: string;
  run: number;
  sent: number;
  acked: number;
  unacked: number;
  expected: number;
  received: number;
  lost: number;
  deliveredPerSecond: number;
  publishedPerSecond: number;
  windowSeconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU of the broker process during the publishing window, % of one core. */
  brokerCpuPct: number;
  /** CPU of the generator (this process, all threads) during the publishing window, % of one core. */
  generatorCpuPct: number;
  /** CPU of the whole machine during the publishing window, % of one core (all CPUs: n × 100). */
  machineBusyPct: number;
  brokerPeakRssKb: number;
  dropped: number;
  /** Messages the broker reports it dropped, by reason (Tandem only), or null. */
  brokerDropped?: Record<string, number> | null;
  errors: string[];
}

export interface IdleResult {
  kind: 'idle';
  scenario: 'idle';
  broker: string;
  run: number;
  requested: number;
  /** Connections tried: `requested`, or fewer when the broker's open-file limit is lower. */
  attempted: number;
  connected: number;
  failed: number;
  /** VmRSS before and after the connections, each read once garbage is collected (Node brokers). */
  rssBeforeKb: number;
  rssAfterKb: number;
  bytesPerConnection: number;
  /** The same, read before the collections: the garbage of the connection burst included. */
  rssBeforeUncollectedKb: number;
  rssAfterUncollectedKb: number;
  bytesPerConnectionUncollected: number;
  connectPerSecond: number;
  brokerFdLimit: number;
  errors: string[];
}

export type RunResult = ThroughputResult | IdleResult;

const HOST = '127.0.0.1';
const cpus = availableParallelism();
const POLL_MS = 200;
const STALL_MS = 3000;
const DRAIN_LIMIT_MS = 30_000;
const SETTLE_MS = 10_000;
/** Quiet time after the last CONNACK before the idle scenario reads the broker's memory. */
const IDLE_QUIET_MS = 3000;
/**
 * Time between the two garbage collections before each memory reading of a Node broker. V8
 * gives back its young generation (16 MB semi-spaces, grown during the connection burst) only at
 * a collection that sees a low allocation rate over its last 5 s, as the periodic collections of
 * a long-running idle process do; a single collection right after the burst keeps it.
 */
const GC_PAUSE_MS = 6000;
/** After the last collection, for freed pages to go back to the OS (done in the background). */
const GC_RELEASE_MS = 2000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The broker's resident memory once garbage is collected (a no-op wait for Mosquitto). */
async function settledRssKb(broker: RunningBroker): Promise<number> {
  await broker.collectGarbage();
  await sleep(GC_PAUSE_MS);
  await broker.collectGarbage();
  await sleep(GC_RELEASE_MS);
  return statusKb(broker.pid, 'VmRSS');
}

/** Deals `specs` round-robin over the workers `first` to `last`, into `out`. */
function deal(specs: ClientSpec[], out: ClientSpec[][], first: number, last: number): void {
  const span = last - first + 1;
  specs.forEach((spec, i) => {
    out[first + (i % span)]!.push(spec);
  });
}

/**
 * Places the clients on the workers. A lone subscriber (1 → 1, fan-in) gets a worker to itself
 * and the publishers share the others; many subscribers (fan-out) are spread over all workers.
 */
function place(subscribers: ClientSpec[], publishers: ClientSpec[], workers: number) {
  const subs: ClientSpec[][] = Array.from({ length: workers }, () => []);
  const pubs: ClientSpec[][] = Array.from({ length: workers }, () => []);
  if (workers > 1 && subscribers.length === 1) {
    deal(subscribers, subs, 0, 0);
    deal(publishers, pubs, 1, workers - 1);
  } else {
    deal(subscribers, subs, 0, workers - 1);
    deal([...publishers].reverse(), pubs, 0, workers - 1);
  }
  return { subs, pubs };
}

function spread(specs: ClientSpec[], workers: number): ClientSpec[][] {
  const out: ClientSpec[][] = Array.from({ length: workers }, () => []);
  deal(specs, out, 0, workers - 1);
  return out;
}

function connectFailures(
  replies: { ok: number; failed: number; errors: string[] }[],
): string | null {
  const failed = replies.reduce((n, r) => n + r.failed, 0);
  if (failed === 0) return null;
  return `${failed} connections failed: ${replies
    .flatMap((r) => r.errors)
    .slice(0, 3)
    .join('; ')}`;
}

export async function runThroughput(
  scenario: ThroughputScenario,
  adapter: BrokerAdapter,
  broker: RunningBroker,
  options: Options,
  run: number,
): Promise<ThroughputResult> {
  const window = options.window > 0 ? options.window : scenario.publishers > 10 ? 10 : 100;
  const base = scenario.wildcard ? 'bench/fanin' : `bench/${scenario.name}`;
  const subscribers: ClientSpec[] = Array.from({ length: scenario.subscribers }, (_, i) => ({
    role: 'sub',
    clientId: `s${run}-${i}`,
    topic: scenario.wildcard ? `${base}/+` : base,
    qos: scenario.qos,
    payloadSize: options.payloadSize,
    window,
  }));
  const publishers: ClientSpec[] = Array.from({ length: scenario.publishers }, (_, i) => ({
    role: 'pub',
    clientId: `p${run}-${i}`,
    topic: scenario.wildcard ? `${base}/${i}` : base,
    qos: scenario.qos,
    payloadSize: options.payloadSize,
    window,
    rate: options.rate / scenario.publishers,
  }));
  const workers = Math.max(
    1,
    Math.min(options.workers, scenario.publishers + scenario.subscribers),
  );
  const generator = LoadGenerator.spawn(workers, 'thread');
  try {
    const connectOptions = { host: HOST, port: broker.port, concurrency: 50, timeoutMs: 30_000 };
    const placed = place(subscribers, publishers, workers);
    const subFailure = connectFailures(await generator.connect(placed.subs, connectOptions));
    if (subFailure) throw new Error(`subscribers: ${subFailure}`);
    const pubFailure = connectFailures(await generator.connect(placed.pubs, connectOptions));
    if (pubFailure) throw new Error(`publishers: ${pubFailure}`);

    const flow =
      scenario.qos === 0
        ? { subscribers: scenario.subscribers, window: options.qos0Window }
        : undefined;
    const expectedOf = (c: Counters): number =>
      (scenario.qos === 0 ? c.sent : c.acked) * scenario.subscribers;
    // Waits for the broker to deliver what it accepted: until everything arrived, or nothing
    // arrived for STALL_MS, bounded by DRAIN_LIMIT_MS.
    const drain = async (): Promise<Counters> => {
      const drainStart = Date.now();
      let lastProgress = Date.now();
      let lastReceived = -1;
      let counters = sumCounters(await generator.stats());
      while (Date.now() - drainStart < DRAIN_LIMIT_MS) {
        if (counters.received >= expectedOf(counters)) break;
        if (counters.received !== lastReceived) {
          lastReceived = counters.received;
          lastProgress = Date.now();
        } else if (Date.now() - lastProgress > STALL_MS) {
          break;
        }
        await sleep(POLL_MS);
        counters = sumCounters(await generator.stats());
      }
      return counters;
    };

    // A warm-up lets the JIT of the Node brokers settle; its deliveries count for loss only.
    let warmup: Counters | null = null;
    if (options.warmupS > 0) {
      await generator.publish(options.warmupS * 1000, SETTLE_MS, flow);
      warmup = await drain();
      await generator.reset();
    }

    const durationMs = options.durationS * 1000;
    const brokerCpu0 = processCpuSeconds(broker.pid);
    const generatorCpu0 = selfCpuSeconds();
    const machine0 = machineCpuTicks();
    const started = performance.now();
    let brokerCpuPct = Number.NaN;
    let generatorCpuPct = Number.NaN;
    let machineBusyPct = Number.NaN;
    const sampleCpu = (): void => {
      if (Number.isFinite(brokerCpuPct)) return;
      const seconds = (performance.now() - started) / 1000;
      brokerCpuPct = ((processCpuSeconds(broker.pid) - brokerCpu0) / seconds) * 100;
      generatorCpuPct = ((selfCpuSeconds() - generatorCpu0) / seconds) * 100;
      const machine1 = machineCpuTicks();
      machineBusyPct =
        ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 100 * cpus;
    };
    // CPU is sampled over the publishing window, without the drain that follows.
    const sampler = setTimeout(sampleCpu, durationMs);
    await generator.publish(durationMs, SETTLE_MS, flow);
    clearTimeout(sampler);
    sampleCpu();
    await drain();

    const brokerPeakRssKb = statusKb(broker.pid, 'VmHWM');
    const finals = await generator.finish();
    const counters = sumCounters(finals);
    const histogram = new LatencyHistogram();
    for (const part of finals) {
      const h = new LatencyHistogram(part.histogram);
      h.max = part.latencyMax;
      histogram.merge(h);
    }
    const windowSeconds =
      counters.lastReceiveAt > counters.firstSendAt
        ? (counters.lastReceiveAt - counters.firstSendAt) / 1e6
        : Number.NaN;
    const expected = expectedOf(counters);
    const warmupExpected = warmup ? expectedOf(warmup) : 0;
    const warmupReceived = warmup ? warmup.received : 0;
    return {
      kind: 'throughput',
      scenario: scenario.name,
      broker: adapter.name,
      run,
      sent: counters.sent,
      acked: counters.acked,
      unacked: counters.unacked,
      expected: expected + warmupExpected,
      received: counters.received + warmupReceived,
      lost: expected + warmupExpected - counters.received - warmupReceived,
      deliveredPerSecond: counters.received / windowSeconds,
      publishedPerSecond: (scenario.qos === 0 ? counters.sent : counters.acked) / options.durationS,
      windowSeconds,
      p50Ms: histogram.quantile(0.5) / 1000,
      p99Ms: histogram.quantile(0.99) / 1000,
      maxMs: histogram.max / 1000,
      brokerCpuPct,
      generatorCpuPct,
      machineBusyPct,
      brokerPeakRssKb,
      dropped: counters.dropped,
      errors: finals.flatMap((f) => f.errors),
    };
  } finally {
    await generator.close();
  }
}

/**
 * Connections per source address: well under the ~28k ephemeral ports of one address, because
 * bind() to port 0 slows down as an address's range fills (19,900 connections from one address
 * opened at 360/s, from four at 7,300/s).
 */
const PER_ADDRESS = 5_000;
/** Connections per generator process: under the usual 20k open-file limit of one process. */
const PER_PROCESS = 15_000;
/** File descriptors a broker keeps for itself (listener, logs, epoll, libraries). */
const FD_MARGIN = 100;
/**
 * Source addresses rotate over 127.0.0.2-254 across runs so that no run waits for the ports an
 * earlier run left in TIME_WAIT.
 */
let nextAddress = 2;

function takeAddresses(count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    out.push(`127.0.0.${nextAddress}`);
    nextAddress = nextAddress >= 254 ? 2 : nextAddress + 1;
  }
  return out;
}

export async function runIdle(
  adapter: BrokerAdapter,
  broker: RunningBroker,
  options: Options,
  run: number,
): Promise<IdleResult> {
  const requested = options.idleConnections;
  // Past its open-file limit a broker leaves connections unaccepted until they time out: ask
  // only for what it can hold, and report the cap.
  const brokerFdLimit = openFilesLimit(broker.pid);
  const attempted = Math.min(requested, brokerFdLimit - FD_MARGIN);
  const addresses = takeAddresses(Math.ceil(attempted / PER_ADDRESS));
  const clients: ClientSpec[] = Array.from({ length: attempted }, (_, i) => ({
    role: 'idle',
    clientId: `i${run}-${i}`,
    localAddress: addresses[Math.floor(i / PER_ADDRESS)]!,
    qos: 0,
    payloadSize: 0,
    window: 0,
  }));
  const processes = Math.max(2, Math.ceil(attempted / PER_PROCESS));
  const generator = LoadGenerator.spawn(processes, 'process');
  try {
    await sleep(1000);
    const rssBeforeUncollectedKb = statusKb(broker.pid, 'VmRSS');
    const rssBeforeKb = await settledRssKb(broker);
    const started = performance.now();
    const replies = await generator.connect(spread(clients, processes), {
      host: HOST,
      port: broker.port,
      concurrency: 100,
      timeoutMs: 180_000,
    });
    const connectSeconds = (performance.now() - started) / 1000;
    const connected = replies.reduce((n, r) => n + r.ok, 0);
    await sleep(IDLE_QUIET_MS);
    const rssAfterUncollectedKb = statusKb(broker.pid, 'VmRSS');
    const rssAfterKb = await settledRssKb(broker);
    const perConnection = (beforeKb: number, afterKb: number): number =>
      connected > 0 ? ((afterKb - beforeKb) * 1024) / connected : Number.NaN;
    return {
      kind: 'idle',
      scenario: 'idle',
      broker: adapter.name,
      run,
      requested,
      attempted,
      connected,
      failed: replies.reduce((n, r) => n + r.failed, 0),
      rssBeforeKb,
      rssAfterKb,
      bytesPerConnection: perConnection(rssBeforeKb, rssAfterKb),
      rssBeforeUncollectedKb,
      rssAfterUncollectedKb,
      bytesPerConnectionUncollected: perConnection(rssBeforeUncollectedKb, rssAfterUncollectedKb),
      connectPerSecond: connected / connectSeconds,
      brokerFdLimit,
      errors: replies.flatMap((r) => r.errors).slice(0, 5),
    };
  } finally {
    // The broker goes first, so its side of each connection takes the TIME_WAIT state rather
    // than the generator's ephemeral ports.
    await broker.stop();
    await generator.finish().catch(() => undefined);
    await generator.close();
  }
}
