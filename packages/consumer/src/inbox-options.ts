import type { Logger, Tables } from '@onceflow/core';
import { defaultSchema, intOption, OptionError, requiredOption, silentLogger, stringOption } from '@onceflow/core';
import type { Knex } from 'knex';
import type { DedupMode, DedupScope } from './dedup.ts';
import type { InboxSql } from './inbox-sql.ts';
import { inboxSqlAndTables } from './inbox-sql.ts';
import type { RedisClient } from './redis-client.ts';

/** Options of {@link Inbox}. `knex` and `consumerName` are required. */
export interface InboxOptions {
  /** The knex instance (PostgreSQL, or MySQL 8 / MariaDB 10.6+ through mysql2) holding Onceflow's tables and your business tables. */
  knex?: Knex;
  /**
   * The inbox's name for this consumer: dedup is per (consumerName, dedup key). Consumers that
   * must not apply the same message twice share a name, even across consumer groups.
   */
  consumerName?: string;
  /**
   * Schema holding Onceflow's tables (on MySQL and MariaDB: the database holding them).
   * @defaultValue ONCEFLOW_SCHEMA, else "onceflow"
   */
  schema?: string;
  /** How the dedup key is derived. @defaultValue 'idempotencyKey' */
  dedup?: DedupMode;
  /**
   * Where a dedup key must be unique: per topic (a message is (topic, dedup key), as in the
   * outbox, so one idempotency key on two topics is two messages and a record on one topic
   * cannot suppress a message on another), or across all this consumer's topics ('consumer',
   * the behaviour before schema version 4; only safe when every topic is trusted and keys
   * are unique across them). Rows written before version 4 keep deduping in either scope.
   * @defaultValue 'topic'
   */
  dedupScope?: DedupScope;
  /** Logger. @defaultValue a silent logger */
  logger?: Logger;
  /** An ioredis client enabling the "already done" fast path in front of the database. @defaultValue none */
  redis?: RedisClient;
  /** How long the fast path remembers a done key; keep it at most the inbox retention. @defaultValue 86400000 (one day) */
  fastPathTtlMs?: number;
  /** Longest wait for Redis before falling through to the database. @defaultValue 50 */
  fastPathTimeoutMs?: number;
  /**
   * Key prefix of fast path entries; schema and consumer name follow it, then a hash over
   * schema, consumer, topic and dedup key each framed by its length, so consumers sharing one
   * Redis never answer for each other.
   * @defaultValue "onceflow:inbox:"
   */
  fastPathPrefix?: string;
}

/** {@link InboxOptions} validated, with defaults applied. */
export interface ResolvedInboxOptions {
  readonly knex: Knex;
  readonly consumerName: string;
  readonly tables: Tables;
  /** The statements, in the SQL of the knex's dialect. */
  readonly sql: InboxSql;
  readonly dedup: DedupMode;
  readonly dedupScope: DedupScope;
  readonly logger: Logger;
  readonly redis: RedisClient | undefined;
  readonly fastPathTtlMs: number;
  readonly fastPathTimeoutMs: number;
  readonly fastPathPrefix: string;
}

/** Validates {@link InboxOptions}; throws OptionError naming the first bad option. */
export function resolveInboxOptions(options: InboxOptions = {}): ResolvedInboxOptions {
  const knex = requiredOption('knex', options.knex, 'a knex instance');
  if (typeof knex !== 'function' || typeof (knex as { transaction?: unknown }).transaction !== 'function') {
    throw new OptionError('knex', knex, 'a knex instance');
  }
  const consumerName = requiredOption('consumerName', options.consumerName, 'a non-empty string naming this consumer in the inbox');
  if (typeof consumerName !== 'string' || consumerName.length === 0 || consumerName.length > 200) {
    throw new OptionError('consumerName', consumerName, 'a non-empty string of at most 200 characters');
  }
  // The name is a key of the inbox's primary key: PostgreSQL text cannot hold U+0000, and a lone
  // surrogate would be stored as U+FFFD, so two names could meet as one.
  if (consumerName.includes('\u0000') || !consumerName.isWellFormed()) {
    throw new OptionError('consumerName', consumerName, 'text without NUL characters or lone UTF-16 surrogates');
  }
  const { sql, tables } = inboxSqlAndTables(knex, options.schema ?? defaultSchema());
  return {
    knex,
    consumerName,
    tables,
    sql,
    dedup: resolveDedup(options.dedup),
    dedupScope: resolveDedupScope(options.dedupScope),
    logger: options.logger ?? silentLogger,
    redis: options.redis,
    fastPathTtlMs: intOption('fastPathTtlMs', options.fastPathTtlMs, 86_400_000, 1_000),
    fastPathTimeoutMs: intOption('fastPathTimeoutMs', options.fastPathTimeoutMs, 50, 1, 60_000),
    fastPathPrefix: stringOption('fastPathPrefix', options.fastPathPrefix, 'onceflow:inbox:'),
  };
}

/** Validates the `dedup` option. */
export function resolveDedup(value: unknown): DedupMode {
  if (value === undefined) return 'idempotencyKey';
  if (value === 'idempotencyKey' || value === 'id' || typeof value === 'function') return value as DedupMode;
  throw new OptionError('dedup', value, "'idempotencyKey', 'id' or a function (message) => string");
}

/** Validates the `dedupScope` option. */
export function resolveDedupScope(value: unknown): DedupScope {
  if (value === undefined) return 'topic';
  if (value === 'topic' || value === 'consumer') return value;
  throw new OptionError('dedupScope', value, "'topic' or 'consumer'");
}
