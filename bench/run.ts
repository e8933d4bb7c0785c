/**
 * MQTT benchmarks of Tandem against Mosquitto and Aedes, side by side in one run.
 *
 *   node --import tsx bench/run.ts [scenario...] [--runs N] [--duration S] [options]
 *
 * See bench/README.md for the scenarios, the options and how to read the results.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BROKERS, type BrokerName } from './brokers.js';
import { killAll } from './cleanup.js';
import { checkAckHeaders } from './mqtt-wire.js';
import { type Failure, type Machine, summarize, writeResults } from './report.js';
import {
  IDLE_SCENARIO,
  type Options,
  type RunResult,
  runIdle,
  runThroughput,
  type Scenario,
  THROUGHPUT_SCENARIOS,
} from './scenarios.js';

const USAGE = `usage: node --import tsx bench/run.ts [scenario...] [options]

scenarios (default: every throughput scenario; a word selects every scenario whose name holds it):
  ${THROUGHPUT_SCENARIOS.map((s) => s.name).join(' ')}
  idle          idle connections, memory per connection (only when named or with --idle)

options:
  --runs N          runs per scenario and broker, medians are quoted (default 3)
  --duration S      publishing time per run in seconds (default 5)
  --brokers LIST    comma-separated, from mosquitto,aedes,tandem,reflector (default all four;
                    the reflector is the generator's ceiling, not a broker)
  --idle            add the idle-connections scenario
  --connections N   connections of the idle scenario (default 10000; 50000 needs ulimit -n > 50000)
  --workers N       load worker threads (default os.availableParallelism())
  --payload B       payload bytes per PUBLISH, at least 8 (default 64)
  --window N        QoS 1/2 in-flight window per publisher (default 100, 10 for fan-in)
  --qos0-window N   QoS 0 deliveries in flight over all publishers (default 2000)
  --rate R          publish R messages/s over all publishers instead of saturating the broker:
                    latency at a given load; results go to mqtt-rate<R>.* (default: saturate)
  --warmup S        publishing before each measured run, in seconds; 0 for none (default 1)
  --out DIR         where results are written (default bench/results)
`;

function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`--${name} wants a positive number, got ${value}`);
  return n;
}

function selectScenarios(words: string[], idle: boolean): Scenario[] {
  const all: Scenario[] = [...THROUGHPUT_SCENARIOS, IDLE_SCENARIO];
  let chosen: Scenario[];
  if (words.length === 0 || words.includes('all')) {
    chosen = [...THROUGHPUT_SCENARIOS];
    if (words.includes('all') && idle) chosen.push(IDLE_SCENARIO);
  } else {
    chosen = all.filter((s) => words.some((w) => s.name === w || s.name.includes(w)));
    const unknown = words.filter((w) => !all.some((s) => s.name.includes(w)));
    if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}\n\n${USAGE}`);
  }
  if (idle && !chosen.includes(IDLE_SCENARIO)) chosen.push(IDLE_SCENARIO);
  return chosen;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      runs: { type: 'string' },
      duration: { type: 'string' },
      brokers: { type: 'string' },
      idle: { type: 'boolean', default: false },
      connections: { type: 'string' },
      workers: { type: 'string' },
      payload: { type: 'string' },
      window: { type: 'string' },
      'qos0-window': { type: 'string' },
      warmup: { type: 'string' },
      rate: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const runs = Math.round(positiveInt(values.runs, 3, 'runs'));
  const options: Options = {
    durationS: positiveInt(values.duration, 5, 'duration'),
    workers: Math.round(positiveInt(values.workers, availableParallelism(), 'workers')),
    payloadSize: Math.max(8, Math.round(positiveInt(values.payload, 64, 'payload'))),
    window: values.window === undefined ? 0 : Math.round(positiveInt(values.window, 100, 'window')),
    idleConnections: Math.round(positiveInt(values.connections, 10_000, 'connections')),
    qos0Window: Math.round(positiveInt(values['qos0-window'], 2000, 'qos0-window')),
    rate: values.rate === undefined ? 0 : positiveInt(values.rate, 0, 'rate'),
    warmupS: values.warmup === '0' ? 0 : positiveInt(values.warmup, 1, 'warmup'),
  };
  const brokerNames = (values.brokers ?? 'mosquitto,aedes,tandem,reflector')
    .split(',')
    .map((b) => b.trim());
  for (const name of brokerNames) {
    if (!(name in BROKERS)) throw new Error(`unknown broker ${name}\n\n${USAGE}`);
  }
  const scenarios = selectScenarios(positionals, values.idle === true);
  const out = values.out ?? fileURLToPath(new URL('./results', import.meta.url));
  checkAckHeaders();

  const versions: Record<string, string> = {};
  for (const name of brokerNames) {
    if (name !== 'reflector') versions[name] = BROKERS[name as BrokerName].version();
  }
  const machine: Machine = {
    date: new Date().toISOString(),
    command: ['node --import tsx bench/run.ts', ...process.argv.slice(2)].join(' '),
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    loadStart: loadavg(),
    loadEnd: [],
    node: process.version,
    versions,
    runs,
    durationS: options.durationS,
    payloadSize: options.payloadSize,
    workers: options.workers,
    idleConnections: options.idleConnections,
    rate: options.rate,
    warmupS: options.warmupS,
    qos0Window: options.qos0Window,
    window: options.window,
  };
  process.stdout.write(
    `${scenarios.length} scenarios × ${brokerNames.length} brokers × ${runs} runs; ${machine.cpus} CPUs, load ${machine.loadStart.map((v) => v.toFixed(2)).join(' ')}\n`,
  );

  const results: RunResult[] = [];
  const failures: Failure[] = [];
  const unavailable = new Set<string>();
  for (const scenario of scenarios) {
    for (let run = 1; run <= runs; run++) {
      // Brokers take turns within each run, Mosquitto first, so that drifting machine load is
      // spread over all of them rather than landing on one.
      for (const name of brokerNames) {
        if (unavailable.has(name)) continue;
        // The reflector keeps no state: its memory per connection says nothing.
        if (scenario.kind === 'idle' && name === 'reflector') continue;
        const adapter = BROKERS[name as BrokerName];
        let broker: Awaited<ReturnType<typeof adapter.start>>;
        try {
          broker = await adapter.start();
        } catch (error) {
          const message = (error as Error).message;
          failures.push({
            scenario: scenario.name,
            broker: name,
            run,
            error: `did not start: ${message}`,
          });
          unavailable.add(name);
          process.stdout.write(
            `${scenario.name} ${name}: did not start, skipped from now on\n${message}\n`,
          );
          continue;
        }
        try {
          const result =
            scenario.kind === 'idle'
              ? await runIdle(adapter, broker, options, run)
              : await runThroughput(scenario, adapter, broker, options, run);
          await broker.stop();
          if (result.kind === 'throughput') result.brokerDropped = brokerDropped(broker.output());
          results.push(result);
          process.stdout.write(`${describe(result)}\n`);
        } catch (error) {
          const message = `${(error as Error).message}\n${broker.output().slice(-800)}`;
          failures.push({ scenario: scenario.name, broker: name, run, error: message });
          process.stdout.write(`${scenario.name} ${name} run ${run} failed: ${message}\n`);
        } finally {
          await broker.stop();
        }
      }
    }
  }
  machine.loadEnd = loadavg();
  const summaries = summarize(scenarios, brokerNames, results, failures);
  const prefix = options.rate > 0 ? `mqtt-rate${options.rate}` : 'mqtt';
  const written = writeResults(out, prefix, summaries, machine, results, failures);
  process.stdout.write(`\nwrote ${written.join(', ')}\n`);
}

/**
 * Messages the broker itself says it dropped, by reason, from the `stats {...}` line that
 * bench/tandem-broker.ts prints when stopped (Tandem's MqttBrokerStats.dropped); null when the
 * broker reports nothing.
 */
function brokerDropped(output: string): Record<string, number> | null {
  const line = output
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('stats '));
  if (!line) return null;
  try {
    const stats = JSON.parse(line.slice(6)) as { dropped?: Record<string, number> };
    return stats.dropped ?? null;
  } catch {
    return null;
  }
}

function describe(r: RunResult): string {
  if (r.kind === 'idle') {
    return `idle ${r.broker} run ${r.run}: ${r.connected}/${r.attempted} connected (${r.requested} requested), ${Math.round(r.bytesPerConnection)} B/conn, ${Math.round(r.connectPerSecond)} conn/s`;
  }
  const rate = Math.round(r.deliveredPerSecond).toLocaleString('en-US');
  return `${r.scenario} ${r.broker} run ${r.run}: ${rate} msg/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, lost ${r.lost}/${r.expected}${r.unacked ? ` (${r.unacked} unacked)` : ''}${r.dropped ? ` (${r.dropped} connections closed)` : ''}${r.brokerDropped ? ` broker-reported drops ${JSON.stringify(r.brokerDropped)}` : ''}, cpu broker ${Math.round(r.brokerCpuPct)} % generator ${Math.round(r.generatorCpuPct)} %`;
}

main().then(
  () => {
    killAll();
    process.exit(0);
  },
  (error: Error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    killAll();
    process.exit(1);
  },
);
