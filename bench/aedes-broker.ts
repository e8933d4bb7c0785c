/**
 * Aedes (npm `aedes`, in-memory persistence, default options) on a plain net server, run by the
 * harness as a child process: `node --import tsx bench/aedes-broker.ts <port>`.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import { answerGcRequests } from './gc-request.js';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error('usage: aedes-broker.ts <port>');

answerGcRequests();
const broker = await Aedes.createBroker();
const server = createServer({ noDelay: true }, broker.handle);
server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));

function shutdown(): void {
  server.close();
  broker.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
// The harness went away without stopping us.
process.on('disconnect', shutdown);
