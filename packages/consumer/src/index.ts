export type { AttemptError, MigrateOptions } from '@onceflow/core';
// Re-exported so a service that installs only this package can create Onceflow's tables, and
// can tell the refusal of a new consumer group (StartPositionError) by class.
export { knexMigrationConfig, migrate, onceflowKnexfile, StartPositionError } from '@onceflow/core';
export type { ConsumedMessage } from './consumed-message.ts';
export { describeRecord, toConsumedMessage } from './consumed-message.ts';
export type { InboxConsumerEvents, InboxConsumerStats } from './consumer-events.ts';
export type { ConsumerMode, InboxConsumerOptions, ResolvedConsumerOptions } from './consumer-options.ts';
export { resolveConsumerOptions } from './consumer-options.ts';
export { DeadLetterHeaders, RawDeadLetterHeaders } from './dead-letter-message.ts';
export type {
  DeadLetter,
  DeadLetterBatchOptions,
  DeadLetterSelection,
  DeadLettersOptions,
  ListDeadLettersOptions,
} from './dead-letters.ts';
export { DeadLetters } from './dead-letters.ts';
export type { DedupMode, DedupScope } from './dedup.ts';
export { dedupKeyOf, MAX_DEDUP_KEY_BYTES } from './dedup.ts';
export { DeadLetterError, DedupKeyError, LeaseStoreError } from './errors.ts';
export type { BatchHandler, GroupResult, InboxOutcome, MessageHandler } from './inbox.ts';
export { GroupFailure, Inbox } from './inbox.ts';
export { InboxConsumer } from './inbox-consumer.ts';
export type { InboxOptions, ResolvedInboxOptions } from './inbox-options.ts';
export { resolveInboxOptions } from './inbox-options.ts';
export type { InboxSql } from './inbox-sql.ts';
export { OffsetTracker } from './offset-tracker.ts';
export type { RedisClient, RedisPipeline } from './redis-client.ts';
export type { InboxRetentionOptions, ResolvedInboxRetentionOptions } from './retention.ts';
export { pruneInbox, resolveInboxRetentionOptions } from './retention.ts';
export type { LeaseAcquisition, LeaseStore } from './side-effect/lease-store.ts';
export type { MysqlLeaseStoreOptions } from './side-effect/mysql-lease-store.ts';
export { MysqlLeaseStore } from './side-effect/mysql-lease-store.ts';
export type { PostgresLeaseStoreOptions } from './side-effect/postgres-lease-store.ts';
export { PostgresLeaseStore } from './side-effect/postgres-lease-store.ts';
export type { RedisLeaseStoreOptions } from './side-effect/redis-lease-store.ts';
export { RedisLeaseStore } from './side-effect/redis-lease-store.ts';
export type {
  EffectHandler,
  EffectOutcome,
  Lease,
  ResolvedSideEffectInboxOptions,
  SideEffectInboxOptions,
} from './side-effect/side-effect-inbox.ts';
export { resolveSideEffectInboxOptions, SideEffectInbox } from './side-effect/side-effect-inbox.ts';
export type { ConsumerStatus } from './status.ts';
export { consumerStatus } from './status.ts';
