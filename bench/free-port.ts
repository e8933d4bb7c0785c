import { createServer } from 'node:net';

/**
 * Asks the kernel for a free TCP port on `host` (bind to port 0, read the port, close). Another
 * process may take the port before the peer binds it; on loopback during a benchmark this race is
 * rare, and a peer that fails to bind is reported by its adapter.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no port from listen(0)'));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}
