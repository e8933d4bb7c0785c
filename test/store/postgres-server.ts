import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const ROOT = '/usr/lib/postgresql';
const SUPERUSER = 'tandem';

/**
 * A throwaway Postgres server for one test file: `initdb` into a temporary directory, then
 * `postgres` on a free loopback port with its socket in that directory (as the `postgres` user
 * when we are root, since postgres refuses to run as root). Durability is off: the data dies
 * with the test anyway.
 */
export interface PostgresServer {
  readonly port: number;
  /** A new, empty database; its connection URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

/** Debian's postgresql package puts the server programs under /usr/lib/postgresql/<major>/bin. */
function binDir(): string {
  const versions = existsSync(ROOT)
    ? readdirSync(ROOT)
        .filter((v) => existsSync(join(ROOT, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      `the Postgres store tests need initdb and postgres under ${ROOT}/*/bin (Debian's postgresql package): run \`bash scripts/ensure-test-peers.sh\` as root or \`sudo apt-get install -y postgresql\``,
    );
  }
  return join(ROOT, versions[0]!, 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'tandem-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(dir, uid, gid);
  }
  const command = (program: string, args: string[]): [string, string[]] =>
    asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, program), ...args]]
      : [join(bin, program), args];

  let server: ChildProcess | undefined;
  const cleanUp = () => rmSync(dir, { recursive: true, force: true });
  try {
    execFileSync(
      ...command('initdb', [
        '-D',
        data,
        '-U',
        SUPERUSER,
        '--auth=trust',
        '--locale=C',
        '--encoding=UTF8',
        '--no-sync',
      ]),
      { stdio: 'pipe' },
    );
    const port = await freePort();
    const [program, args] = command('postgres', [
      '-D',
      data,
      '-p',
      String(port),
      '-h',
      '127.0.0.1',
      '-k',
      dir,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
    ]);
    const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    server = child;
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('database system is ready to accept connections')) {
          child.stderr!.off('data', onData);
          child.stderr!.resume();
          resolve();
        }
      };
      child.stderr!.on('data', onData);
      child.once('exit', (code) =>
        reject(new Error(`postgres exited (${code}) at start:\n${log}`)),
      );
      child.once('error', reject);
    });
    const admin = `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`;
    // SIGINT to the postmaster (pid on the first line of postmaster.pid) is its fast shutdown:
    // clients are disconnected, nothing waits for them.
    const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    // A test process that ends without stop() (a failed hook, the runner's timeout, Ctrl-C)
    // must not leave the server running; signals skip 'exit' handlers, so they are caught too.
    const orphaned = () => {
      try {
        process.kill(postmaster, 'SIGINT');
      } catch {
        // Already gone.
      }
      cleanUp();
    };
    const signalled = (signal: NodeJS.Signals) => {
      orphaned();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    };
    process.once('exit', orphaned);
    process.once('SIGINT', signalled);
    process.once('SIGTERM', signalled);
    let n = 0;
    return {
      port,
      async createDatabase() {
        const name = `t${++n}`;
        const client = new pg.Client(admin);
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name}`);
        } finally {
          await client.end();
        }
        return `postgres://${SUPERUSER}@127.0.0.1:${port}/${name}`;
      },
      async stop() {
        process.off('exit', orphaned);
        process.off('SIGINT', signalled);
        process.off('SIGTERM', signalled);
        const exited = new Promise((resolve) => child.once('exit', resolve));
        process.kill(postmaster, 'SIGINT');
        await exited;
        cleanUp();
      },
    };
  } catch (err) {
    server?.kill('SIGKILL');
    cleanUp();
    throw err;
  }
}
