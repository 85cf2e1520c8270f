import { hostname } from 'node:os';
import type { Logger, Publisher, Tables } from '@onceflow/core';
import {
  boolOption,
  choiceOption,
  defaultSchema,
  dialectOf,
  intOption,
  OptionError,
  silentLogger,
  stringOption,
  tablesForDialect,
} from '@onceflow/core';
import type { Knex } from 'knex';
import type { ClientConfig } from 'pg';

/** What a dead message does to later messages of its key. */
export type OnDead = 'skip' | 'block';

/** Options of {@link Relay}. Durations are in milliseconds. */
export interface RelayOptions {
  /** A knex instance on the database holding the outbox (a pool: the relay runs statements in parallel). */
  knex: Knex;
  /** Where records go; the relay connects it on start and disconnects it on stop. */
  publisher: Publisher;
  /** Schema holding Onceflow's tables. @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  schema?: string;
  /** This relay's name in `relays` and `relay_shards`; must be unique among live relays. @defaultValue host-pid-random */
  relayId?: string;
  /** Most rows claimed and published in one batch (one select, one send, one update). @defaultValue 1000 */
  batchSize?: number;
  /**
   * Most estimated record bytes in one send to the broker. A claimed batch larger than this
   * goes out in several sends, so no request reaches the broker's limits however large the
   * rows; it is further capped by the smallest `max.message.bytes` of the batch's topics.
   * @defaultValue 524288 (512 KiB)
   */
  maxBatchBytes?: number;
  /**
   * The largest record any topic accepts, in bytes. A row larger than its topic accepts is
   * dead at once, never sent. @defaultValue each topic's `max.message.bytes`, read from the
   * cluster through the publisher where it can tell (else the broker judges)
   */
  maxRecordBytes?: number;
  /**
   * Most batches in flight at once in this relay (its lanes; each lane in use serves a part of
   * the relay's shards, one batch at a time). Give `knex` a pool of at least twice this plus
   * two. The relay uses one lane while batches come back partial (a steady rate: one batch
   * then carries all new rows, fewer statements and sends per message) and all of them once a
   * batch is full (a backlog, drained in parallel); it goes back to one lane after 2 s
   * without a full batch. With `listen: false` every lane is always in use, each polling its
   * shards on its own timer, so the rows found are spread over the poll interval.
   * @defaultValue 4
   */
  concurrency?: number;
  /**
   * Idle shards look for work this often even without a notification. On MySQL and MariaDB
   * (no notifications) the longest wait of an adaptive poll: a lane whose last read found rows
   * reads again within milliseconds, and an idle one waits twice as long each time up to this.
   * @defaultValue 1000
   */
  pollIntervalMs?: number;
  /**
   * Lifetime of a shard lease. A killed relay's shards are taken over after at most this long
   * (plus one renewal interval); leases are renewed every third of it. @defaultValue 15000
   */
  leaseMs?: number;
  /** Attempts of a message before it is dead (broker-wide outages never count). @defaultValue 10 */
  maxAttempts?: number;
  /** Backoff after the first failure of a message or of the broker. @defaultValue 500 */
  minBackoffMs?: number;
  /** Longest backoff between two attempts. @defaultValue 60000 */
  maxBackoffMs?: number;
  /**
   * `'skip'`: a dead message lets later messages of its key go on (order is broken only around
   * the parked message). `'block'`: it holds them back until it is requeued. @defaultValue 'skip'
   */
  onDead?: OnDead;
  /**
   * Wake idle shards on PostgreSQL notifications from committing producers. Ignored on MySQL and
   * MariaDB, which have no notifications (producers in the relay's process wake it directly).
   * @defaultValue true
   */
  listen?: boolean;
  /**
   * Connection of the dedicated LISTEN client (a pg connection string or config).
   * @defaultValue the connection settings of `knex`
   */
  listenConnection?: string | ClientConfig;
  /** Structured log output. @defaultValue a silent logger */
  logger?: Logger;
  /**
   * Published rows older than this are deleted in bounded batches; 0 turns pruning off.
   * Dead rows are never pruned. @defaultValue 604800000 (7 days)
   */
  retentionMs?: number;
  /** How often this relay prunes published rows. @defaultValue 60000 */
  pruneIntervalMs?: number;
  /**
   * Delete a row as soon as Kafka acknowledged it instead of marking it published. Faster (a
   * delete writes no new row version), but published rows leave no history, and enqueueing an
   * idempotency key whose message was already published makes a new message (the consumers'
   * inbox still gives it no second effect). @defaultValue false
   */
  deletePublished?: boolean;
  /**
   * Refuse to start when a topic it uses has replication factor below 3 or min.insync.replicas
   * below 2 (acks=all then survives no broker loss). Off: such topics are logged as warnings.
   * @defaultValue false
   */
  strictReplication?: boolean;
  /** Rows deleted per prune statement, so no delete holds locks for long. @defaultValue 1000 */
  pruneBatchSize?: number;
  /**
   * How long `stop()` waits for in-flight batches (a send to an unreachable broker can take a
   * while) before it releases the leases anyway. A batch still in flight then can no longer
   * mark its rows (the fence refuses), so they are published again by the next holder:
   * a duplicate at worst, never a loss. @defaultValue 10000
   */
  stopTimeoutMs?: number;
}

/** {@link RelayOptions} with every default applied. */
export interface ResolvedRelayOptions {
  readonly knex: Knex;
  readonly publisher: Publisher;
  readonly tables: Tables;
  readonly relayId: string;
  readonly batchSize: number;
  readonly maxBatchBytes: number;
  readonly maxRecordBytes: number | undefined;
  readonly concurrency: number;
  readonly pollIntervalMs: number;
  readonly leaseMs: number;
  readonly maxAttempts: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly onDead: OnDead;
  readonly listen: boolean;
  readonly listenConnection: string | ClientConfig | undefined;
  readonly logger: Logger;
  readonly retentionMs: number;
  readonly pruneIntervalMs: number;
  readonly deletePublished: boolean;
  readonly strictReplication: boolean;
  readonly pruneBatchSize: number;
  readonly stopTimeoutMs: number;
}

/** A default relay id: host, process id and a random suffix, so a restarted process is a new relay. */
export function defaultRelayId(): string {
  return `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Validates options and applies defaults; throws OptionError naming the first bad option and its value. */
export function resolveRelayOptions(options: RelayOptions): ResolvedRelayOptions {
  if (options === null || typeof options !== 'object') throw new OptionError('options', options, 'an object with knex and publisher');
  const { knex, publisher } = options;
  if (typeof knex !== 'function' || typeof (knex as { raw?: unknown }).raw !== 'function') {
    throw new OptionError('knex', knex, 'a knex instance');
  }
  if (publisher === null || typeof publisher !== 'object' || typeof publisher.publish !== 'function') {
    throw new OptionError('publisher', publisher, 'a Publisher (connect, publish, disconnect)');
  }
  const relayId = stringOption('relayId', options.relayId, defaultRelayId());
  if (relayId.length > 200) throw new OptionError('relayId', relayId, 'at most 200 characters');
  const leaseMs = intOption('leaseMs', options.leaseMs, 15_000, 300, 3_600_000);
  const minBackoffMs = intOption('minBackoffMs', options.minBackoffMs, 500, 1, 3_600_000);
  const maxBackoffMs = intOption('maxBackoffMs', options.maxBackoffMs, 60_000, 1, 86_400_000);
  if (maxBackoffMs < minBackoffMs)
    throw new OptionError('maxBackoffMs', maxBackoffMs, `a value of at least minBackoffMs (${minBackoffMs})`);
  const listenConnection = options.listenConnection;
  if (
    listenConnection !== undefined &&
    !(typeof listenConnection === 'string' && listenConnection.length > 0) &&
    !(listenConnection !== null && typeof listenConnection === 'object')
  ) {
    throw new OptionError('listenConnection', listenConnection, 'a PostgreSQL connection string or pg client config');
  }
  const logger = options.logger ?? silentLogger;
  if (typeof logger?.child !== 'function') throw new OptionError('logger', logger, 'a Logger with debug/info/warn/error/child');
  return {
    knex,
    publisher,
    // The dialect is decided here, once: the table names are quoted for it.
    tables: tablesForDialect(dialectOf(knex), options.schema ?? defaultSchema()),
    relayId,
    batchSize: intOption('batchSize', options.batchSize, 1_000, 1, 100_000),
    maxBatchBytes: intOption('maxBatchBytes', options.maxBatchBytes, 524_288, 1_024, 100_000_000),
    maxRecordBytes:
      options.maxRecordBytes === undefined ? undefined : intOption('maxRecordBytes', options.maxRecordBytes, 0, 100, 1_000_000_000),
    concurrency: intOption('concurrency', options.concurrency, 4, 1, 64),
    pollIntervalMs: intOption('pollIntervalMs', options.pollIntervalMs, 1_000, 10, 3_600_000),
    leaseMs,
    maxAttempts: intOption('maxAttempts', options.maxAttempts, 10, 1, 1_000_000),
    minBackoffMs,
    maxBackoffMs,
    onDead: choiceOption('onDead', options.onDead, 'skip', ['skip', 'block'] as const),
    listen: boolOption('listen', options.listen, true),
    listenConnection,
    logger: logger.child({ relayId }),
    retentionMs: intOption('retentionMs', options.retentionMs, 7 * 24 * 3_600_000, 0),
    pruneIntervalMs: intOption('pruneIntervalMs', options.pruneIntervalMs, 60_000, 100),
    deletePublished: boolOption('deletePublished', options.deletePublished, false),
    strictReplication: boolOption('strictReplication', options.strictReplication, false),
    pruneBatchSize: intOption('pruneBatchSize', options.pruneBatchSize, 1_000, 1, 100_000),
    stopTimeoutMs: intOption('stopTimeoutMs', options.stopTimeoutMs, 10_000, 0),
  };
}
