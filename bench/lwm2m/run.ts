/**
 * CoAP and LwM2M benchmark: request rate of a raw dgram echo (the physical limit on this
 * machine), of the npm `coap` server and of Tandem's CoAP endpoint; LwM2M registrations and
 * notifications (confirmable and non-confirmable) ingested per second by the whole Tandem
 * server as `tandem start` runs it (decoded with the object model, `notification` events,
 * telemetry stored in SQLite, the MQTT bridge); memory per registered device.
 *
 *   node --import tsx bench/lwm2m/run.ts [row...] [--runs N] [--duration S] [--devices N]
 *     [--out DIR] [--profile DIR] [--telemetry-worker true|false]
 *
 * A row word (`echo`, `notify`...) selects the rows whose name contains it; without one, all
 * rows and the memory figure. `--profile DIR` writes a V8 CPU profile of every target process
 * there (`node --cpu-prof`). `--telemetry-worker false` runs the whole server with
 * `storage.telemetryWorker` off (telemetry written on the main thread). Writes lwm2m.md, lwm2m.json and lwm2m.svg to bench/results (or
 * --out).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generate } from 'coap-packet';
import { atExit, killAll, track } from '../cleanup.js';
import { processCpuSeconds, selfCpuSeconds } from '../proc-stats.js';
import { barChart } from '../svg-chart.js';
import {
  closeSockets,
  type LoadResult,
  openSockets,
  runCountedLoad,
  runLoad,
  stamp,
} from './load.js';
import type { TargetCommand, TargetName, TargetReply } from './targets.js';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    devices: { type: 'string', default: '100000' },
    sockets: { type: 'string', default: '64' },
    window: { type: 'string', default: '8' },
    out: { type: 'string', default: join(import.meta.dirname, '..', 'results') },
    profile: { type: 'string' },
    'telemetry-worker': { type: 'string', default: 'true' },
  },
});
const RUNS = Number(args.runs);
const DURATION_MS = Number(args.duration) * 1000;
const SOCKETS = Number(args.sockets);
const WINDOW = Number(args.window);

// RFC 7252 §3: ver 1, CON, TKL 4 (0x44); GET (0x01); message ID; token; Uri-Path "x" (0xB1 'x').
const GET_X = Buffer.from([0x44, 0x01, 0, 0, 0, 0, 0, 0, 0xb1, 0x78]);
const CONTENT = 0x45;
const CREATED = 0x41;
const ACK_EMPTY = (b: Buffer) => b[0] === 0x60 && b[1] === 0;

interface Target {
  child: ChildProcess;
  port: number;
  ask(command: TargetCommand): Promise<TargetReply>;
  cpu(): number;
  stop(): Promise<void>;
}

async function startTarget(name: TargetName): Promise<Target> {
  const profile = args.profile ? ['--cpu-prof', '--cpu-prof-dir', args.profile] : [];
  // The whole server's data directory (its SQLite store), removed with the target.
  const dataDir = name === 'tandem' ? mkdtempSync(join(tmpdir(), 'tandem-bench-lwm2m-')) : '';
  const removeDataDir = dataDir ? atExit(() => rmSync(dataDir, { recursive: true })) : () => {};
  const worker = args['telemetry-worker'] === 'false' ? 'false' : 'true';
  const child = fork(join(import.meta.dirname, 'targets.ts'), [name, dataDir, worker], {
    execArgv: ['--import', 'tsx', '--expose-gc', ...profile],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  track(child);
  const [first] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`target ${name} exited (${code}) before listening`);
    }),
  ])) as [{ port: number }];
  return {
    child,
    port: first.port,
    ask: async (command) => {
      child.send(command);
      const [reply] = (await once(child, 'message')) as [TargetReply];
      return reply;
    },
    cpu: () => processCpuSeconds(child.pid!),
    stop: async () => {
      // SIGTERM lets a profiled target write its profile on the way out.
      child.kill(args.profile ? 'SIGTERM' : 'SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      removeDataDir();
      if (dataDir) rmSync(dataDir, { recursive: true });
    },
  };
}

interface Measured extends LoadResult {
  targetCpu: number;
  generatorCpu: number;
}

async function measure(target: Target, fn: () => Promise<LoadResult>): Promise<Measured> {
  const cpu0 = target.cpu();
  const self0 = selfCpuSeconds();
  const r = await fn();
  return {
    ...r,
    targetCpu: (target.cpu() - cpu0) / r.seconds,
    generatorCpu: (selfCpuSeconds() - self0) / r.seconds,
  };
}

/** GET /x against a server that answers 2.05 (or echoes). */
async function requests(name: TargetName): Promise<Measured> {
  const target = await startTarget(name);
  const sockets = await openSockets(SOCKETS);
  try {
    let token = 0;
    return await measure(target, () =>
      runLoad({
        port: target.port,
        sockets,
        window: WINDOW,
        durationMs: DURATION_MS,
        next: (_i, mid) => stamp(Buffer.from(GET_X), mid, token++),
        counts: (b) => name === 'echo' || b[1] === CONTENT,
      }),
    );
  } finally {
    closeSockets(sockets);
    await target.stop();
  }
}

function registerDatagram(ep: string, mid: number): Buffer {
  return generate({
    messageId: mid,
    token: Buffer.from([0, 0, 0, 0]),
    code: '0.02',
    confirmable: true,
    options: [
      { name: 'Uri-Path', value: Buffer.from('rd') },
      { name: 'Content-Format', value: Buffer.from([40]) },
      ...[`ep=${ep}`, 'lt=86400', 'lwm2m=1.1', 'b=U'].map((q) => ({
        name: 'Uri-Query' as const,
        value: Buffer.from(q),
      })),
    ],
    payload: Buffer.from('</1/0>,</3/0>,</4/0>,</3303/0>'),
  });
}

/** Register (POST /rd) of new endpoint names, counted by their 2.01 Created. */
async function registrations(): Promise<Measured> {
  const target = await startTarget('tandem-lwm2m');
  const sockets = await openSockets(SOCKETS);
  // Encoded before the clock starts, so that the generator only sends.
  const ready = Array.from({ length: 400_000 }, (_, n) => registerDatagram(`bench-${n}`, 0));
  let n = 0;
  try {
    return await measure(target, () =>
      runLoad({
        port: target.port,
        sockets,
        window: WINDOW,
        durationMs: DURATION_MS,
        next: (_i, mid) => stamp(ready[n] ?? registerDatagram(`bench-${n}`, 0), mid, n++),
        counts: (b) => b[1] === CREATED,
      }),
    );
  } finally {
    closeSockets(sockets);
    await target.stop();
  }
}

/**
 * Notifications ingested by the whole server (`tandem` target): each socket is a registered
 * device that the server observes (/3303/0/5700); the device then sends 2.05 notifications
 * with increasing Observe numbers (RFC 7641 §4.2), text/plain. Confirmable ones are counted by
 * the server's empty ACKs (RFC 7252 §4.2) and checked against the server's own count of
 * `notification` events; non-confirmable ones (no answer on the wire, RFC 7252 §4.3) by that
 * count. The telemetry rows the server stored are counted too.
 */
async function notifications(
  confirmable: boolean,
  server: 'tandem' | 'tandem-lwm2m' = 'tandem',
): Promise<Measured & { serverCounted: number; stored: number }> {
  const target = await startTarget(server);
  const sockets = await openSockets(SOCKETS);
  const tokens = new Array<Buffer>(SOCKETS);
  const seq = new Array<number>(SOCKETS).fill(2);
  try {
    // Register every device (one per socket) and answer the server's Observe GET.
    await Promise.all(
      sockets.map(
        (socket, i) =>
          new Promise<void>((resolve) => {
            socket.on('message', function onMessage(msg) {
              if (msg[1] === CREATED) return resolve();
              if ((msg[0]! & 0x30) === 0 && msg[1] === 0x01) {
                // The server's confirmable GET with Observe=0: piggy-back 2.05, Observe=1.
                const tkl = msg[0]! & 0x0f;
                tokens[i] = msg.subarray(4, 4 + tkl);
                const answer = Buffer.concat([
                  Buffer.from([0x60 | tkl, CONTENT, msg[2]!, msg[3]!]),
                  tokens[i]!,
                  Buffer.from([0x61, 0x01, 0x60, 0xff]),
                  Buffer.from('21.5'),
                ]);
                socket.send(answer, target.port, '127.0.0.1');
                socket.off('message', onMessage);
              }
            });
            socket.send(
              stamp(registerDatagram(`notify-${i}`, 0), i + 1, i),
              target.port,
              '127.0.0.1',
            );
          }),
      ),
    );
    const observing = await target.ask({
      cmd: 'observe',
      path: '/3303/0/5700',
      endpoints: sockets.map((_, i) => `notify-${i}`),
    });
    if (!('observing' in observing) || observing.observing !== SOCKETS) {
      throw new Error(`observations not all established: ${JSON.stringify(observing)}`);
    }
    const counters = async (stored = false) => {
      const reply = await target.ask({ cmd: 'counters', stored });
      if (!('notifications' in reply)) throw new Error('no counters');
      return reply;
    };
    const before = await counters(true);
    // CON or NON 2.05 (RFC 7252 §3), Observe (3 bytes), Content-Format 0 (text/plain), payload;
    // encoded once per device, each notification a copy with its message ID and Observe value.
    const type = confirmable ? 0x40 : 0x50;
    const templates = tokens.map((token) =>
      Buffer.concat([
        Buffer.from([type | token.length, CONTENT, 0, 0]),
        token,
        Buffer.from([0x63, 0, 0, 0, 0x60, 0xff]),
        Buffer.from('21.5'),
      ]),
    );
    const next = (i: number, mid: number) => {
      const template = templates[i]!;
      const s = seq[i]!;
      seq[i] = (s + 1) & 0xffffff;
      const datagram = Buffer.allocUnsafe(template.length);
      template.copy(datagram);
      datagram[2] = mid >> 8;
      datagram[3] = mid & 0xff;
      const observe = 5 + tokens[i]!.length;
      datagram[observe] = s >> 16;
      datagram[observe + 1] = (s >> 8) & 0xff;
      datagram[observe + 2] = s & 0xff;
      return datagram;
    };
    const common = { port: target.port, sockets, durationMs: DURATION_MS, next };
    const result = await measure(target, () =>
      confirmable
        ? runLoad({ ...common, window: WINDOW, counts: ACK_EMPTY })
        : runCountedLoad({
            ...common,
            budget: SOCKETS * WINDOW,
            taken: async () => (await counters()).notifications,
          }),
    );
    const after = await counters(true);
    return {
      ...result,
      serverCounted: after.notifications - before.notifications,
      stored: after.telemetryRows - before.telemetryRows,
    };
  } finally {
    closeSockets(sockets);
    await target.stop();
  }
}

async function memory(devices: number) {
  const target = await startTarget('tandem-lwm2m');
  try {
    const reply = await target.ask({ cmd: 'memory', devices });
    if (!('memory' in reply)) throw new Error('no memory figure');
    return reply.memory;
  } finally {
    await target.stop();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** The rows of the table, in order, with how each is measured. */
const ROWS: Record<string, () => Promise<Measured>> = {
  echo: () => requests('echo'),
  'coap-npm': () => requests('coap-npm'),
  'tandem-coap': () => requests('tandem-coap'),
  'tandem-register': registrations,
  'tandem-notify': () => notifications(true),
  'tandem-notify-non': () => notifications(false),
  'lwm2m-notify': () => notifications(true, 'tandem-lwm2m'),
};

async function main(): Promise<void> {
  const chosen = Object.keys(ROWS).filter(
    (k) => positionals.length === 0 || positionals.some((w) => k.includes(w)),
  );
  if (chosen.length === 0) throw new Error(`no row matches ${positionals.join(' ')}`);
  const samples: Record<string, Measured[]> = Object.fromEntries(chosen.map((k) => [k, []]));
  /** Per notification row: counted as `notification` events and stored as telemetry rows. */
  const ingest: Record<string, { counted: number; stored: number }> = {};
  for (let run = 0; run < RUNS; run++) {
    for (const k of chosen) {
      const m = await ROWS[k]!();
      samples[k]!.push(m);
      if ('serverCounted' in m) {
        const n = m as Measured & { serverCounted: number; stored: number };
        const sum = ingest[k] ?? { counted: 0, stored: 0 };
        sum.counted += n.serverCounted;
        sum.stored += n.stored;
        ingest[k] = sum;
      }
    }
    console.error(`run ${run + 1}/${RUNS} done`);
  }
  const mem = positionals.length === 0 ? await memory(Number(args.devices)) : undefined;
  const rate = (k: string) => (samples[k] ? median(samples[k].map((m) => m.rate)) : Number.NaN);
  const cpu = (k: string, f: 'targetCpu' | 'generatorCpu') => median(samples[k]!.map((m) => m[f]));
  const rows = chosen.map((k) => ({
    name: k,
    rate: Math.round(rate(k)),
    targetCpu: Number(cpu(k, 'targetCpu').toFixed(2)),
    generatorCpu: Number(cpu(k, 'generatorCpu').toFixed(2)),
    loss: samples[k]!.reduce((a, m) => a + (m.sent - m.answered), 0),
  }));
  const ratios = {
    notifyVsNpmCoap: rate('tandem-notify') / rate('coap-npm'),
    notifyVsEcho: rate('tandem-notify') / rate('echo'),
    notifyNonVsNpmCoap: rate('tandem-notify-non') / rate('coap-npm'),
    notifyNonVsEcho: rate('tandem-notify-non') / rate('echo'),
    serverNotifyVsNpmCoap: rate('lwm2m-notify') / rate('coap-npm'),
    serverNotifyVsEcho: rate('lwm2m-notify') / rate('echo'),
    coapVsNpmCoap: rate('tandem-coap') / rate('coap-npm'),
    registerVsNpmCoap: rate('tandem-register') / rate('coap-npm'),
  };
  const machine = { cpus: availableParallelism(), loadavg: loadavg().map((l) => l.toFixed(2)) };
  const notifyAcked = samples['tandem-notify']?.reduce((a, m) => a + m.answered, 0);
  const result = {
    date: new Date().toISOString(),
    machine,
    settings: { runs: RUNS, durationS: DURATION_MS / 1000, sockets: SOCKETS, window: WINDOW },
    rows,
    ratios,
    memory: mem,
    notificationsAckedVsCounted: { acked: notifyAcked, ...ingest['tandem-notify'] },
    nonConfirmableIngest: ingest['tandem-notify-non'],
  };
  const ratio = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(2));
  mkdirSync(args.out!, { recursive: true });
  writeFileSync(join(args.out!, 'lwm2m.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    '# CoAP and LwM2M benchmark',
    '',
    `${machine.cpus} CPUs, load average ${machine.loadavg.join(' ')} at the end; ${RUNS} runs of ${DURATION_MS / 1000} s, medians; ${SOCKETS} client sockets × ${WINDOW} requests in flight.`,
    'CPU columns: cores used by the target process and by the load generator (same machine).',
    '',
    'What answers: `echo` a raw node:dgram echo; `coap-npm` the npm `coap` server answering 2.05;',
    "`tandem-coap` Tandem's CoAP endpoint answering 2.05; `tandem-register` Tandem's LwM2M server",
    'alone taking Registers of new endpoints (2.01); `tandem-notify` and `tandem-notify-non` the',
    `whole Tandem server as \`tandem start\` runs it (${args['telemetry-worker'] === 'false' ? 'default settings but `storage.telemetryWorker: false`' : 'default settings, telemetry written by the worker thread'}, SQLite store), ingesting`,
    'confirmable (each acknowledged with an empty ACK) and non-confirmable 2.05 notifications of',
    '64 observed devices: decoded with the object model, emitted as `notification` events,',
    'stored as telemetry and published by the MQTT bridge (no subscriber). The NON row counts the',
    "server's `notification` events, with at most sockets × window notifications outstanding.",
    '`lwm2m-notify`: the same confirmable notifications to the LwM2M server alone (CoAP endpoint,',
    'decoding, `notification` events; no telemetry, no bridge): the protocol layers without storage.',
    '',
    '| target | answers/s | target CPU | generator CPU | unanswered (all runs) |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.rate.toLocaleString('en')} | ${r.targetCpu} | ${r.generatorCpu} | ${r.loss} |`,
    ),
    '',
    '| ratio | value | goal |',
    '|---|---:|---|',
    `| Tandem CON notifications ingested / npm coap requests | ${ratio(ratios.notifyVsNpmCoap)} | ≥ 2 |`,
    `| Tandem CON notifications ingested / raw dgram echo | ${ratio(ratios.notifyVsEcho)} | ≥ 0.5 |`,
    `| Tandem NON notifications ingested / npm coap requests | ${ratio(ratios.notifyNonVsNpmCoap)} | |`,
    `| Tandem NON notifications ingested / raw dgram echo | ${ratio(ratios.notifyNonVsEcho)} | |`,
    `| LwM2M server alone, CON notifications / npm coap requests | ${ratio(ratios.serverNotifyVsNpmCoap)} | |`,
    `| LwM2M server alone, CON notifications / raw dgram echo | ${ratio(ratios.serverNotifyVsEcho)} | |`,
    `| Tandem CoAP requests / npm coap requests | ${ratio(ratios.coapVsNpmCoap)} | |`,
    `| Tandem LwM2M registrations / npm coap requests | ${ratio(ratios.registerVsNpmCoap)} | |`,
    '',
    ...(mem
      ? [
          `Memory per registered device (${mem.devices.toLocaleString('en')} registrations in one process, LwM2M server state): ${mem.heapBytesPerDevice} B of heap, ${mem.rssBytesPerDevice} B of RSS.`,
        ]
      : []),
    ...Object.entries(ingest).map(
      ([k, v]) =>
        `${k}: ${k === 'tandem-notify' ? `acknowledged by the server's endpoint ${notifyAcked}; ` : ''}counted as \`notification\` events ${v.counted}; telemetry rows stored ${v.stored}.`,
    ),
    '',
  ].join('\n');
  writeFileSync(join(args.out!, 'lwm2m.md'), md);
  writeFileSync(
    join(args.out!, 'lwm2m.svg'),
    barChart({
      title: 'CoAP requests and LwM2M ingest per second',
      unit: 'per second',
      note: `${machine.cpus} CPUs; medians of ${RUNS} × ${DURATION_MS / 1000} s`,
      summary: `CON notify / npm coap = ${ratio(ratios.notifyVsNpmCoap)}, CON notify / echo = ${ratio(ratios.notifyVsEcho)}`,
      bars: rows.map((r) => ({
        label: r.name,
        value: r.rate,
        detail: [`CPU ${r.targetCpu}`],
        color: COLORS[r.name]!,
      })),
    }),
  );
  process.stdout.write(md);
}

const COLORS: Record<string, string> = {
  echo: '#999',
  'coap-npm': '#c77',
  'tandem-coap': '#4a7',
  'tandem-register': '#27a',
  'tandem-notify': '#16c',
  'tandem-notify-non': '#5ad',
  'lwm2m-notify': '#7ae',
};

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => killAll());
