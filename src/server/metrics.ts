import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** One registry per Tandem instance (never prom-client's global one: tests run many). */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * A gauge read at scrape time from the engines' plain counters, so protocol engines need no
 * knowledge of prom-client.
 */
export function gaugeFrom<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<[Partial<Record<L, string>>, number]>,
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
}
