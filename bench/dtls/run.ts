/**
 * DTLS 1.2 benchmark: full PSK handshakes (TLS_PSK_WITH_AES_128_CCM_8, cookie exchange
 * included) and ECDHE-ECDSA handshakes (raw public keys, RFC 7250) per second on one server
 * process, protected records per second through established sessions, and our client against
 * `openssl s_server` beside our client against our server.
 *
 *   node --import tsx bench/dtls/run.ts [--runs N] [--duration S] [--generators N]
 *                                      [--sockets N] [--window N] [--out DIR] [--only psk,rpk]
 *
 * Writes dtls.md, dtls.json and dtls.svg to bench/results (or --out).
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { killAll, track } from '../cleanup.js';
import { processCpuSeconds } from '../proc-stats.js';
import { barChart } from '../svg-chart.js';
import {
  BENCH_PSK,
  type GeneratorResult,
  type GeneratorRun,
  type ServerStatsReply,
} from './protocol.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    generators: { type: 'string', default: '3' },
    sockets: { type: 'string', default: '16' },
    window: { type: 'string', default: '4' },
    out: { type: 'string', default: join(import.meta.dirname, '..', 'results') },
    /** Comma-separated scenario keys to run (trials); the report needs all of them. */
    only: { type: 'string' },
  },
});
const RUNS = Number(args.runs);
const DURATION_MS = Number(args.duration) * 1000;
const GENERATORS = Number(args.generators);
const SOCKETS = Number(args.sockets);
const WINDOW = Number(args.window);

interface Server {
  pid: number;
  port: number;
  stats(): Promise<ServerStatsReply | undefined>;
  stop(): void;
}

/** Our DTLS server (bench/dtls/server.ts) in a child process. */
async function ourServer(): Promise<Server> {
  const child = fork(join(import.meta.dirname, 'server.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  track(child);
  const [first] = (await once(child, 'message')) as [{ port: number }];
  return {
    pid: child.pid!,
    port: first.port,
    stats: async () => {
      child.send({ cmd: 'stats' });
      const [reply] = (await once(child, 'message')) as [ServerStatsReply];
      return reply;
    },
    stop: () => child.kill('SIGKILL'),
  };
}

function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  return new Promise((resolve) =>
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    }),
  );
}

/**
 * `openssl s_server -dtls1_2 -psk ... -nocert -cipher PSK-AES128-CCM8`: one connection at a
 * time, cookie exchange on (s_server sets SSL_OP_COOKIE_EXCHANGE for DTLS).
 */
async function opensslServer(): Promise<Server> {
  const port = await freeUdpPort();
  const child = spawn(
    'openssl',
    [
      's_server',
      '-dtls1_2',
      '-accept',
      `127.0.0.1:${port}`,
      '-psk',
      BENCH_PSK.toString('hex'),
      '-psk_identity',
      'bench',
      '-nocert',
      '-cipher',
      'PSK-AES128-CCM8',
    ],
    // stdin stays open (EOF would end its connection); stdout is drained so it never blocks.
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  track(child);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('ACCEPT')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('exit', (code) => reject(new Error(`openssl s_server exited ${code}: ${out}`)));
  });
  return {
    pid: child.pid!,
    port,
    stats: async () => undefined,
    stop: () => child.kill('SIGKILL'),
  };
}

interface Generator {
  child: ChildProcess;
  run(run: GeneratorRun): Promise<GeneratorResult>;
}

async function generators(n: number): Promise<Generator[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const child = fork(join(import.meta.dirname, 'generator.ts'), [], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      track(child);
      await once(child, 'message'); // ready
      return {
        child,
        run: async (run: GeneratorRun) => {
          child.send(run);
          const [result] = (await once(child, 'message')) as [GeneratorResult];
          return result;
        },
      };
    }),
  );
}

interface Sample {
  rate: number;
  failures: number;
  /** Cores used by the server process and by all generator processes over the window. */
  serverCpu: number;
  generatorCpu: number;
}

async function measure(
  server: Server,
  gens: Generator[],
  run: Omit<GeneratorRun, 'cmd' | 'port'>,
): Promise<Sample> {
  const cpu = () => ({
    server: processCpuSeconds(server.pid),
    generators: gens.reduce((sum, g) => sum + processCpuSeconds(g.child.pid!), 0),
  });
  const before = cpu();
  const t0 = performance.now();
  const results = await Promise.all(
    gens.map((g) => g.run({ cmd: 'run', port: server.port, ...run })),
  );
  const wall = (performance.now() - t0) / 1000;
  const after = cpu();
  const seconds = Math.max(...results.map((r) => r.seconds));
  return {
    rate: results.reduce((sum, r) => sum + r.done, 0) / seconds,
    failures: results.reduce((sum, r) => sum + r.failures, 0),
    serverCpu: (after.server - before.server) / wall,
    generatorCpu: (after.generators - before.generators) / wall,
  };
}

const SCENARIOS = [
  { key: 'psk', label: 'PSK handshakes/s', peer: 'ours' },
  { key: 'rpk', label: 'ECDHE-ECDSA (RPK) handshakes/s', peer: 'ours' },
  { key: 'records', label: 'echoed records/s (PSK, CCM_8)', peer: 'ours' },
  { key: 'sequential-ours', label: 'sequential PSK handshakes/s, our server', peer: 'ours' },
  { key: 'sequential-openssl', label: 'sequential PSK handshakes/s, openssl', peer: 'openssl' },
] as const;
type ScenarioKey = (typeof SCENARIOS)[number]['key'];

async function scenario(key: ScenarioKey): Promise<Sample & { serverStats?: ServerStatsReply }> {
  const server = key === 'sequential-openssl' ? await opensslServer() : await ourServer();
  // The sequential comparison uses one client: s_server serves one connection at a time.
  const gens = await generators(key.startsWith('sequential') ? 1 : GENERATORS);
  try {
    const mode: GeneratorRun['mode'] = key.startsWith('sequential')
      ? 'sequential'
      : (key as 'psk' | 'rpk' | 'records');
    const sample = await measure(server, gens, {
      mode,
      sockets: SOCKETS,
      window: WINDOW,
      durationMs: DURATION_MS,
    });
    const serverStats = await server.stats();
    return serverStats ? { ...sample, serverStats } : sample;
  } finally {
    for (const g of gens) g.child.kill('SIGKILL');
    server.stop();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const samples = Object.fromEntries(SCENARIOS.map((s) => [s.key, [] as Sample[]])) as Record<
    ScenarioKey,
    Sample[]
  >;
  let lastStats: Partial<Record<ScenarioKey, ServerStatsReply>> = {};
  for (let run = 0; run < RUNS; run++) {
    for (const s of SCENARIOS) {
      if (args.only && !args.only.split(',').includes(s.key)) continue;
      const { serverStats, ...sample } = await scenario(s.key);
      samples[s.key].push(sample);
      if (serverStats) lastStats = { ...lastStats, [s.key]: serverStats };
      console.error(
        `run ${run + 1}/${RUNS} ${s.key}: ${Math.round(sample.rate)}/s, server CPU ${sample.serverCpu.toFixed(2)}, generators CPU ${sample.generatorCpu.toFixed(2)}, failures ${sample.failures}`,
      );
    }
  }
  if (args.only) return; // a trial: the per-run lines above are its output
  const rows = SCENARIOS.map((s) => ({
    name: s.key,
    label: s.label,
    server: s.peer === 'openssl' ? 'openssl s_server' : 'Tandem src/dtls',
    rate: Math.round(median(samples[s.key].map((m) => m.rate))),
    serverCpu: Number(median(samples[s.key].map((m) => m.serverCpu)).toFixed(2)),
    generatorCpu: Number(median(samples[s.key].map((m) => m.generatorCpu)).toFixed(2)),
    // Per run, then the median: the machine's load changes between runs.
    perServerCore: Math.round(
      median(samples[s.key].map((m) => m.rate / Math.max(m.serverCpu, 0.01))),
    ),
    failures: samples[s.key].reduce((sum, m) => sum + m.failures, 0),
    runs: samples[s.key].map((m) => Math.round(m.rate)),
  }));
  const row = (k: ScenarioKey) => rows.find((r) => r.name === k)!;
  const perCore = (k: ScenarioKey) => row(k).perServerCore;
  // The two sequential rows of one run ran back to back: compare them pairwise.
  const pairs = samples['sequential-ours'].map(
    (m, i) => m.rate / samples['sequential-openssl'][i]!.rate,
  );
  const ratios = {
    sequentialOursVsOpenssl: median(pairs),
    sequentialOursVsOpensslRuns: pairs.map((r) => Number(r.toFixed(2))),
    pskGoal: row('psk').rate / 3000,
    pskPerServerCoreGoal: row('psk').perServerCore / 3000,
  };
  const machine = { cpus: availableParallelism(), loadavg: loadavg().map((l) => l.toFixed(2)) };
  const result = {
    date: new Date().toISOString(),
    machine,
    settings: {
      runs: RUNS,
      durationS: DURATION_MS / 1000,
      generators: GENERATORS,
      socketsPerGenerator: SOCKETS,
      windowPerSession: WINDOW,
    },
    rows,
    ratios,
    serverStatsOfLastRun: lastStats,
  };
  mkdirSync(args.out!, { recursive: true });
  writeFileSync(join(args.out!, 'dtls.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    '# DTLS 1.2 benchmark',
    '',
    `${machine.cpus} CPUs shared with other work, load average ${machine.loadavg.join(' ')} at the end; ${RUNS} runs of ${DURATION_MS / 1000} s, medians.`,
    `Server: one process (\`bench/dtls/server.ts\`, Tandem's \`DtlsServerTransport\`, echoing application data) or \`openssl s_server\`, on 127.0.0.1 over UDP. Clients: our \`DtlsClient\` in ${GENERATORS} generator processes × ${SOCKETS} sockets (the sequential rows: one process, one handshake at a time).`,
    'CPU columns: cores used over the window by the server process and by all generator processes, from /proc/<pid>/stat; "per server core" is each run\'s rate divided by the server CPU of that run (median), the figure that matters on a shared machine where the server does not get a whole core.',
    '',
    '| scenario | server | per second | server CPU | per server core | generators CPU | failures (all runs) | runs |',
    '|---|---|---:|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.server} | ${r.rate.toLocaleString('en')} | ${r.serverCpu} | ${Math.round(perCore(r.name as ScenarioKey)).toLocaleString('en')} | ${r.generatorCpu} | ${r.failures} | ${r.runs.join(', ')} |`,
    ),
    '',
    '| ratio | value | goal |',
    '|---|---:|---|',
    `| PSK handshakes/s / 3,000 (issue 5) | ${ratios.pskGoal.toFixed(2)} | ≥ 1 |`,
    `| PSK handshakes per server core-second / 3,000 | ${ratios.pskPerServerCoreGoal.toFixed(2)} | ≥ 1 |`,
    `| sequential PSK handshakes/s: our server / openssl s_server (same client, per run: ${ratios.sequentialOursVsOpensslRuns.join(', ')}) | ${ratios.sequentialOursVsOpenssl.toFixed(2)} | |`,
    '',
    'A full handshake is ClientHello, HelloVerifyRequest, ClientHello with cookie, the server flight, the client flight and the server\'s Finished (RFC 6347 §4.2.1); the concurrent scenarios reuse each client socket, so the server replaces the previous association of that address (RFC 6347 §4.2.8) instead of receiving close_notify. The sequential rows end each handshake with close_notify from a fresh socket, because `openssl s_server` serves one DTLS connection at a time; they measure the round trips of one client as much as the servers, so their ratio is the comparison, not their rate. "echoed records/s" counts echoes (one protected record each way).',
    '',
  ].join('\n');
  writeFileSync(join(args.out!, 'dtls.md'), md);
  writeFileSync(
    join(args.out!, 'dtls.svg'),
    barChart({
      title: 'DTLS 1.2 full handshakes on one server process',
      unit: 'handshakes per second (medians)',
      note: `${machine.cpus} CPUs; ${RUNS} × ${DURATION_MS / 1000} s; clients: our DtlsClient`,
      summary: `PSK: ${row('psk').perServerCore.toLocaleString('en')} handshakes per server core-second (goal 3,000); sequential ours / openssl = ${ratios.sequentialOursVsOpenssl.toFixed(2)}`,
      goal: { value: 3000, label: 'goal: 3,000 PSK handshakes/s' },
      // Handshakes only: the records rate (in the table) is an order of magnitude higher.
      bars: (['psk', 'rpk', 'sequential-ours', 'sequential-openssl'] as const).map((k, i) => ({
        label: ['PSK', 'ECDHE-ECDSA (RPK)', 'PSK, 1 client', 'PSK, 1 client, openssl'][i]!,
        value: row(k).rate,
        detail: [
          `server CPU ${row(k).serverCpu}`,
          `${row(k).perServerCore.toLocaleString('en')} per core`,
        ],
        color: ['#27a', '#4a7', '#27a', '#c77'][i]!,
      })),
    }),
  );
  process.stdout.write(md);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => killAll());
