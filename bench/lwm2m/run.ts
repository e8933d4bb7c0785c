/**
 * CoAP and LwM2M benchmark: request rate of a raw dgram echo (the physical limit on this
 * machine), of the npm `coap` server and of Tandem's CoAP endpoint; LwM2M registrations and
 * notifications ingested per second by Tandem's LwM2M server; memory per registered device.
 *
 *   node --import tsx bench/lwm2m/run.ts [--runs N] [--duration S] [--devices N] [--out DIR]
 *
 * Writes lwm2m.md, lwm2m.json and lwm2m.svg to bench/results (or --out).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generate } from 'coap-packet';
import { killAll, track } from '../cleanup.js';
import { processCpuSeconds, selfCpuSeconds } from '../proc-stats.js';
import { barChart } from '../svg-chart.js';
import { closeSockets, type LoadResult, openSockets, runLoad, stamp } from './load.js';
import type { TargetCommand, TargetName, TargetReply } from './targets.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    devices: { type: 'string', default: '100000' },
    sockets: { type: 'string', default: '64' },
    window: { type: 'string', default: '8' },
    out: { type: 'string', default: join(import.meta.dirname, '..', 'results') },
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
  stop(): void;
}

async function startTarget(name: TargetName): Promise<Target> {
  const child = fork(join(import.meta.dirname, 'targets.ts'), [name], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  track(child);
  const [first] = (await once(child, 'message')) as [{ port: number }];
  return {
    child,
    port: first.port,
    ask: async (command) => {
      child.send(command);
      const [reply] = (await once(child, 'message')) as [TargetReply];
      return reply;
    },
    cpu: () => processCpuSeconds(child.pid!),
    stop: () => child.kill('SIGKILL'),
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
    target.stop();
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
    target.stop();
  }
}

/**
 * Notifications ingested: each socket is a registered device that the server observes
 * (/3303/0/5700); the device then sends confirmable 2.05 notifications with increasing Observe
 * numbers (RFC 7641 §4.2), counted by the server's empty ACKs and checked against the
 * server's own count of `notification` events.
 */
async function notifications(): Promise<Measured & { serverCounted: number }> {
  const target = await startTarget('tandem-lwm2m');
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
    const before = (await target.ask({ cmd: 'counters' })) as { notifications: number };
    const result = await measure(target, () =>
      runLoad({
        port: target.port,
        sockets,
        window: WINDOW,
        durationMs: DURATION_MS,
        next: (i, mid) => {
          const token = tokens[i]!;
          const s = seq[i]!;
          seq[i] = (s + 1) & 0xffffff;
          // CON 2.05, Observe (3 bytes), Content-Format 0 (text/plain), payload.
          return Buffer.concat([
            Buffer.from([0x40 | token.length, CONTENT, mid >> 8, mid & 0xff]),
            token,
            Buffer.from([0x63, s >> 16, (s >> 8) & 0xff, s & 0xff, 0x60, 0xff]),
            Buffer.from('21.5'),
          ]);
        },
        counts: ACK_EMPTY,
      }),
    );
    const after = (await target.ask({ cmd: 'counters' })) as { notifications: number };
    return { ...result, serverCounted: after.notifications - before.notifications };
  } finally {
    closeSockets(sockets);
    target.stop();
  }
}

async function memory(devices: number) {
  const target = await startTarget('tandem-lwm2m');
  try {
    const reply = await target.ask({ cmd: 'memory', devices });
    if (!('memory' in reply)) throw new Error('no memory figure');
    return reply.memory;
  } finally {
    target.stop();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const samples: Record<string, Measured[]> = {
    echo: [],
    'coap-npm': [],
    'tandem-coap': [],
    'tandem-register': [],
    'tandem-notify': [],
  };
  let serverCounted = 0;
  for (let run = 0; run < RUNS; run++) {
    for (const name of ['echo', 'coap-npm', 'tandem-coap'] as const) {
      samples[name]!.push(await requests(name));
    }
    samples['tandem-register']!.push(await registrations());
    const notify = await notifications();
    serverCounted += notify.serverCounted;
    samples['tandem-notify']!.push(notify);
    console.error(`run ${run + 1}/${RUNS} done`);
  }
  const mem = await memory(Number(args.devices));
  const rate = (k: string) => median(samples[k]!.map((m) => m.rate));
  const cpu = (k: string, f: 'targetCpu' | 'generatorCpu') => median(samples[k]!.map((m) => m[f]));
  const rows = Object.keys(samples).map((k) => ({
    name: k,
    rate: Math.round(rate(k)),
    targetCpu: Number(cpu(k, 'targetCpu').toFixed(2)),
    generatorCpu: Number(cpu(k, 'generatorCpu').toFixed(2)),
    loss: samples[k]!.reduce((a, m) => a + (m.sent - m.answered), 0),
  }));
  const ratios = {
    notifyVsNpmCoap: rate('tandem-notify') / rate('coap-npm'),
    notifyVsEcho: rate('tandem-notify') / rate('echo'),
    coapVsNpmCoap: rate('tandem-coap') / rate('coap-npm'),
    registerVsNpmCoap: rate('tandem-register') / rate('coap-npm'),
  };
  const machine = { cpus: availableParallelism(), loadavg: loadavg().map((l) => l.toFixed(2)) };
  const notifyAcked = samples['tandem-notify']!.reduce((a, m) => a + m.answered, 0);
  const result = {
    date: new Date().toISOString(),
    machine,
    settings: { runs: RUNS, durationS: DURATION_MS / 1000, sockets: SOCKETS, window: WINDOW },
    rows,
    ratios,
    memory: mem,
    notificationsAckedVsCounted: { acked: notifyAcked, counted: serverCounted },
  };
  mkdirSync(args.out!, { recursive: true });
  writeFileSync(join(args.out!, 'lwm2m.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    '# CoAP and LwM2M benchmark',
    '',
    `${machine.cpus} CPUs, load average ${machine.loadavg.join(' ')} at the end; ${RUNS} runs of ${DURATION_MS / 1000} s, medians; ${SOCKETS} client sockets × ${WINDOW} confirmable requests in flight.`,
    'CPU columns: cores used by the target process and by the load generator (same machine).',
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
    `| Tandem notifications ingested / npm coap requests | ${ratios.notifyVsNpmCoap.toFixed(2)} | ≥ 2 |`,
    `| Tandem notifications ingested / raw dgram echo | ${ratios.notifyVsEcho.toFixed(2)} | ≥ 0.5 |`,
    `| Tandem CoAP requests / npm coap requests | ${ratios.coapVsNpmCoap.toFixed(2)} | |`,
    `| Tandem LwM2M registrations / npm coap requests | ${ratios.registerVsNpmCoap.toFixed(2)} | |`,
    '',
    `Memory per registered device (${mem.devices.toLocaleString('en')} registrations in one process, LwM2M server state): ${mem.heapBytesPerDevice} B of heap, ${mem.rssBytesPerDevice} B of RSS.`,
    `Notifications acknowledged by the server's endpoint: ${notifyAcked}; counted as \`notification\` events: ${serverCounted}.`,
    '',
  ].join('\n');
  writeFileSync(join(args.out!, 'lwm2m.md'), md);
  writeFileSync(
    join(args.out!, 'lwm2m.svg'),
    barChart({
      title: 'CoAP requests and LwM2M ingest per second',
      unit: 'per second',
      note: `${machine.cpus} CPUs; medians of ${RUNS} × ${DURATION_MS / 1000} s`,
      summary: `notify / npm coap = ${ratios.notifyVsNpmCoap.toFixed(2)}, notify / echo = ${ratios.notifyVsEcho.toFixed(2)}`,
      bars: rows.map((r, i) => ({
        label: r.name,
        value: r.rate,
        detail: [`CPU ${r.targetCpu}`],
        color: ['#999', '#c77', '#4a7', '#27a', '#16c'][i]!,
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
