import type { PartitionBatch } from '@onceflow/core';
import { assertPeerVersion, checkReplication, checkSchemaVersion, TypedEmitter } from '@onceflow/core';
import { CommitQueue } from './commit-queue.ts';
import type { InboxConsumerEvents, InboxConsumerStats } from './consumer-events.ts';
import { emptyStats } from './consumer-events.ts';
import type { InboxConsumerOptions, ResolvedConsumerOptions } from './consumer-options.ts';
import { consumerRetryPolicy, resolveConsumerOptions } from './consumer-options.ts';
import { deadLetterMessage } from './dead-letter-message.ts';
import { Inbox } from './inbox.ts';
import { PartitionRun } from './partition-run.ts';
import type { ConsumerStrategy, RunContext } from './run-context.ts';
import { SideEffectInbox } from './side-effect/side-effect-inbox.ts';
import { checkStartPosition } from './start-check.ts';
import { BatchStrategy } from './strategies/batch-strategy.ts';
import { SideEffectStrategy } from './strategies/side-effect-strategy.ts';
import { TransactionalStrategy } from './strategies/transactional-strategy.ts';

/**
 * Runs a handler for every message of a {@link Subscriber} (e.g. KafkaSubscriber) with
 * exactly-once effects: transactional (default), batch or side-effect mode. Within a
 * partition, different keys run in parallel and each key in order; offsets are committed
 * only after the effects are durable, as a contiguous watermark. Failing messages are retried
 * with backoff and then dead-lettered, and the partition moves on.
 */
export class InboxConsumer<Payload = unknown> {
  /** Typed events: `inbox:handled`, `inbox:duplicate`, `inbox:retry`, `inbox:dead`, ... */
  readonly events = new TypedEmitter<InboxConsumerEvents>();
  /** The transactional inbox this consumer writes. */
  readonly inbox: Inbox;
  /** The runner's validated options. */
  readonly options: ResolvedConsumerOptions;
  readonly #context: RunContext;
  /** One offset-commit queue per partition, kept across its batches. */
  readonly #commits = new Map<string, CommitQueue>();
  readonly #stats: InboxConsumerStats = emptyStats();
  readonly #stop = new AbortController();
  readonly #runs = new Set<Promise<void>>();
  #state: 'new' | 'starting' | 'running' | 'stopped' = 'new';

  constructor(options: InboxConsumerOptions<Payload>) {
    assertPeerVersion('knex');
    this.inbox = new Inbox(options);
    this.options = resolveConsumerOptions(options);
    const { concurrency, heartbeatIntervalMs, types, deadLetter } = this.options;
    const logger = this.inbox.options.logger.child({ consumer: this.inbox.options.consumerName });
    const deadLetters = { inbox: this.inbox.options, deadLetter, events: this.events, stats: this.#stats, logger };
    this.#context = {
      strategy: this.#strategy(),
      policy: consumerRetryPolicy(this.options),
      dedupKeyOf: (message) => this.inbox.dedupKeyOf(message),
      deadLetter: (item, errors, attempts) => deadLetterMessage(deadLetters, item, errors, attempts),
      concurrency,
      heartbeatIntervalMs,
      types,
      events: this.events,
      stats: this.#stats,
      logger,
      stopping: this.#stop.signal,
    };
  }

  /** The strategy of the configured mode, holding only what that mode needs. */
  #strategy(): ConsumerStrategy {
    const { mode, maxMessagesPerTransaction, maxBatchSize, leaseMs } = this.options;
    const inbox = this.inbox;
    switch (mode.kind) {
      case 'transactional':
        return new TransactionalStrategy({ inbox, handler: mode.handler, maxMessagesPerTransaction });
      case 'batch':
        return new BatchStrategy({ inbox, handler: mode.handler, maxBatchSize });
      case 'side-effect': {
        const { consumerName, dedup, dedupScope, logger } = inbox.options;
        const effects = new SideEffectInbox({ store: mode.store, consumerName, dedup, dedupScope, leaseMs, logger });
        return new SideEffectStrategy({ effects, handler: mode.handler, leaseMs });
      }
    }
  }

  /**
   * Notes that `group` committed an offset: from then on it is no longer a first run. Until the
   * note is written, each commit tries again (a note left at "never committed" would let the
   * group re-read from the earliest offset after its offsets expire).
   */
  #noteFirstCommit(group: string): void {
    const { knex, tables, consumerName, sql } = this.inbox.options;
    let writing = false;
    const onCommitted = () => {
      if (writing) return;
      writing = true;
      sql.noteGroupCommitted(knex, tables, consumerName, group).then(
        () => this.events.off('inbox:committed', onCommitted),
        (error: unknown) => {
          writing = false;
          this.#context.logger.warn({ error, groupId: group }, 'Could not note the group as committed; trying again at the next commit');
        },
      );
    };
    this.events.on('inbox:committed', onCommitted);
  }

  /**
   * Checks the schema version, joins the group and starts handling; resolves once running.
   * Rejects with a StartPositionError when a new group, with no start chosen, would re-read
   * history of this consumer name (see KafkaSubscriber's `startFrom`).
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`InboxConsumer.start() was called when ${this.#state}; create a new consumer`);
    this.#state = 'starting';
    const { knex, tables } = this.inbox.options;
    if (this.options.checkSchema) await checkSchemaVersion(knex, tables.schema);
    const { subscriber } = this.options;
    await checkReplication(
      subscriber.describeTopics?.bind(subscriber),
      subscriber.topics ?? [],
      this.options.strictReplication,
      this.#context.logger,
    );
    const group = await checkStartPosition(subscriber, this.inbox.options, this.#context.logger);
    if (group !== undefined) this.#noteFirstCommit(group);
    await this.options.deadLetter?.publisher.connect();
    await this.options.subscriber.start((batch) => this.#onBatch(batch));
    this.#state = 'running';
    this.#context.logger.info({ mode: this.#context.strategy.mode }, 'Inbox consumer started');
  }

  /**
   * Stops taking work, lets running transactions finish and commits their offsets, then
   * leaves the group, waiting at most `stopTimeoutMs` for all that. Messages waiting for a
   * retry are left for the next owner.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    const started = this.#state !== 'new';
    this.#state = 'stopped';
    this.#stop.abort();
    const finishing = (async () => {
      await Promise.allSettled([...this.#runs]);
      await Promise.allSettled([...this.#commits.values()].map((c) => c.drain()));
      if (started) await this.options.subscriber.stop();
    })();
    const { stopTimeoutMs } = this.options;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), stopTimeoutMs);
    });
    try {
      if ((await Promise.race([finishing, timedOut])) === 'timeout') {
        // Nothing is lost by not waiting: uncommitted offsets are fetched again and deduplicated.
        finishing.catch(() => undefined);
        this.#context.logger.warn(
          { stopTimeoutMs },
          'Stopping took longer than stopTimeoutMs (the group coordinator may be down); stopped without waiting further',
        );
      }
    } finally {
      clearTimeout(timer);
    }
    this.#context.logger.info({ ...this.#stats }, 'Inbox consumer stopped');
  }

  /** A snapshot of the counters. */
  stats(): InboxConsumerStats {
    return { ...this.#stats };
  }

  async #onBatch(batch: PartitionBatch): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stats.batches++;
    const last = batch.records.at(-1);
    if (last !== undefined) {
      this.events.emit('inbox:fetched', {
        topic: batch.topic,
        partition: batch.partition,
        lastOffset: last.offset,
        count: batch.records.length,
      });
    }
    const id = `${batch.topic}:${batch.partition}`;
    let commits = this.#commits.get(id);
    if (commits === undefined) {
      commits = new CommitQueue(this.events, this.#stats);
      this.#commits.set(id, commits);
    }
    const run = new PartitionRun(this.#context, batch, commits).run().catch((error: unknown) => {
      // Unfinished records stay unresolved and are fetched again; never crash the fetch loop.
      this.#context.logger.error({ error, topic: batch.topic, partition: batch.partition }, 'Partition batch failed');
      this.events.emit('inbox:error', { error, topic: batch.topic, partition: batch.partition });
    });
    this.#runs.add(run);
    try {
      await run;
    } finally {
      this.#runs.delete(run);
    }
  }
}
