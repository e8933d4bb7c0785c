/**
 * The DTLS server of the benchmark, in its own child process (forked by run.ts with an IPC
 * channel): Tandem's `DtlsServerTransport` on 127.0.0.1:0 with PSK identities `bench-*` and an
 * ECDSA P-256 raw public key (RFC 7250), echoing application data. Sends `{ port }` to the
 * parent, then answers `{ cmd: 'stats' }` with the server's counters.
 */
import { generateKeyPairSync } from 'node:crypto';
import { DtlsServerTransport } from '../../src/dtls/server-transport.js';
import { BENCH_PSK, type ServerStatsReply } from './protocol.js';

async function main(): Promise<void> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const server = await DtlsServerTransport.bind({
    host: '127.0.0.1',
    port: 0,
    pskStore: (identity) => (identity.startsWith('bench') ? BENCH_PSK : undefined),
    certificate: { privateKey },
    trust: { rawPublicKeyTrust: () => true },
    clientAuth: 'want',
    // Every client is on 127.0.0.1: the per-source limit would otherwise cap the load.
    limits: { maxHandshakes: 100_000, maxHandshakesPerSource: 100_000, maxSessions: 1_000_000 },
  });
  server.onReceive((data, peer) => server.send(peer, data));
  process.send?.({ port: server.address()!.port });
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'stats') {
      const reply: ServerStatsReply = {
        stats: { ...server.stats },
        sessions: server.server.sessions,
      };
      process.send?.(reply);
    }
  });
  process.on('disconnect', () => process.exit(0));
}

void main();
