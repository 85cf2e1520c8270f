import type { Publisher, RetryPolicyOptions, Subscriber } from '@onceflow/core';
import { boolOption, intOption, isValidTopic, OptionError, RetryPolicy, requiredOption } from '@onceflow/core';
import type { BatchHandler, MessageHandler } from './inbox.ts';
import type { InboxOptions } from './inbox-options.ts';
import type { LeaseStore } from './side-effect/lease-store.ts';
import type { EffectHandler } from './side-effect/side-effect-inbox.ts';

/**
 * Options of {@link InboxConsumer}: the {@link InboxOptions} plus the runner's. Give exactly
 * one of `handler` (transactional mode), `batchHandler` (batch mode) or `effectHandler` with
 * `leaseStore` (side-effect mode).
 */
export interface InboxConsumerOptions<Payload = unknown> extends InboxOptions {
  /** Delivers partition batches, e.g. `new KafkaSubscriber(kafka, { groupId, topics })` from @onceflow/kafka. */
  subscriber?: Subscriber;
  /** Transactional mode: runs in the transaction that records the message in the inbox. */
  handler?: MessageHandler<Payload>;
  /**
   * Batch mode: one call per fetched batch (chunk) with only the new messages, in one
   * transaction. A chunk whose handler fails is tried again message by message; meanwhile the
   * partition's later messages wait (batch mode works a partition as one queue, so a failing
   * message holds back its partition, not only its key).
   */
  batchHandler?: BatchHandler<Payload>;
  /** Side-effect mode: runs under a lease with a fencing token; needs `leaseStore`. */
  effectHandler?: EffectHandler<Payload>;
  /** Side-effect mode's store of leases and done marks. */
  leaseStore?: LeaseStore;
  /** Side-effect lease length. @defaultValue 60000 */
  leaseMs?: number;
  /**
   * Key queues of one partition batch that run at the same time; each key stays in one queue,
   * in order. In transactional mode a batch opens one queue per `maxMessagesPerTransaction`
   * messages, up to this many, so a small batch is one transaction; lower
   * `maxMessagesPerTransaction` to spread slow handlers over more queues. A message waiting for
   * a retry sends the other keys of its queue on in a queue of their own; however many queues
   * that makes, at most this many transactions of one batch run at once (the others wait their
   * turn), so retries never draw more than this on your knex pool. @defaultValue 8
   */
  concurrency?: number;
  /**
   * Transactional mode: messages of one key queue that share a transaction when they are ready
   * together (fewer commits). A failing message is retried alone, so it never holds others'
   * effects back. 1 gives every message its own transaction. @defaultValue 32
   */
  maxMessagesPerTransaction?: number;
  /** Batch mode: most messages per batch transaction. @defaultValue 1000 */
  maxBatchSize?: number;
  /** Attempts of a message (the first included) before it is dead-lettered. @defaultValue 5 */
  maxAttempts?: number;
  /**
   * Backoff before the second attempt: at least this, and with jitter up to twice this; it
   * doubles per attempt, up to `retryMaxDelayMs`. @defaultValue 200
   */
  retryMinDelayMs?: number;
  /** Longest backoff between attempts. @defaultValue 10000 */
  retryMaxDelayMs?: number;
  /** How often group membership is kept alive (and revocation checked) while a batch is worked on. @defaultValue 1000 */
  heartbeatIntervalMs?: number;
  /**
   * Longest wait of `stop()` for running transactions, the last offset commits and leaving the
   * group. While the group's coordinator broker is down these can wait for Kafka's request
   * timeouts; `stop()` then resolves anyway (logged as a warning): the broker drops the member
   * after its session timeout, and offsets not committed are fetched again by the next owner,
   * whose inbox skips what was applied. @defaultValue 20000
   */
  stopTimeoutMs?: number;
  /** Also publish dead letters to this topic (needs `deadLetterPublisher`). @defaultValue none (table only) */
  deadLetterTopic?: string;
  /** Publisher for `deadLetterTopic`; the consumer connects it at start, you disconnect it. */
  deadLetterPublisher?: Publisher;
  /**
   * Handle only messages of these types (the `onceflow-type` header, `ConsumedMessage.type`),
   * like tags: any other message is skipped without an inbox row and without calling the
   * handler, and its offset is committed as finished (counted as `filtered`, event
   * `inbox:filtered`). A record without a type header is skipped too. Each entry must be a
   * non-empty string. @defaultValue every message
   */
  types?: readonly string[];
  /** Check the Onceflow schema version at start. @defaultValue true */
  checkSchema?: boolean;
  /**
   * Refuse to start when a topic it uses has replication factor below 3 or min.insync.replicas
   * below 2 (acks=all then survives no broker loss). Off: such topics are logged as warnings.
   * @defaultValue false
   */
  strictReplication?: boolean;
}

/** The mode an {@link InboxConsumer} runs in, with its handler. */
export type ConsumerMode =
  | { readonly kind: 'transactional'; readonly handler: MessageHandler<unknown> }
  | { readonly kind: 'batch'; readonly handler: BatchHandler<unknown> }
  | { readonly kind: 'side-effect'; readonly handler: EffectHandler<unknown>; readonly store: LeaseStore };

/** The runner's options of {@link InboxConsumerOptions}, validated. */
export interface ResolvedConsumerOptions {
  readonly subscriber: Subscriber;
  readonly mode: ConsumerMode;
  readonly leaseMs: number;
  readonly concurrency: number;
  readonly maxMessagesPerTransaction: number;
  readonly maxBatchSize: number;
  readonly maxAttempts: number;
  readonly retryMinDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly heartbeatIntervalMs: number;
  readonly stopTimeoutMs: number;
  readonly deadLetter: { readonly topic: string; readonly publisher: Publisher } | undefined;
  /** The message types to handle; undefined: every message. */
  readonly types: ReadonlySet<string> | undefined;
  readonly checkSchema: boolean;
  readonly strictReplication: boolean;
}

/** Validates the runner's options; throws OptionError naming the first bad one. */
export function resolveConsumerOptions<Payload>(options: InboxConsumerOptions<Payload>): ResolvedConsumerOptions {
  const subscriber = requiredOption('subscriber', options.subscriber, 'a Subscriber (e.g. KafkaSubscriber)');
  if (typeof subscriber.start !== 'function' || typeof subscriber.stop !== 'function') {
    throw new OptionError('subscriber', subscriber, 'a Subscriber with start() and stop()');
  }
  const retryMinDelayMs = intOption('retryMinDelayMs', options.retryMinDelayMs, 200, 0, 3_600_000);
  const retryMaxDelayMs = intOption('retryMaxDelayMs', options.retryMaxDelayMs, 10_000, 0, 3_600_000);
  if (retryMaxDelayMs < retryMinDelayMs) {
    throw new OptionError('retryMaxDelayMs', retryMaxDelayMs, `at least retryMinDelayMs (${retryMinDelayMs})`);
  }
  return {
    subscriber,
    mode: resolveMode(options),
    leaseMs: intOption('leaseMs', options.leaseMs, 60_000, 1),
    concurrency: intOption('concurrency', options.concurrency, 8, 1, 1_000),
    maxMessagesPerTransaction: intOption('maxMessagesPerTransaction', options.maxMessagesPerTransaction, 32, 1, 1_000),
    maxBatchSize: intOption('maxBatchSize', options.maxBatchSize, 1_000, 1, 100_000),
    maxAttempts: intOption('maxAttempts', options.maxAttempts, 5, 1, 1_000),
    retryMinDelayMs,
    retryMaxDelayMs,
    heartbeatIntervalMs: intOption('heartbeatIntervalMs', options.heartbeatIntervalMs, 1_000, 10, 600_000),
    stopTimeoutMs: intOption('stopTimeoutMs', options.stopTimeoutMs, 20_000, 0, 3_600_000),
    deadLetter: resolveDeadLetter(options),
    types: resolveTypes(options.types),
    checkSchema: boolOption('checkSchema', options.checkSchema, true),
    strictReplication: boolOption('strictReplication', options.strictReplication, false),
  };
}

function resolveMode<Payload>(options: InboxConsumerOptions<Payload>): ConsumerMode {
  const given = (['handler', 'batchHandler', 'effectHandler'] as const).filter((name) => options[name] !== undefined);
  if (given.length !== 1) {
    throw new OptionError(
      given.length === 0 ? 'handler' : given.join('+'),
      given.length === 0 ? undefined : 'several handlers',
      'exactly one of handler (transactional), batchHandler (batch) or effectHandler (side effects, with leaseStore)',
    );
  }
  for (const name of given) {
    if (typeof options[name] !== 'function') throw new OptionError(name, options[name], 'a function');
  }
  if (options.handler !== undefined) return { kind: 'transactional', handler: options.handler as MessageHandler<unknown> };
  if (options.batchHandler !== undefined) return { kind: 'batch', handler: options.batchHandler as BatchHandler<unknown> };
  const store = requiredOption('leaseStore', options.leaseStore, 'a LeaseStore (PostgresLeaseStore or RedisLeaseStore) for effectHandler');
  return { kind: 'side-effect', handler: options.effectHandler as EffectHandler<unknown>, store };
}

/**
 * The consumer's one {@link RetryPolicy}: attempts, backoff and the retriable judgement. No wait
 * is shorter than `retryMinDelayMs` nor longer than `retryMaxDelayMs`; the first retry waits
 * between the minimum and twice it, and each later step doubles.
 */
export function consumerRetryPolicy(
  options: Pick<ResolvedConsumerOptions, 'maxAttempts' | 'retryMinDelayMs' | 'retryMaxDelayMs'>,
  clock: Pick<RetryPolicyOptions, 'random' | 'sleep'> = {},
): RetryPolicy {
  const { maxAttempts, retryMinDelayMs, retryMaxDelayMs } = options;
  return new RetryPolicy({
    maxAttempts,
    // The policy's equal jitter draws from the upper half of each step: a first step of twice
    // the minimum keeps the first wait between the minimum and twice it.
    minDelayMs: Math.min(2 * retryMinDelayMs, retryMaxDelayMs),
    maxDelayMs: retryMaxDelayMs,
    minWaitMs: retryMinDelayMs,
    ...clock,
  });
}

function resolveTypes(types: unknown): ReadonlySet<string> | undefined {
  if (types === undefined) return undefined;
  if (!Array.isArray(types) || types.length === 0) throw new OptionError('types', types, 'a non-empty array of message types');
  for (const [i, type] of types.entries()) {
    if (typeof type !== 'string' || type.length === 0) throw new OptionError(`types[${i}]`, type, 'a non-empty string (a message type)');
  }
  return new Set(types as string[]);
}

function resolveDeadLetter<Payload>(options: InboxConsumerOptions<Payload>): ResolvedConsumerOptions['deadLetter'] {
  const { deadLetterTopic: topic, deadLetterPublisher: publisher } = options;
  if (topic === undefined && publisher === undefined) return undefined;
  if (!isValidTopic(topic)) throw new OptionError('deadLetterTopic', topic, 'a Kafka topic name (set together with deadLetterPublisher)');
  if (publisher === undefined || typeof publisher.publish !== 'function') {
    throw new OptionError('deadLetterPublisher', publisher, 'a Publisher (set together with deadLetterTopic)');
  }
  return { topic, publisher };
}
