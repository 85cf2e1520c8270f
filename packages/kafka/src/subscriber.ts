import type { IncomingRecord, Logger, PartitionBatch, RawHeader, StartPosition, Subscriber, TopicFacts } from '@onceflow/core';
import { assertPeerVersion, decodeHeaders, RetryPolicy, RetryStopped } from '@onceflow/core';
import type { Consumer, ConsumerConfig, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { ClusterAdmin } from './cluster-admin.ts';
import { retryOptions } from './config.ts';
import { kafkaErrorType } from './errors.ts';
import type { KafkaSubscriberOptions, ResolvedKafkaSubscriberOptions } from './options.ts';
import { resolveKafkaSubscriberOptions } from './options.ts';
import { GroupStart } from './start-position.ts';

/** A fetched batch, queued for its partition's handler. */
interface Fetched {
  readonly payload: EachBatchPayload;
  readonly records: IncomingRecord[];
}

/** Fetched batches of one partition waiting for the handler. */
interface PartitionFeed {
  readonly topic: string;
  readonly partition: number;
  /**
   * Bumped when the queued and running batches are dropped (a rewind, a new assignment, a
   * replaced consumer): a batch handed out before no longer owns its records.
   */
  epoch: number;
  queued: Fetched[];
  /** True while a drain loop runs for this partition; `draining` is its promise. */
  busy: boolean;
  draining: Promise<void> | undefined;
  /** Fetch calls waiting for the partition to have nothing queued or running. */
  idleWaiters: (() => void)[];
  /** Set while fetching of this partition is paused because its queue is full. */
  resume: (() => void) | undefined;
}

/**
 * A kafkajs consumer with auto-commit off: offsets are committed only when the handler commits
 * them, after its work is durable.
 *
 * kafkajs fetches again only once every partition batch of its last fetch was handed back, so
 * one slow partition (a message waiting for its retry, a slow handler) would hold up all the
 * others. Here each partition has a queue: a fetched batch is queued for its partition (the
 * next fetch starts after it) and fetching waits for it at most `detachAfterMs`; a batch still
 * being handled then goes on in the background while the other partitions are fetched and
 * handled. A partition's queued batches are handed to the handler as one batch once the
 * previous one is done, never two at a time. A partition with {@link MAX_QUEUED_FETCHES}
 * batches queued is paused until its handler takes them. Records the handler left unresolved
 * while it still owns the partition are fetched again (a seek back); committed offsets never
 * move past them.
 */
export class KafkaSubscriber implements Subscriber {
  /** The options in force, defaults applied. */
  readonly options: ResolvedKafkaSubscriberOptions;
  readonly #kafka: Kafka;
  readonly #config: ConsumerConfig;
  readonly #logger: Logger;
  #consumer: Consumer;
  #onBatch: ((batch: PartitionBatch) => Promise<void>) | undefined;
  /** A replacement of a consumer kafkajs gave up on, while it is being made. */
  #replacing: Promise<void> | undefined;
  readonly #topics: readonly string[];
  readonly #fromBeginning: boolean;
  readonly #concurrency: number;
  #running = false;
  readonly #feeds = new Map<string, PartitionFeed>();
  readonly #detachAfterMs: number;
  readonly #admin: ClusterAdmin;
  readonly #start: GroupStart;

  constructor(kafka: Kafka, options: KafkaSubscriberOptions) {
    assertPeerVersion('kafkajs');
    this.options = resolveKafkaSubscriberOptions(options);
    const o = this.options;
    this.#topics = o.topics;
    this.#fromBeginning = o.fromBeginning;
    this.#concurrency = o.partitionsConsumedConcurrently;
    this.#kafka = kafka;
    this.#admin = new ClusterAdmin(kafka);
    this.#logger = o.logger;
    this.#detachAfterMs = o.detachAfterMs;
    this.#config = {
      groupId: o.groupId,
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: o.heartbeatIntervalMs,
      rebalanceTimeout: o.rebalanceTimeoutMs,
      maxBytesPerPartition: o.maxBytesPerPartition,
      maxWaitTimeInMs: o.maxWaitTimeMs,
      allowAutoTopicCreation: true,
      retry: { ...retryOptions(10), restartOnFailure: async () => true },
    };
    this.#consumer = this.#newConsumer();
    this.#start = new GroupStart(kafka, o.groupId, this.#topics, { chosen: o.startFrom, fromBeginning: o.fromBeginning }, this.#logger);
  }

  /** Whether the group has committed offsets on the topics, and the start chosen for it if not. */
  startPosition(): Promise<StartPosition> {
    return this.#start.read();
  }

  async start(onBatch: (batch: PartitionBatch) => Promise<void>): Promise<void> {
    this.#onBatch = onBatch;
    this.#running = true;
    try {
      await this.#start.settle();
      await this.#run(this.#consumer);
    } catch (error) {
      this.#running = false;
      throw error;
    }
  }

  #newConsumer(): Consumer {
    const consumer = this.#kafka.consumer(this.#config);
    // A new assignment: batches of the old one may no longer own their partitions.
    consumer.on(consumer.events.GROUP_JOIN, () => this.#dropAll());
    consumer.on(consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload;
      this.#logger.error({ error, restart }, restart ? 'Kafka consumer crashed; kafkajs restarts it' : 'Kafka consumer crashed');
      // kafkajs restarts a consumer only after a retriable error. After any other (during a
      // broker restart: "failed to find group coordinator", a refused connection) it leaves
      // the consumer disconnected for good, so it is replaced here.
      if (!restart && this.#running && consumer === this.#consumer) this.#replacing ??= this.#replace(consumer);
    });
    return consumer;
  }

  async #run(consumer: Consumer): Promise<void> {
    const onBatch = this.#onBatch;
    if (onBatch === undefined) return;
    await consumer.connect();
    await this.#subscribe(consumer);
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: this.#concurrency,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.#fetched(payload),
    });
  }

  async #replace(crashed: Consumer): Promise<void> {
    // Batches of the crashed consumer no longer own their partitions.
    this.#dropAll();
    await crashed.disconnect().catch(() => undefined);
    // Any failure is tried again while the subscriber runs: kafkajs marks the very errors that
    // made it give up (a refused connection, no group coordinator) as not retriable.
    const replacing = new RetryPolicy({
      maxAttempts: Number.POSITIVE_INFINITY,
      minDelayMs: 500,
      maxDelayMs: 10_000,
      retriable: () => this.#running,
    });
    await replacing
      .run(
        async () => {
          if (!this.#running) return;
          const next = this.#newConsumer();
          this.#consumer = next;
          try {
            await this.#run(next);
          } catch (error) {
            await next.disconnect().catch(() => undefined);
            throw error;
          }
          this.#logger.info({}, 'Kafka consumer replaced after a crash');
        },
        {
          onRetry: ({ error, delayMs }) =>
            this.#logger.warn({ error, retryInMs: delayMs }, 'Replacing the crashed Kafka consumer failed; trying again'),
        },
      )
      // It gives up only once the subscriber stops.
      .catch(() => undefined);
    this.#replacing = undefined;
  }

  /**
   * Subscribes, waiting while the broker is still creating a topic: the first metadata request
   * for an auto-created topic answers UNKNOWN_TOPIC_OR_PARTITION or LEADER_NOT_AVAILABLE.
   */
  async #subscribe(consumer: Consumer): Promise<void> {
    const deadline = Date.now() + 30_000;
    const waitForTopics = new RetryPolicy({
      maxAttempts: Number.POSITIVE_INFINITY,
      minDelayMs: 100,
      maxDelayMs: 2_000,
      retriable: (error) => {
        const type = kafkaErrorType(error);
        return (type === 'UNKNOWN_TOPIC_OR_PARTITION' || type === 'LEADER_NOT_AVAILABLE') && Date.now() <= deadline;
      },
    });
    try {
      await waitForTopics.run(() => consumer.subscribe({ topics: [...this.#topics], fromBeginning: this.#fromBeginning }));
    } catch (error) {
      throw error instanceof RetryStopped ? error.cause : error;
    }
  }

  /** kafkajs's batch handler: queues the batch and waits for its partition, up to `detachAfterMs`. */
  async #fetched(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const last = batch.messages.at(-1);
    if (last === undefined || !this.#running || payload.isStale()) return;
    const id = `${batch.topic}\u0000${batch.partition}`;
    let feed = this.#feeds.get(id);
    if (feed === undefined) {
      feed = {
        topic: batch.topic,
        partition: batch.partition,
        epoch: 0,
        queued: [],
        busy: false,
        draining: undefined,
        idleWaiters: [],
        resume: undefined,
      };
      this.#feeds.set(id, feed);
    }
    // The next fetch starts after this batch; committed offsets do not move before the handler's.
    payload.resolveOffset(last.offset);
    feed.queued.push({ payload, records: batch.messages.map((m) => toRecord(batch.topic, batch.partition, m)) });
    if (feed.busy) {
      // The partition's handler already runs in the background: queue behind it, fetch on.
      if (feed.queued.length >= MAX_QUEUED_FETCHES && feed.resume === undefined) feed.resume = payload.pause();
      return;
    }
    feed.busy = true;
    feed.draining = this.#drain(feed);
    await this.#idle(feed, this.#detachAfterMs);
  }

  /** Resolves once the partition has nothing queued or running, or after `ms`. */
  #idle(feed: PartitionFeed, ms: number): Promise<void> {
    if (!feed.busy && feed.queued.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, ms);
      feed.idleWaiters.push(done);
    });
  }

  /** Hands the partition's queued batches to the handler, merged, until none is left. */
  async #drain(feed: PartitionFeed): Promise<void> {
    const onBatch = this.#onBatch;
    try {
      while (onBatch !== undefined && feed.queued.length > 0 && this.#running) {
        const parts = feed.queued;
        feed.queued = [];
        this.#resume(feed);
        const handed = this.#toBatch(feed, parts);
        if (!handed.batch.isActive()) continue;
        try {
          await onBatch(handed.batch);
        } catch (error) {
          this.#logger.error({ error, topic: feed.topic, partition: feed.partition }, 'The batch handler failed');
        }
        const next = handed.unresolvedFrom();
        if (next !== undefined && handed.batch.isActive()) this.#rewind(feed, next);
      }
    } finally {
      // Cleared in the same turn as the loop's last check (no await between them), so a batch
      // queued right after starts a new loop.
      feed.busy = false;
      this.#wakeIdle(feed);
    }
  }

  /**
   * The handler left records from `offset` on unfinished while the partition is still ours:
   * fetch from there again, and drop what was fetched after it.
   */
  #rewind(feed: PartitionFeed, offset: string): void {
    this.#dropQueued(feed);
    try {
      this.#consumer.seek({ topic: feed.topic, partition: feed.partition, offset });
    } catch (error) {
      // Only when the consumer is gone; its replacement starts from the committed offset.
      this.#logger.warn({ error, topic: feed.topic, partition: feed.partition, offset }, 'Could not seek back to unfinished records');
    }
  }

  /** Nothing queued or handed out stays valid, and nothing stays paused. */
  #dropAll(): void {
    for (const feed of this.#feeds.values()) this.#dropQueued(feed);
  }

  #dropQueued(feed: PartitionFeed): void {
    feed.epoch++;
    feed.queued = [];
    this.#resume(feed);
  }

  /** Fetches the partition again if its full queue had paused it. */
  #resume(feed: PartitionFeed): void {
    const resume = feed.resume;
    feed.resume = undefined;
    try {
      resume?.();
    } catch (error) {
      this.#logger.warn({ error, topic: feed.topic, partition: feed.partition }, 'Could not resume fetching a partition');
    }
  }

  #wakeIdle(feed: PartitionFeed): void {
    const waiters = feed.idleWaiters;
    feed.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * One batch of the queued fetches. `unresolvedFrom` gives the first offset the handler did
   * not resolve, if any.
   */
  #toBatch(feed: PartitionFeed, parts: readonly Fetched[]): { batch: PartitionBatch; unresolvedFrom(): string | undefined } {
    const latest = (parts.at(-1) as { payload: EachBatchPayload }).payload;
    const records = parts.flatMap((p) => p.records);
    const { epoch } = feed;
    const isActive = () => this.#running && epoch === feed.epoch && latest.isRunning() && !latest.isStale();
    let resolved: bigint | undefined;
    const batch: PartitionBatch = {
      topic: feed.topic,
      partition: feed.partition,
      records,
      resolve: (offset) => {
        const value = BigInt(offset);
        if (resolved === undefined || value > resolved) resolved = value;
      },
      commit: async (nextOffset) => {
        // kafkajs may commit for partitions it no longer owns after a rebalance (its issue
        // 1046); checking here narrows that window, and the inbox makes it harmless.
        if (!isActive()) return false;
        await this.#consumer.commitOffsets([{ topic: feed.topic, partition: feed.partition, offset: nextOffset }]);
        return true;
      },
      heartbeat: () => latest.heartbeat(),
      isActive,
    };
    const unresolvedFrom = () => {
      const last = records.at(-1);
      if (last === undefined || (resolved !== undefined && BigInt(last.offset) <= resolved)) return undefined;
      return records.find((r) => resolved === undefined || BigInt(r.offset) > resolved)?.offset;
    };
    return { batch, unresolvedFrom };
  }

  /** The topics it subscribes to. */
  get topics(): readonly string[] {
    return this.#topics;
  }

  /** Replication and `min.insync.replicas` of those of `topics` that exist (the consumer's durability check). */
  describeTopics(topics: readonly string[]): Promise<TopicFacts[]> {
    return this.#admin.describe(topics);
  }

  async stop(): Promise<void> {
    await this.#admin.close();
    this.#running = false;
    for (const feed of this.#feeds.values()) this.#wakeIdle(feed);
    await Promise.allSettled([...this.#feeds.values()].map((f) => f.draining));
    await this.#replacing;
    await this.#consumer.disconnect();
  }
}

/**
 * Fetched batches a partition may have queued behind its running handler before it is paused
 * until the handler takes them. One keeps the handler fed; each more holds up to
 * `maxBytesPerPartition` of records per partition in memory while a backlog is worked off.
 */
const MAX_QUEUED_FETCHES = 1;

function toRecord(topic: string, partition: number, m: KafkaMessage): IncomingRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key === null || m.key === undefined ? null : m.key.toString('utf8'),
    value: m.value ?? null,
    headers: decodeHeaders(m.headers),
    rawKey: m.key ?? null,
    rawHeaders: rawHeadersOf(m.headers),
    timestamp: m.timestamp,
  };
}

/** kafkajs's header object (repeated names as arrays) as a list of every header. */
function rawHeadersOf(headers: KafkaMessage['headers']): RawHeader[] {
  const list: RawHeader[] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    for (const one of Array.isArray(value) ? value : [value]) {
      list.push([name, one === undefined || one === null ? null : Buffer.isBuffer(one) ? one : Buffer.from(String(one), 'utf8')]);
    }
  }
  return list;
}
