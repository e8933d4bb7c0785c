/**
 * Turns the runs into what is committed under bench/results/: medians per scenario and broker, a
 * Markdown table with ratios to the peers, a JSON file and one SVG bar chart per scenario.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrokerName } from './brokers.js';
import type { IdleResult, RunResult, Scenario, ThroughputResult } from './scenarios.js';
import { barChart } from './svg-chart.js';

export interface Machine {
  date: string;
  command: string;
  cpus: number;
  cpuModel: string;
  loadStart: number[];
  loadEnd: number[];
  node: string;
  versions: Record<string, string>;
  runs: number;
  durationS: number;
  payloadSize: number;
  workers: number;
  idleConnections: number;
  /** Messages per second over all publishers, or 0 when the broker is saturated. */
  rate: number;
  warmupS: number;
  qos0Window: number;
  /** QoS 1/2 window per publisher; 0 when the default (100, fan-in 10) applies. */
  window: number;
}

export interface ThroughputSummary {
  broker: string;
  runs: number;
  deliveredPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  brokerCpuPct: number;
  generatorCpuPct: number;
  machineBusyPct: number;
  lost: number;
  expected: number;
  unacked: number;
  /** Connections the broker closed during the runs. */
  dropped: number;
  /** Messages the broker says it dropped, by reason, summed over the runs (Tandem only). */
  brokerDropped: Record<string, number> | null;
  failures: string[];
}

export interface IdleSummary {
  broker: string;
  runs: number;
  requested: number;
  attempted: number;
  connected: number;
  bytesPerConnection: number;
  bytesPerConnectionUncollected: number;
  connectPerSecond: number;
  brokerFdLimit: number;
  failures: string[];
}

export interface Failure {
  scenario: string;
  broker: string;
  run: number;
  error: string;
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const ORDER: BrokerName[] = ['mosquitto', 'aedes', 'tandem', 'reflector'];
const LABEL: Record<string, string> = {
  mosquitto: 'Mosquitto',
  aedes: 'Aedes',
  tandem: 'Tandem',
  reflector: 'Reflector (ceiling)',
};
const COLOR: Record<string, string> = {
  mosquitto: '#5b7db1',
  aedes: '#c9873a',
  tandem: '#3d9970',
  reflector: '#b0b0b0',
};

/** "Tandem/Mosquitto 1.10×, Tandem/Aedes 0.95×" for a chart, from one figure per broker. */
function chartRatios(values: Map<string, number>): string | undefined {
  const t = values.get('tandem');
  if (t === undefined || !Number.isFinite(t)) return undefined;
  const parts = ['mosquitto', 'aedes']
    .filter((peer) => values.has(peer))
    .map((peer) => `Tandem/${LABEL[peer]} ${ratio(t, values.get(peer) ?? Number.NaN)}`);
  return parts.length > 0 ? parts.join(' · ') : undefined;
}
/** Mosquitto is single-threaded: above this share of one core it is the bottleneck. */
const SATURATED_PCT = 90;

function sumReasons(parts: (Record<string, number> | null)[]): Record<string, number> | null {
  let total: Record<string, number> | null = null;
  for (const part of parts) {
    if (!part) continue;
    total ??= {};
    for (const [reason, count] of Object.entries(part))
      total[reason] = (total[reason] ?? 0) + count;
  }
  return total;
}

function summarizeThroughput(
  results: ThroughputResult[],
  failures: Failure[],
  broker: string,
): ThroughputSummary {
  return {
    broker,
    runs: results.length,
    deliveredPerSecond: median(results.map((r) => r.deliveredPerSecond)),
    p50Ms: median(results.map((r) => r.p50Ms)),
    p99Ms: median(results.map((r) => r.p99Ms)),
    brokerCpuPct: median(results.map((r) => r.brokerCpuPct)),
    generatorCpuPct: median(results.map((r) => r.generatorCpuPct)),
    machineBusyPct: median(results.map((r) => r.machineBusyPct)),
    lost: results.reduce((n, r) => n + r.lost, 0),
    expected: results.reduce((n, r) => n + r.expected, 0),
    unacked: results.reduce((n, r) => n + r.unacked, 0),
    dropped: results.reduce((n, r) => n + r.dropped, 0),
    brokerDropped: sumReasons(results.map((r) => r.brokerDropped ?? null)),
    failures: failures.map((f) => `run ${f.run}: ${f.error}`),
  };
}

function summarizeIdle(results: IdleResult[], failures: Failure[], broker: string): IdleSummary {
  return {
    broker,
    runs: results.length,
    requested: median(results.map((r) => r.requested)),
    attempted: median(results.map((r) => r.attempted)),
    connected: median(results.map((r) => r.connected)),
    bytesPerConnection: median(results.map((r) => r.bytesPerConnection)),
    bytesPerConnectionUncollected: median(results.map((r) => r.bytesPerConnectionUncollected)),
    connectPerSecond: median(results.map((r) => r.connectPerSecond)),
    brokerFdLimit: median(results.map((r) => r.brokerFdLimit)),
    failures: [
      ...failures.map((f) => `run ${f.run}: ${f.error}`),
      ...results
        .filter((r) => r.failed > 0)
        .map((r) => `run ${r.run}: ${r.failed} failed (${r.errors[0] ?? ''})`),
    ],
  };
}

export interface ScenarioSummary {
  name: string;
  title: string;
  kind: Scenario['kind'];
  brokers: (ThroughputSummary | IdleSummary)[];
}

export function summarize(
  scenarios: Scenario[],
  brokers: string[],
  results: RunResult[],
  failures: Failure[],
): ScenarioSummary[] {
  const ordered = ORDER.filter((b) => brokers.includes(b));
  return scenarios.map((scenario) => ({
    name: scenario.name,
    title: scenario.title,
    kind: scenario.kind,
    brokers: ordered
      .filter((broker) => scenario.kind !== 'idle' || broker !== 'reflector')
      .map((broker) => {
        const mine = results.filter((r) => r.scenario === scenario.name && r.broker === broker);
        const failed = failures.filter((f) => f.scenario === scenario.name && f.broker === broker);
        return scenario.kind === 'idle'
          ? summarizeIdle(mine as IdleResult[], failed, broker)
          : summarizeThroughput(mine as ThroughputResult[], failed, broker);
      }),
  }));
}

function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–';
  return `${(a / b).toFixed(2)}×`;
}

function lossText(s: ThroughputSummary): string {
  if (s.runs === 0) return '–';
  const pct = s.expected > 0 ? (s.lost / s.expected) * 100 : 0;
  const base = s.lost === 0 ? '0' : `${fmt(s.lost)} (${pct.toFixed(3)} %)`;
  const unacked = s.unacked > 0 ? `, ${fmt(s.unacked)} unacked` : '';
  const dropped = s.dropped > 0 ? `, ${fmt(s.dropped)} connections closed by the broker` : '';
  const reasons = Object.entries(s.brokerDropped ?? {}).filter(([, n]) => n > 0);
  const said =
    reasons.length > 0
      ? ` (broker: ${reasons.map(([reason, n]) => `${fmt(n)} ${reason}`).join(', ')})`
      : '';
  return `${base}${said}${unacked}${dropped}`;
}

function machineLines(machine: Machine): string[] {
  const load = (l: number[]): string => l.map((v) => v.toFixed(2)).join(' / ');
  return [
    `- Date: ${machine.date}; command: \`${machine.command}\``,
    `- Machine: ${machine.cpus} CPUs (os.availableParallelism()), ${machine.cpuModel}; load average (1/5/15 min) ${load(machine.loadStart)} at start, ${load(machine.loadEnd)} at end`,
    `- Node ${machine.node}; ${Object.entries(machine.versions)
      .map(([k, v]) => `${LABEL[k] ?? k} ${v}`)
      .join(', ')}`,
    `- Load: ${machine.rate > 0 ? `${fmt(machine.rate)} messages per second over all publishers (below saturation)` : 'as much as the brokers take'}; in flight at most ${fmt(machine.qos0Window)} QoS 0 deliveries over all publishers, ${machine.window > 0 ? fmt(machine.window) : '100 (fan-in: 10)'} QoS 1/2 messages per publisher; ${machine.warmupS} s of warm-up before each measured run`,
    `- Medians of ${machine.runs} runs of ${machine.durationS} s per scenario and broker; payload ${machine.payloadSize} B; load generator: ${machine.workers} worker threads (idle scenario: child processes of at most 15,000 connections each); idle scenario: ${fmt(machine.idleConnections)} connections`,
  ];
}

/** Why Mosquitto did or did not reach a full core in one scenario. */
function verdict(m: ThroughputSummary, machine: Machine): string {
  if (!Number.isFinite(m.brokerCpuPct)) return '–';
  if (m.brokerCpuPct >= SATURATED_PCT) return 'yes';
  const others = m.machineBusyPct - m.brokerCpuPct - m.generatorCpuPct;
  if (m.machineBusyPct >= machine.cpus * 100 * 0.95) {
    return `no: the machine's ${machine.cpus} CPUs were full, other processes took ${fmt(others)} %`;
  }
  if (m.generatorCpuPct >= machine.workers * 100 * 0.9) return 'no: the generator was CPU-bound';
  return 'no: bound by round trips within the in-flight windows';
}

function saturationSection(throughput: ScenarioSummary[], machine: Machine): string[] {
  const lines = [
    '### Does the generator saturate Mosquitto?',
    '',
    `Two kinds of evidence. **Ceiling**: the same generator against the reflector (bench/reflector-broker.ts, a relay that copies each PUBLISH to every subscriber and answers the QoS flows, nothing else), in the same run; where it delivers well above Mosquitto, the generator had room to spare. **CPU** over the publishing window, in % of one core: the broker from /proc/<pid>/stat, the generator (harness and its worker threads) from process.cpuUsage(), the whole machine from /proc/stat (at most ${machine.cpus * 100} %). Mosquitto runs on one thread: at ${SATURATED_PCT} % of a core or more it is the bottleneck. The generator may use up to ${machine.workers * 100} % (${machine.workers} worker threads) but shares the ${machine.cpus} CPUs with the broker and whatever else runs. µs per delivery = CPU time / deliveries, for Mosquitto and for the generator in the same runs.`,
    '',
    '| scenario | Mosquitto msg/s | generator ceiling (reflector) msg/s | Mosquitto CPU | generator CPU | machine CPU | Mosquitto µs per delivery | generator µs per delivery | Mosquitto saturated |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const s of throughput) {
    const m = (s.brokers as ThroughputSummary[]).find((b) => b.broker === 'mosquitto');
    if (!m) continue;
    const r = (s.brokers as ThroughputSummary[]).find((b) => b.broker === 'reflector');
    const ceiling = r
      ? `${fmt(r.deliveredPerSecond)} (${ratio(r.deliveredPerSecond, m.deliveredPerSecond)})`
      : '–';
    const perDelivery = (pct: number): string => fmt((pct / 100) * (1e6 / m.deliveredPerSecond), 1);
    lines.push(
      `| ${s.name} | ${fmt(m.deliveredPerSecond)} | ${ceiling} | ${fmt(m.brokerCpuPct)} % | ${fmt(m.generatorCpuPct)} % | ${fmt(m.machineBusyPct)} % | ${perDelivery(m.brokerCpuPct)} | ${perDelivery(m.generatorCpuPct)} | ${verdict(m, machine)} |`,
    );
  }
  lines.push('');
  return lines;
}

export function markdown(
  summaries: ScenarioSummary[],
  machine: Machine,
  failures: Failure[],
): string {
  const title =
    machine.rate > 0
      ? `# Tandem MQTT benchmarks: latency at ${fmt(machine.rate)} messages per second`
      : '# Tandem MQTT benchmarks';
  const lines: string[] = [title, '', ...machineLines(machine), ''];
  const throughput = summaries.filter((s) => s.kind === 'throughput');
  if (throughput.length > 0) {
    lines.push(
      '## Throughput and latency',
      '',
      `Delivered messages per second count every PUBLISH received by a subscriber (a fan-out of 50 delivers each message 50 times). Latency is from the publisher writing a PUBLISH to a subscriber reading it, ${machine.rate > 0 ? `at ${fmt(machine.rate)} messages per second` : 'at full load (so mostly the in-flight window divided by the throughput, plus any queue the broker lets grow)'}. Loss is expected minus received deliveries, summed over the runs and their warm-ups; for QoS 1/2 only messages the broker acknowledged are expected. Broker and generator CPU are in % of one core.`,
      '',
      '| scenario | broker | delivered msg/s | p50 ms | p99 ms | lost | broker CPU | generator CPU |',
      '|---|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const s of throughput) {
      for (const b of s.brokers as ThroughputSummary[]) {
        lines.push(
          `| ${s.name} | ${LABEL[b.broker]} | ${b.runs === 0 ? 'failed' : fmt(b.deliveredPerSecond)} | ${fmt(b.p50Ms, 2)} | ${fmt(b.p99Ms, 2)} | ${lossText(b)} | ${fmt(b.brokerCpuPct)} % | ${fmt(b.generatorCpuPct)} % |`,
        );
      }
    }
    lines.push(
      '',
      '### Ratios',
      '',
      'Tandem divided by the peer: above 1× is better for messages per second, below 1× is better for latency.',
      '',
      '| scenario | msg/s Tandem/Mosquitto | msg/s Tandem/Aedes | p99 Tandem/Mosquitto | p99 Tandem/Aedes |',
      '|---|---:|---:|---:|---:|',
    );
    for (const s of throughput) {
      const by = new Map((s.brokers as ThroughputSummary[]).map((b) => [b.broker, b]));
      const t = by.get('tandem');
      const m = by.get('mosquitto');
      const a = by.get('aedes');
      lines.push(
        `| ${s.name} | ${ratio(t?.deliveredPerSecond ?? Number.NaN, m?.deliveredPerSecond ?? Number.NaN)} | ${ratio(t?.deliveredPerSecond ?? Number.NaN, a?.deliveredPerSecond ?? Number.NaN)} | ${ratio(t?.p99Ms ?? Number.NaN, m?.p99Ms ?? Number.NaN)} | ${ratio(t?.p99Ms ?? Number.NaN, a?.p99Ms ?? Number.NaN)} |`,
      );
    }
    lines.push('');
    if (machine.rate === 0) lines.push(...saturationSection(throughput, machine));
  }
  const idle = summaries.find((s) => s.kind === 'idle');
  if (idle) {
    lines.push(
      '## Idle connections',
      '',
      'Resident memory per connection = (broker VmRSS with the connections − VmRSS before them) / connections. The connections completed CONNECT (MQTT 3.1.1, Keep Alive 600 s, Clean Session) and sit idle. Each VmRSS is read after garbage collection: the Node brokers (Aedes, Tandem) run two full collections 6 s apart, the last one 2 s before the reading (V8 returns the young generation grown during the connection burst only at a collection that sees a low allocation rate, as the periodic collections of an idle process do); the "after" reading comes 3 s after the last CONNACK. "Before GC" reads VmRSS 1 s after the broker started and 3 s after the last CONNACK, with no collection: the garbage of the connection burst included. Goal for Tandem: at most 4 KB, after GC. A broker cannot hold more connections than its open-file limit: the harness tries at most that limit minus 100 (raise it with `ulimit -n`, see bench/README.md).',
      '',
      '| broker | connected / tried / requested | bytes per connection | before GC | connections/s | broker fd limit |',
      '|---|---:|---:|---:|---:|---:|',
    );
    for (const b of idle.brokers as IdleSummary[]) {
      lines.push(
        `| ${LABEL[b.broker]} | ${fmt(b.connected)} / ${fmt(b.attempted)} / ${fmt(b.requested)} | ${fmt(b.bytesPerConnection)} | ${fmt(b.bytesPerConnectionUncollected)} | ${fmt(b.connectPerSecond)} | ${fmt(b.brokerFdLimit)} |`,
      );
    }
    const m = (idle.brokers as IdleSummary[]).find((b) => b.broker === 'mosquitto');
    const a = (idle.brokers as IdleSummary[]).find((b) => b.broker === 'aedes');
    const t = (idle.brokers as IdleSummary[]).find((b) => b.broker === 'tandem');
    if (t) {
      lines.push(
        '',
        `Bytes per connection, Tandem/Mosquitto ${ratio(t.bytesPerConnection, m?.bytesPerConnection ?? Number.NaN)}, Tandem/Aedes ${ratio(t.bytesPerConnection, a?.bytesPerConnection ?? Number.NaN)} (below 1× is better).`,
      );
    }
    lines.push('');
  }
  if (failures.length > 0) {
    lines.push('## Failed runs', '');
    for (const f of failures)
      lines.push(
        `- ${f.scenario}, ${LABEL[f.broker] ?? f.broker}, run ${f.run}: ${f.error.split('\n')[0]}`,
      );
    lines.push('');
  }
  lines.push('Charts: one SVG per scenario beside this file.', '');
  return lines.join('\n');
}

function chartFor(summary: ScenarioSummary, machine: Machine): string {
  const note = `${machine.cpus} CPUs · load ${machine.loadStart.map((v) => v.toFixed(2)).join(' / ')} · median of ${machine.runs} runs · ${machine.date}`;
  if (summary.kind === 'idle') {
    return barChart({
      title: summary.title,
      unit: 'bytes of broker RSS per idle connection (lower is better)',
      note,
      summary: chartRatios(
        new Map((summary.brokers as IdleSummary[]).map((b) => [b.broker, b.bytesPerConnection])),
      ),
      bars: (summary.brokers as IdleSummary[]).map((b) => ({
        label: LABEL[b.broker] ?? b.broker,
        value: b.bytesPerConnection,
        detail: [`${fmt(b.connected)} connections`],
        color: COLOR[b.broker] ?? '#888',
      })),
      goal: { value: 4096, label: 'goal 4 KB' },
    });
  }
  // The reflector is the generator's ceiling, far above any broker: named, not drawn.
  const brokers = (summary.brokers as ThroughputSummary[]).filter((b) => b.broker !== 'reflector');
  const ceiling = (summary.brokers as ThroughputSummary[]).find((b) => b.broker === 'reflector');
  const ratios = chartRatios(new Map(brokers.map((b) => [b.broker, b.deliveredPerSecond])));
  const ceilingText = ceiling
    ? `generator ceiling (reflector) ${fmt(ceiling.deliveredPerSecond)} msg/s`
    : undefined;
  return barChart({
    title: summary.title,
    unit: 'delivered messages per second (higher is better)',
    note,
    summary: [ratios, ceilingText].filter((x) => x !== undefined).join(' · ') || undefined,
    bars: brokers.map((b) => ({
      label: LABEL[b.broker] ?? b.broker,
      color: COLOR[b.broker] ?? '#888',
      value: b.deliveredPerSecond,
      detail: [`p50 ${fmt(b.p50Ms, 2)} ms`, `p99 ${fmt(b.p99Ms, 2)} ms`, `lost ${fmt(b.lost)}`],
    })),
  });
}

/** Writes `<prefix>.md`, `<prefix>.json` and one `<prefix>-<scenario>.svg` per scenario. */
export function writeReport(
  dir: string,
  prefix: string,
  summaries: ScenarioSummary[],
  machine: Machine,
  results: RunResult[],
  failures: Failure[],
): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const write = (name: string, text: string): void => {
    writeFileSync(join(dir, name), text);
    written.push(join(dir, name));
  };
  write(`${prefix}.md`, markdown(summaries, machine, failures));
  write(
    `${prefix}.json`,
    `${JSON.stringify({ machine, scenarios: summaries, runs: results, failures }, null, 2)}\n`,
  );
  for (const summary of summaries) {
    write(`${prefix}-${summary.name}.svg`, chartFor(summary, machine));
  }
  return written;
}

export function writeResults(
  dir: string,
  prefix: string,
  summaries: ScenarioSummary[],
  machine: Machine,
  results: RunResult[],
  failures: Failure[],
): string[] {
  const written = writeReport(dir, prefix, summaries, machine, results, failures);
  mkdirSync(join(dir, 'raw'), { recursive: true });
  const stamp = machine.date.replace(/[:.]/g, '-');
  writeFileSync(
    join(dir, 'raw', `${prefix}-${stamp}.json`),
    `${JSON.stringify({ machine, results, failures }, null, 2)}\n`,
  );
  return written;
}
