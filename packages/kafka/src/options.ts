import type { Logger, StartFrom } from '@onceflow/core';
import { intOption, isValidTopic, OptionError, silentLogger } from '@onceflow/core';
import { resolveStartFrom } from './start-position.ts';

/** Options of `KafkaPublisher` and `ThreadedKafkaPublisher`. */
export interface KafkaPublisherOptions {
  /**
   * Times a failed send is sent again, whole, before the failure reaches the relay (which then
   * backs off and sends the batch again itself): covers a topic being created or a leader
   * moving. kafkajs's own retry of a send is off: kafkajs 2.2.4 retries a produce only to the
   * brokers that did not answer the first attempt, so the records of a partition whose leader
   * moved to a broker that did answer are never sent while the send succeeds (lost records,
   * found by `pnpm chaos --cluster`). A send sent again may write copies, which the inbox skips.
   * @defaultValue 5
   */
  retries?: number;
  /** Broker-side wait for all in-sync replicas, in milliseconds. @defaultValue 30000 */
  ackTimeoutMs?: number;
}

/** {@link KafkaPublisherOptions} with every default applied; plain data, so it can cross to a worker thread. */
export interface ResolvedKafkaPublisherOptions {
  readonly retries: number;
  readonly ackTimeoutMs: number;
}

/** Validates publisher options; throws {@link OptionError} naming the first bad one and the value received. */
export function resolveKafkaPublisherOptions(options: KafkaPublisherOptions = {}): ResolvedKafkaPublisherOptions {
  assertObject(options);
  return {
    retries: intOption('retries', options.retries, 5, 0, 1_000),
    ackTimeoutMs: intOption('ackTimeoutMs', options.ackTimeoutMs, 30_000, 1),
  };
}

/** Options of `KafkaSubscriber`. */
export interface KafkaSubscriberOptions {
  /** Consumer group id (required). */
  groupId: string;
  /** Topics to read (required, at least one). */
  topics: readonly string[];
  /**
   * The older form of `startFrom`: `true` is `'earliest'`, `false` is `'latest'`. Give one of
   * the two, not both; either counts as a choice.
   * @defaultValue true (as `startFrom` left unset)
   */
  fromBeginning?: boolean;
  /**
   * Where the group starts reading when it has no committed offsets (a new group id, or its
   * offsets expired): `'earliest'` (every record Kafka still keeps), `'latest'` (only records
   * written after the consumer starts), or a start time (a `Date` or milliseconds since the
   * epoch; each partition from its first record at or after it). `'latest'` and a time are
   * committed for the group before it first joins, so restarts resume from there.
   *
   * Why choose: a new group on an inbox consumer name that already has history would re-read
   * the topics from the start and re-apply every message whose inbox row retention removed.
   * An `InboxConsumer` therefore refuses to start a new group over such history unless this (or
   * `fromBeginning`) is given. Leave it unset for a consumer's first run: it reads from the
   * earliest offset.
   * @defaultValue unset: the earliest offset, refused by an InboxConsumer with history
   */
  startFrom?: StartFrom | number;
  /** Group session timeout, in milliseconds. @defaultValue 30000 */
  sessionTimeoutMs?: number;
  /** Heartbeat interval, in milliseconds; less than `sessionTimeoutMs`. @defaultValue 3000 */
  heartbeatIntervalMs?: number;
  /** Rebalance timeout, in milliseconds. @defaultValue 60000 */
  rebalanceTimeoutMs?: number;
  /** Partitions handled at the same time. @defaultValue 4 */
  partitionsConsumedConcurrently?: number;
  /** Largest fetch per partition, in bytes. @defaultValue 1048576 */
  maxBytesPerPartition?: number;
  /** Longest wait of a fetch for new data, in milliseconds. @defaultValue 100 */
  maxWaitTimeMs?: number;
  /**
   * How long fetching waits for a partition's batch handler. A handler still running after
   * this long (retry backoff, a slow handler) goes on in the background while the other
   * partitions are fetched and handled; its own partition's next records queue behind it.
   * @defaultValue 200
   */
  detachAfterMs?: number;
  /** Where crashes and their recovery are logged. @defaultValue a silent logger */
  logger?: Logger;
}

/** {@link KafkaSubscriberOptions} with every default applied. */
export interface ResolvedKafkaSubscriberOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** kafkajs's `fromBeginning` for a partition without a committed offset once the group runs. */
  readonly fromBeginning: boolean;
  /** The start the user chose for a group without committed offsets; undefined when none. */
  readonly startFrom: StartFrom | undefined;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly partitionsConsumedConcurrently: number;
  readonly maxBytesPerPartition: number;
  readonly maxWaitTimeMs: number;
  readonly detachAfterMs: number;
  readonly logger: Logger;
}

/** Validates subscriber options; throws {@link OptionError} naming the first bad one and the value received. */
export function resolveKafkaSubscriberOptions(options: KafkaSubscriberOptions): ResolvedKafkaSubscriberOptions {
  assertObject(options);
  const { groupId, topics } = options;
  if (typeof groupId !== 'string' || groupId.trim() === '') {
    throw new OptionError('groupId', groupId, 'a non-empty consumer group id');
  }
  if (!Array.isArray(topics) || topics.length === 0) {
    throw new OptionError('topics', topics, 'a non-empty list of Kafka topic names');
  }
  const badTopic = topics.find((t) => !isValidTopic(t));
  if (badTopic !== undefined) throw new OptionError('topics', badTopic, 'valid Kafka topic names (letters, digits, ".", "_", "-")');
  const sessionTimeoutMs = intOption('sessionTimeoutMs', options.sessionTimeoutMs, 30_000, 1_000);
  const heartbeatIntervalMs = intOption('heartbeatIntervalMs', options.heartbeatIntervalMs, 3_000, 100);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    // The broker would end the session between two heartbeats.
    throw new OptionError('heartbeatIntervalMs', heartbeatIntervalMs, `less than sessionTimeoutMs (${sessionTimeoutMs})`);
  }
  const logger = options.logger ?? silentLogger;
  if (typeof logger?.error !== 'function' || typeof logger.child !== 'function') {
    throw new OptionError('logger', logger, 'a Logger with debug/info/warn/error/child');
  }
  const start = resolveStartFrom(options.startFrom, options.fromBeginning);
  return {
    groupId,
    topics: [...topics],
    fromBeginning: start.fromBeginning,
    startFrom: start.chosen,
    sessionTimeoutMs,
    heartbeatIntervalMs,
    rebalanceTimeoutMs: intOption('rebalanceTimeoutMs', options.rebalanceTimeoutMs, 60_000, 1_000),
    partitionsConsumedConcurrently: intOption('partitionsConsumedConcurrently', options.partitionsConsumedConcurrently, 4, 1, 1_000),
    maxBytesPerPartition: intOption('maxBytesPerPartition', options.maxBytesPerPartition, 1_048_576, 1_024),
    maxWaitTimeMs: intOption('maxWaitTimeMs', options.maxWaitTimeMs, 100, 0),
    detachAfterMs: intOption('detachAfterMs', options.detachAfterMs, 200, 0),
    logger,
  };
}

function assertObject(options: unknown): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new OptionError('options', options, 'an options object');
  }
}
