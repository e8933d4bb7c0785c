/**
 * A load generator process of the DTLS benchmark (forked by run.ts, several at once): our DTLS
 * client (`DtlsClient` / `DtlsClientTransport`) against the server on 127.0.0.1. It waits for
 * one `GeneratorRun`, runs it and answers with a `GeneratorResult`.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { DtlsClient, type DtlsClientOptions } from '../../src/dtls/client.js';
import { DtlsClientTransport } from '../../src/dtls/client-transport.js';
import { BENCH_PSK, type GeneratorResult, type GeneratorRun } from './protocol.js';

const HOST = '127.0.0.1';

function bindSocket(): Promise<Socket> {
  const socket = createSocket('udp4');
  return new Promise((resolve) => socket.bind(0, HOST, () => resolve(socket)));
}

function clientOptions(mode: 'psk' | 'rpk', n: number): DtlsClientOptions {
  if (mode === 'psk') {
    return {
      psk: { identity: `bench-${n % 1000}`, key: BENCH_PSK },
      cipherSuites: ['TLS_PSK_WITH_AES_128_CCM_8'],
    };
  }
  return {
    cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
    certificate: { privateKey: rpkKey },
    trust: { rawPublicKeyTrust: () => true },
  };
}

const rpkKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;

/** Full handshakes on many sockets at once; each socket's next one starts when one ends. */
async function handshakes(run: GeneratorRun, mode: 'psk' | 'rpk'): Promise<GeneratorResult> {
  const sockets = await Promise.all(Array.from({ length: run.sockets }, bindSocket));
  const start = performance.now();
  const end = start + run.durationMs;
  let done = 0;
  let failures = 0;
  let n = 0;
  await Promise.all(
    sockets.map(async (socket) => {
      let client: DtlsClient | undefined;
      socket.on('message', (m) => client?.receive(m));
      while (performance.now() < end) {
        client = new DtlsClient(clientOptions(mode, n++), (d) => socket.send(d, run.port, HOST));
        try {
          await client.connect();
          if (performance.now() <= end) done++;
        } catch {
          failures++;
        }
      }
    }),
  );
  const seconds = (Math.min(performance.now(), end) - start) / 1000;
  for (const s of sockets) s.close();
  return { done, failures, seconds };
}

/** One handshake at a time, each on a new socket and ended with close_notify. */
async function sequential(run: GeneratorRun): Promise<GeneratorResult> {
  const start = performance.now();
  const end = start + run.durationMs;
  let done = 0;
  let failures = 0;
  while (performance.now() < end) {
    const transport = new DtlsClientTransport({
      host: HOST,
      port: run.port,
      psk: { identity: 'bench', key: BENCH_PSK },
      cipherSuites: ['TLS_PSK_WITH_AES_128_CCM_8'],
    });
    try {
      await transport.connect();
      if (performance.now() <= end) done++;
    } catch {
      failures++;
    }
    await transport.close();
  }
  return { done, failures, seconds: run.durationMs / 1000 };
}

/** Application data echoed through established sessions, `window` records in flight each. */
async function records(run: GeneratorRun): Promise<GeneratorResult> {
  const transports = Array.from(
    { length: run.sockets },
    (_, i) =>
      new DtlsClientTransport({
        host: HOST,
        port: run.port,
        psk: { identity: `bench-${i}`, key: BENCH_PSK },
        cipherSuites: ['TLS_PSK_WITH_AES_128_CCM_8'],
      }),
  );
  await Promise.all(transports.map((t) => t.connect()));
  const payload = Buffer.alloc(64, 0x61);
  let done = 0;
  let running = true;
  const start = performance.now();
  const lastEcho = new Array<number>(transports.length).fill(start);
  transports.forEach((t, i) => {
    t.onReceive(() => {
      if (!running) return;
      done++;
      lastEcho[i] = performance.now();
      t.send(t.peer, payload);
    });
    for (let w = 0; w < run.window; w++) t.send(t.peer, payload);
  });
  // A lost datagram (UDP, no retransmission of application data) would shrink a session's
  // window for good: refill the window of a session that has been silent for 200 ms.
  const refill = setInterval(() => {
    const now = performance.now();
    transports.forEach((t, i) => {
      if (now - lastEcho[i]! < 200) return;
      lastEcho[i] = now;
      for (let w = 0; w < run.window; w++) t.send(t.peer, payload);
    });
  }, 100);
  await new Promise((resolve) => setTimeout(resolve, run.durationMs));
  clearInterval(refill);
  running = false;
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(transports.map((t) => t.close()));
  return { done, failures: 0, seconds };
}

process.on('message', async (run: GeneratorRun) => {
  const result =
    run.mode === 'sequential'
      ? await sequential(run)
      : run.mode === 'records'
        ? await records(run)
        : await handshakes(run, run.mode);
  process.send?.(result);
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
