import { Counter, type Registry } from 'prom-client';
import type { DeliveryObserver } from '../hub/webhook-delivery.js';
import { gaugeFrom } from './metrics.js';

/**
 * The webhooks' metrics: what became of every event (delivered, given up, dropped), the
 * retries, and the queues. Returns the observer the deliveries report to.
 */
export function webhookMetrics(
  registry: Registry,
  queued: () => Iterable<[string, number]>,
): DeliveryObserver {
  const outcomes = new Counter({
    name: 'tandem_webhook_events_total',
    help: 'Webhook events settled, by outcome: delivered (2xx), rejected (3xx or 4xx, not retried), exhausted (every attempt failed).',
    labelNames: ['webhook', 'outcome'],
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'tandem_webhook_dropped_total',
    help: 'Webhook events never delivered: the queue was full (overflow) or the server stopped or the webhook was deleted (shutdown).',
    labelNames: ['webhook', 'reason'],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'tandem_webhook_retries_total',
    help: 'Failed webhook attempts that were retried (network error, timeout, 5xx, 429).',
    labelNames: ['webhook'],
    registers: [registry],
  });
  gaugeFrom(
    registry,
    'tandem_webhook_queued',
    'Webhook events waiting, the one in flight included.',
    ['webhook'],
    function* () {
      for (const [webhook, n] of queued()) yield [{ webhook }, n];
    },
  );
  return {
    delivered: (webhook) => outcomes.inc({ webhook, outcome: 'delivered' }),
    failed: (webhook, outcome) => outcomes.inc({ webhook, outcome }),
    dropped: (webhook, reason, count) => dropped.inc({ webhook, reason }, count),
    retrying: (webhook) => retries.inc({ webhook }),
  };
}
