/**
 * The Node brokers under test (bench/tandem-broker.ts, bench/aedes-broker.ts) run with
 * `--expose-gc` and run a full garbage collection when the harness sends `gc` over IPC, answering
 * `gc-done`: the idle scenario reads their memory after collections, as it would settle in a
 * long-running process, not right after the garbage of a connection burst.
 */
export function answerGcRequests(): void {
  process.on('message', (message) => {
    if (message !== 'gc') return;
    (globalThis as { gc?: () => void }).gc?.();
    process.send?.('gc-done');
  });
}
