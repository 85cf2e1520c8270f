import type { IncomingRecord, Logger, PartitionBatch, Subscriber } from '@onceflow/core';
import { boolOption, decodeHeaders, intOption, isValidTopic, OptionError, silentLogger, stringOption } from '@onceflow/core';
import type { Consumer, ConsumerConfig, EachBatchPayload, Kafka } from 'kafkajs';
import { retryOptions } from './config.ts';
import { kafkaErrorType } from './errors.ts';

/** Options of {@link KafkaSubscriber}. */
export interface KafkaSubscriberOptions {
  /** Consumer group id. */
  groupId: string;
  /** Topics to read. */
  topics: readonly string[];
  /** Start from the earliest offset when the group has none committed. @defaultValue true */
  fromBeginning?: boolean;
  /** Group session timeout. @defaultValue 30000 */
  sessionTimeoutMs?: number;
  /** Heartbeat interval. @defaultValue 3000 */
  heartbeatIntervalMs?: number;
  /** Rebalance timeout. @defaultValue 60000 */
  rebalanceTimeoutMs?: number;
  /** Partitions handled at the same time. @defaultValue 4 */
  partitionsConsumedConcurrently?: number;
  /** Largest fetch per partition. @defaultValue 1048576 */
  maxBytesPerPartition?: number;
  /** Longest wait of a fetch for new data. @defaultValue 100 */
  maxWaitTimeMs?: number;
  /** Where crashes and their recovery are logged. @defaultValue a silent logger */
  logger?: Logger;
}

/**
 * A kafkajs consumer with auto-commit and batch auto-resolve off: offsets move only when the
 * handler resolves and commits them, after its work is durable.
 */
export class KafkaSubscriber implements Subscriber {
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
  /** Bumped at every rebalance: a batch from an older generation may no longer own its partition. */
  #generation = 0;

  constructor(kafka: Kafka, options: KafkaSubscriberOptions) {
    const groupId = stringOption('groupId', options.groupId, '');
    if (!Array.isArray(options.topics) || options.topics.length === 0 || !options.topics.every(isValidTopic)) {
      throw new OptionError('topics', options.topics, 'a non-empty list of valid Kafka topic names');
    }
    this.#topics = [...options.topics];
    this.#fromBeginning = boolOption('fromBeginning', options.fromBeginning, true);
    this.#concurrency = intOption('partitionsConsumedConcurrently', options.partitionsConsumedConcurrently, 4, 1, 1_000);
    this.#kafka = kafka;
    this.#logger = options.logger ?? silentLogger;
    this.#config = {
      groupId,
      sessionTimeout: intOption('sessionTimeoutMs', options.sessionTimeoutMs, 30_000, 1_000),
      heartbeatInterval: intOption('heartbeatIntervalMs', options.heartbeatIntervalMs, 3_000, 100),
      rebalanceTimeout: intOption('rebalanceTimeoutMs', options.rebalanceTimeoutMs, 60_000, 1_000),
      maxBytesPerPartition: intOption('maxBytesPerPartition', options.maxBytesPerPartition, 1_048_576, 1_024),
      maxWaitTimeInMs: intOption('maxWaitTimeMs', options.maxWaitTimeMs, 100, 0),
      allowAutoTopicCreation: true,
      retry: { ...retryOptions(10), restartOnFailure: async () => true },
    };
    this.#consumer = this.#newConsumer();
  }

  async start(onBatch: (batch: PartitionBatch) => Promise<void>): Promise<void> {
    this.#onBatch = onBatch;
    this.#running = true;
    try {
      await this.#run(this.#consumer);
    } catch (error) {
      this.#running = false;
      throw error;
    }
  }

  #newConsumer(): Consumer {
    const consumer = this.#kafka.consumer(this.#config);
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.#generation++;
    });
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
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.#concurrency,
      eachBatch: (payload) => onBatch(this.#toBatch(payload)),
    });
  }

  async #replace(crashed: Consumer): Promise<void> {
    // Batches of the crashed consumer no longer own their partitions.
    this.#generation++;
    await crashed.disconnect().catch(() => undefined);
    for (let delay = 500; this.#running; delay = Math.min(delay * 2, 10_000)) {
      const next = this.#newConsumer();
      this.#consumer = next;
      try {
        await this.#run(next);
        this.#logger.info({}, 'Kafka consumer replaced after a crash');
        break;
      } catch (error) {
        this.#logger.warn({ error, retryInMs: delay }, 'Replacing the crashed Kafka consumer failed; trying again');
        await next.disconnect().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    this.#replacing = undefined;
  }

  /**
   * Subscribes, waiting while the broker is still creating a topic: the first metadata request
   * for an auto-created topic answers UNKNOWN_TOPIC_OR_PARTITION or LEADER_NOT_AVAILABLE.
   */
  async #subscribe(consumer: Consumer): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
      try {
        await consumer.subscribe({ topics: [...this.#topics], fromBeginning: this.#fromBeginning });
        return;
      } catch (error) {
        const type = kafkaErrorType(error);
        const creating = type === 'UNKNOWN_TOPIC_OR_PARTITION' || type === 'LEADER_NOT_AVAILABLE';
        if (!creating || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  #toBatch(payload: EachBatchPayload): PartitionBatch {
    const { batch } = payload;
    const generation = this.#generation;
    const isActive = () => this.#running && generation === this.#generation && payload.isRunning() && !payload.isStale();
    const records: IncomingRecord[] = batch.messages.map((m) => ({
      topic: batch.topic,
      partition: batch.partition,
      offset: m.offset,
      key: m.key === null || m.key === undefined ? null : m.key.toString('utf8'),
      value: m.value ?? null,
      headers: decodeHeaders(m.headers),
      timestamp: m.timestamp,
    }));
    return {
      topic: batch.topic,
      partition: batch.partition,
      records,
      resolve: (offset) => payload.resolveOffset(offset),
      commit: async (nextOffset) => {
        // kafkajs may commit for partitions it no longer owns after a rebalance (its issue
        // 1046); checking here narrows that window, and the inbox makes it harmless.
        if (!isActive()) return false;
        await this.#consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: nextOffset }]);
        return true;
      },
      heartbeat: () => payload.heartbeat(),
      isActive,
    };
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#replacing;
    await this.#consumer.disconnect();
  }
}
