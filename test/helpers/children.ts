/**
 * Child processes a test file starts (`tandem start`, the CLI) are killed when the file ends:
 * after its tests, and also when the test runner ends the file on its timeout (SIGTERM), which
 * skips `after` hooks and would otherwise leave servers running that slow every later file.
 */
import type { ChildProcess } from 'node:child_process';
import { after } from 'node:test';

const children = new Set<ChildProcess>();

function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
}

after(killAll);
process.once('SIGTERM', () => {
  killAll();
  process.exit(143);
});

/** Kills `child` when this test file ends, if it is still running then. */
export function killedAtEnd<C extends ChildProcess>(child: C): C {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
