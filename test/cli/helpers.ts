/** Running the `tandem` CLI from its sources in a child process, as the operator would. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { issueToken } from '../../src/hub/api-tokens.js';
import type { Tandem } from '../../src/server/tandem.js';
import { killedAtEnd } from '../helpers/children.js';
import { lwm2mDevice } from '../helpers/lwm2m-device.js';
import { startTandem } from '../helpers/tandem.js';

const ROOT = join(import.meta.dirname, '../..');
const TSX = import.meta.resolve('tsx');

export interface CliRun {
  readonly child: ChildProcess;
  /** What it printed on stdout so far. */
  stdout(): string;
  /** Resolves when it exits. */
  readonly done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/**
 * Starts `tandem <args>` from src/cli/main.ts through tsx (resolved from the project, whatever
 * the cwd), so that the tests do not depend on a build (test/cli/bin.test.ts checks the built
 * bin). The environment is only PATH and `env`.
 */
export function spawnCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {},
): CliRun {
  // Killed if still running when the test file ends (a failed test).
  const child = killedAtEnd(
    spawn(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), ...args], {
      env: { PATH: process.env.PATH, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    }),
  );
  if (options.input !== undefined) child.stdin!.end(options.input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => {
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, done, stdout: () => stdout };
}

/** Runs `tandem <args>` to its end. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, input?: string) {
  return spawnCli(args, { env, ...(input !== undefined ? { input } : {}) }).done;
}

/** Resolves with stdout's lines once there are `count`; rejects if the CLI exits first. */
export async function linesOf(cli: CliRun, count: number, limitMs = 60_000): Promise<string[]> {
  const end = Date.now() + limitMs;
  for (;;) {
    const lines = cli.stdout().split('\n').slice(0, -1);
    if (lines.length >= count) return lines;
    if (Date.now() > end || cli.child.exitCode !== null) {
      throw new Error(`expected ${count} lines, got: ${cli.stdout()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const ADMIN = 'cli-ops-admin-token-0123456789abcdef01234567';

/** A started Tandem with one LwM2M device, `dev1`, registered over CoAP (our client library). */
export async function startWithDevice(t: TestContext) {
  const tandem = await startTandem(t, {}, { adminToken: ADMIN });
  let reboots = 0;
  const device = await lwm2mDevice(t, tandem, 'dev1', { onReboot: () => reboots++ });
  await device.register();
  const url = `http://127.0.0.1:${tandem.address('http')!.port}`;
  return {
    tandem,
    device,
    url,
    env: { TANDEM_URL: url, TANDEM_TOKEN: ADMIN },
    reboots: () => reboots,
  };
}

/** A new API token of `role`. */
export async function tokenOf(tandem: Tandem, role: 'read-only' | 'operator'): Promise<string> {
  return (await issueToken(tandem.store.tokens, role, role)).token;
}
