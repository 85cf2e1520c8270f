import type { Relay } from '@onceflow/relay';
import type { Knex } from 'knex';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { OnceflowMetrics } from './onceflow-metrics.ts';

/** Options of {@link relayMetricsSource}. */
export interface RelayMetricsSourceOptions {
  relay: Relay;
  /** The relay's database, for the outbox gauges. */
  knex: Knex;
  /** @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  schema?: string;
}

/**
 * What a relay process serves on `/metrics`: a registry of its own with Node's default process
 * metrics, the relay's and the outbox gauges. `onceflow relay --http-port N` uses it; pass it as
 * `metrics` to `startRelayHttpServer` to do the same in your own process.
 */
export function relayMetricsSource(options: RelayMetricsSourceOptions): () => Promise<{ contentType: string; body: string }> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = new OnceflowMetrics({ registry });
  metrics.observeRelay(options.relay);
  metrics.observeOutbox(options.knex, options.schema === undefined ? {} : { schema: options.schema });
  return async () => ({ contentType: registry.contentType, body: await registry.metrics() });
}
