/**
 * Every child process the harness starts is registered here and killed when the harness exits,
 * whether it ends normally, throws or is interrupted.
 */
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
const finalizers = new Set<() => void>();

/** Runs `fn` when the harness exits unless it was `untrack`ed first (temporary files). */
export function atExit(fn: () => void): () => void {
  finalizers.add(fn);
  return () => finalizers.delete(fn);
}

export function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  for (const fn of finalizers) {
    try {
      fn();
    } catch {
      // Best effort at exit: a leftover temporary file is no reason to hide the real error.
    }
  }
  finalizers.clear();
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}
