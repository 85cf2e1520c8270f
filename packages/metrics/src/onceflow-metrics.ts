import type { InboxConsumer } from '@onceflow/consumer';
import { defaultSchema, intOption, OptionError } from '@onceflow/core';
import type { Relay } from '@onceflow/relay';
import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import { Counter, register as defaultRegistry, Gauge, Histogram } from 'prom-client';
import { MetricNames } from './names.ts';
import { OutboxStatusCache } from './outbox-status-cache.ts';

/** Options of {@link OnceflowMetrics}. */
export interface OnceflowMetricsOptions {
  /** The registry to register on: your own `/metrics` endpoint's. @defaultValue prom-client's global `register` */
  registry?: Registry;
}

/** Options of {@link OnceflowMetrics.observeOutbox}. */
export interface ObserveOutboxOptions {
  /** Schema of Onceflow's tables. @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  schema?: string;
  /** How long one status query serves every gauge and scraper. @defaultValue 5000 */
  cacheMs?: number;
  /** Statement timeout of the status query; on timeout a scrape reports the last values. @defaultValue 2000 */
  timeoutMs?: number;
}

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Onceflow's Prometheus metrics, registered once on a prom-client registry and fed by the
 * relays and consumers you observe (from their typed events), plus SQL-backed outbox gauges
 * that cost one cached, time-limited query per scrape interval.
 *
 * ```ts
 * const metrics = new OnceflowMetrics({ registry });
 * metrics.observeRelay(relay);
 * metrics.observeConsumer(consumer);
 * metrics.observeOutbox(knex);
 * ```
 */
export class OnceflowMetrics {
  /** The registry holding the metrics. */
  readonly registry: Registry;
  readonly #relayPublished: Counter<'topic'>;
  readonly #relayFailures: Counter<'topic' | 'kind'>;
  readonly #relayDead: Counter<'topic'>;
  readonly #relayBatchDuration: Histogram;
  readonly #relayCommitToAck: Histogram;
  readonly #relayErrors: Counter;
  readonly #consumerHandled: Counter<'consumer' | 'topic'>;
  readonly #consumerDuplicates: Counter<'consumer' | 'topic'>;
  readonly #consumerRetries: Counter<'consumer' | 'topic'>;
  readonly #consumerDead: Counter<'consumer' | 'topic'>;
  readonly #consumerDuration: Histogram<'consumer' | 'topic'>;
  readonly #consumerLag: Gauge<'consumer' | 'topic' | 'partition'>;
  readonly #consumerErrors: Counter<'consumer'>;
  readonly #relays = new Set<Relay>();
  #outboxObserved = false;

  constructor(options: OnceflowMetricsOptions = {}) {
    const registry = options.registry ?? defaultRegistry;
    if (typeof registry?.registerMetric !== 'function') throw new OptionError('registry', registry, 'a prom-client Registry');
    this.registry = registry;
    const registers = [registry];
    const relays = this.#relays;
    const sum = (pick: (relay: Relay) => number) => [...relays].reduce((n, r) => n + pick(r), 0);
    this.#relayPublished = new Counter({
      name: MetricNames.relayPublished,
      help: 'Outbox messages published to Kafka and marked published',
      labelNames: ['topic'],
      registers,
    });
    this.#relayFailures = new Counter({
      name: MetricNames.relayPublishFailures,
      help: 'Failed publishes: kind "record" (the broker refused a message; an attempt spent) or "broker" (broker unavailable; topic empty, no attempt spent)',
      labelNames: ['topic', 'kind'],
      registers,
    });
    this.#relayDead = new Counter({
      name: MetricNames.relayDead,
      help: 'Outbox messages parked as dead after their last attempt',
      labelNames: ['topic'],
      registers,
    });
    this.#relayBatchDuration = new Histogram({
      name: MetricNames.relayBatchDuration,
      help: 'Time from claiming a batch of outbox rows to marking it published',
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.#relayCommitToAck = new Histogram({
      name: MetricNames.relayCommitToAck,
      help: "Time from a message's producer transaction to the broker's acknowledgement of it",
      buckets: SECONDS_BUCKETS,
      registers,
    });
    // Read at scrape time from the observed relays' stats; nothing else holds these two.
    new Gauge({
      name: MetricNames.relayShardsHeld,
      help: 'Outbox shards whose lease the observed relays hold (0 on a running relay: it publishes nothing)',
      registers,
      collect() {
        this.set(sum((r) => r.stats().shards.length));
      },
    });
    new Gauge({
      name: MetricNames.relayActiveLanes,
      help: 'Publishing lanes in use by the observed relays',
      registers,
      collect() {
        this.set(sum((r) => r.stats().activeLanes));
      },
    });
    this.#relayErrors = new Counter({ name: MetricNames.relayErrors, help: 'Errors of relay background loops (they carry on)', registers });
    this.#consumerHandled = new Counter({
      name: MetricNames.consumerHandled,
      help: 'Messages whose handler effect committed with their inbox row',
      labelNames: ['consumer', 'topic'],
      registers,
    });
    this.#consumerDuplicates = new Counter({
      name: MetricNames.consumerDuplicates,
      help: 'Copies skipped because their dedup key was already recorded',
      labelNames: ['consumer', 'topic'],
      registers,
    });
    this.#consumerRetries = new Counter({
      name: MetricNames.consumerRetries,
      help: 'Failed handler attempts followed by another attempt',
      labelNames: ['consumer', 'topic'],
      registers,
    });
    this.#consumerDead = new Counter({
      name: MetricNames.consumerDeadLetters,
      help: 'Messages parked as dead letters',
      labelNames: ['consumer', 'topic'],
      registers,
    });
    this.#consumerDuration = new Histogram({
      name: MetricNames.consumerHandlerDuration,
      help: 'Time of the transaction that ran the handler and committed the inbox row',
      labelNames: ['consumer', 'topic'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.#consumerLag = new Gauge({
      name: MetricNames.consumerCommitLag,
      help: 'Records fetched but not yet covered by the committed offset, per partition',
      labelNames: ['consumer', 'topic', 'partition'],
      registers,
    });
    this.#consumerErrors = new Counter({
      name: MetricNames.consumerErrors,
      help: 'Background errors of a consumer (commits, parking, fetch); it keeps running',
      labelNames: ['consumer'],
      registers,
    });
  }

  /** Feeds the relay metrics from `relay`'s events and stats. Returns a function that stops it. */
  observeRelay(relay: Relay): () => void {
    this.#relays.add(relay);
    const off = [
      relay.events.on('relay:batch:published', (e) => {
        for (const [topic, n] of Object.entries(e.topics)) this.#relayPublished.inc({ topic }, n);
        this.#relayBatchDuration.observe(e.durationMs / 1000);
        for (const ms of e.sinceEnqueueMs) this.#relayCommitToAck.observe(Math.max(0, ms) / 1000);
      }),
      relay.events.on('relay:retry', (e) => {
        if (e.scope === 'record') this.#relayFailures.inc({ topic: e.topic, kind: 'record' });
        else this.#relayFailures.inc({ topic: '', kind: 'broker' });
      }),
      relay.events.on('relay:dead', (e) => {
        this.#relayFailures.inc({ topic: e.topic, kind: 'record' });
        this.#relayDead.inc({ topic: e.topic });
      }),
      relay.events.on('relay:error', () => this.#relayErrors.inc()),
    ];
    return () => {
      for (const f of off) f();
      this.#relays.delete(relay);
    };
  }

  /** Feeds the consumer metrics from `consumer`'s events, labelled with its consumer name. */
  observeConsumer(consumer: Pick<InboxConsumer, 'events' | 'inbox'>): () => void {
    const name = consumer.inbox.options.consumerName;
    const fetched = new Map<string, bigint>();
    const committed = new Map<string, bigint>();
    const lag = (topic: string, partition: number) => {
      const id = `${topic}\u0000${partition}`;
      const last = fetched.get(id);
      if (last === undefined) return;
      // Committed offsets name the next record to read; lag counts fetched records beyond it.
      const behind = last + 1n - (committed.get(id) ?? last + 1n);
      this.#consumerLag.set({ consumer: name, topic, partition: String(partition) }, Number(behind > 0n ? behind : 0n));
    };
    const off = [
      consumer.events.on('inbox:handled', (e) => {
        const labels = { consumer: name, topic: e.message.topic };
        this.#consumerHandled.inc(labels);
        this.#consumerDuration.observe(labels, e.durationMs / 1000);
      }),
      consumer.events.on('inbox:duplicate', (e) => this.#consumerDuplicates.inc({ consumer: name, topic: e.message.topic })),
      consumer.events.on('inbox:retry', (e) => this.#consumerRetries.inc({ consumer: name, topic: e.message.topic })),
      consumer.events.on('inbox:dead', (e) => this.#consumerDead.inc({ consumer: name, topic: e.message.topic })),
      consumer.events.on('inbox:error', () => this.#consumerErrors.inc({ consumer: name })),
      consumer.events.on('inbox:fetched', (e) => {
        const id = `${e.topic}\u0000${e.partition}`;
        const last = BigInt(e.lastOffset);
        if ((fetched.get(id) ?? -1n) < last) fetched.set(id, last);
        if (!committed.has(id)) committed.set(id, BigInt(e.lastOffset) - BigInt(e.count - 1));
        lag(e.topic, e.partition);
      }),
      consumer.events.on('inbox:committed', (e) => {
        committed.set(`${e.topic}\u0000${e.partition}`, BigInt(e.offset));
        lag(e.topic, e.partition);
      }),
    ];
    return () => {
      for (const f of off) f();
    };
  }

  /**
   * Registers the SQL-backed outbox gauges (backlog, oldest pending age, dead count per topic)
   * on `knex`'s database. One status query serves all three gauges and every scraper for
   * `cacheMs`; it runs with a statement timeout, and a failure keeps the last values and counts
   * in `onceflow_outbox_status_query_failures_total`. Call it once per registry.
   */
  observeOutbox(knex: Knex, options: ObserveOutboxOptions = {}): void {
    if (this.#outboxObserved) throw new OptionError('observeOutbox', 'a second call', 'one call per OnceflowMetrics');
    this.#outboxObserved = true;
    const cacheMs = intOption('cacheMs', options.cacheMs, 5_000, 0, 3_600_000);
    const timeoutMs = intOption('timeoutMs', options.timeoutMs, 2_000, 1, 600_000);
    const cache = new OutboxStatusCache(knex, options.schema ?? defaultSchema(), cacheMs, timeoutMs);
    const registers = [this.registry];
    const failures = new Counter({
      name: MetricNames.outboxStatusFailures,
      help: 'Outbox status queries that failed or timed out',
      registers,
    });
    const onFailure = () => failures.inc();
    const topicGauge = (
      name: string,
      help: string,
      value: (t: Awaited<ReturnType<OutboxStatusCache['topics']>>[number]) => number | null,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ['topic'],
        registers,
        async collect() {
          const topics = await cache.topics(onFailure);
          this.reset();
          for (const t of topics) {
            const v = value(t);
            if (v !== null) this.set({ topic: t.topic }, v);
          }
        },
      });
    topicGauge(MetricNames.outboxBacklog, 'Outbox messages due for publishing now', (t) => t.backlog);
    topicGauge(MetricNames.outboxOldestPendingAge, 'Age of the oldest outbox message due for publishing', (t) =>
      t.oldestPendingAgeMs === null ? null : t.oldestPendingAgeMs / 1000,
    );
    topicGauge(MetricNames.outboxDead, 'Dead outbox messages waiting to be requeued or purged', (t) => t.dead);
  }
}
