import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';

/** A spawned interop peer whose output is collected and can be awaited for a pattern. */
export class Peer {
  readonly child: ChildProcessWithoutNullStreams;
  output = '';
  readonly exited: Promise<number | null>;
  #watchers: { re: RegExp; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void }[] =
    [];

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { stdio: 'pipe' });
    const onData = (chunk: Buffer) => {
      this.output += chunk.toString();
      for (const w of [...this.#watchers]) {
        const m = this.output.match(w.re);
        if (m) {
          this.#watchers.splice(this.#watchers.indexOf(w), 1);
          w.resolve(m);
        }
      }
    };
    this.child.stdout.on('data', onData);
    this.child.stderr.on('data', onData);
    this.child.stdin.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code) => {
        for (const w of this.#watchers.splice(0)) {
          w.reject(new Error(`${command} exited (${code}) before ${w.re}:\n${this.output}`));
        }
        resolve(code);
      });
    });
  }

  /** Resolves when the output matches; rejects if the process exits first. */
  waitFor(re: RegExp): Promise<RegExpMatchArray> {
    const m = this.output.match(re);
    if (m) return Promise.resolve(m);
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return Promise.reject(new Error(`process already exited before ${re}:\n${this.output}`));
    }
    return new Promise((resolve, reject) => this.#watchers.push({ re, resolve, reject }));
  }

  write(s: string): void {
    this.child.stdin.write(s);
  }

  /** Ends stdin and kills the process if it is still running; resolves on exit. */
  async stop(): Promise<void> {
    this.child.stdin.end();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}
