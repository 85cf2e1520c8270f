export type { AttemptError } from './attempt-error.ts';
export type { Dialect } from './dialect.ts';
export { dialectOf } from './dialect.ts';
export type { ErrorCode, OnceflowErrorOptions, PublishErrorScope } from './errors.ts';
export {
  describeValue,
  ErrorCodes,
  FatalHandlerError,
  isRetriable,
  migrateCommandFor,
  OnceflowError,
  OptionError,
  PublishError,
  RuntimeVersionError,
  SchemaVersionError,
  StartPositionError,
  ValidationError,
} from './errors.ts';
export { TypedEmitter } from './events.ts';
export { fnv1a32, keyLockId, SHARD_COUNT, shardOf } from './hash.ts';
export type { Headers } from './headers.ts';
export { decodeHeaders, HeaderNames } from './headers.ts';
export { assertIdentifier, isValidTopic, qualifiedName, quoteIdentifier } from './identifiers.ts';
export { isUuid, newMessageId } from './ids.ts';
export type { KnexDialect } from './knex-adapter.ts';
export { afterCommit, knexConnectionSettings, knexDialect, knexPoolMax } from './knex-adapter.ts';
export type { LogFields, Logger, LogLevel } from './logger.ts';
export { createJsonLogger, REDACTED_FIELDS, silentLogger } from './logger.ts';
export type { EncodedMessage, MessageInput, MessageLimits } from './message.ts';
export { DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_HEADERS, encodeMessage, encodePayload, MAX_KEY_BYTES } from './message.ts';
export type { MigrateOptions } from './migrate.ts';
export {
  checkSchemaVersion,
  dropSchema,
  installedVersion,
  knexMigrationConfig,
  MIGRATIONS_TABLE,
  migrate,
  missingSchemaError,
  onceflowKnexfile,
} from './migrate.ts';
export { mysqlErrno, mysqlMissingSchemaError } from './migrate-mysql.ts';
export type { MigrationSql, MigrationSqlOptions } from './migration-sql.ts';
export { migrationSql } from './migration-sql.ts';
export type { AppliedMigration, MigrationStatus } from './migration-status.ts';
export { migrationStatus } from './migration-status.ts';
export { MYSQL_DEADLOCK, MYSQL_DUPLICATE_KEY, MYSQL_LOCK_WAIT_TIMEOUT, mysqlLockConflict, mysqlRetriable } from './mysql-errors.ts';
export { hasMysqlRelays, onMysqlCommit, wakeMysqlRelays } from './mysql-wakeups.ts';
export { boolOption, choiceOption, intOption, requiredOption, stringOption } from './options.ts';
export { prepared } from './prepared.ts';
export { decodeRawHeaders, encodeRawHeaders } from './raw-headers.ts';
export { checkReplication, DURABLE_REPLICATION, ReplicationError, replicationProblems } from './replication.ts';
export type { RetryDecision, RetryNotice, RetryPolicyOptions, RetryRunOptions, RetryStop, Sleeper } from './retry-policy.ts';
export { RetryPolicy, RetryStopped, sleep } from './retry-policy.ts';
export type { PeerName, SupportedRange } from './runtime.ts';
export { assertNodeVersion, assertPeerVersion, checkPeerVersion, inRange, SUPPORTED_NODE, SUPPORTED_PEERS } from './runtime.ts';
export type { Tables } from './schema.ts';
export { channelFor, DEFAULT_SCHEMA, defaultSchema, SCHEMA_VERSION, tablesFor } from './schema.ts';
export type { MysqlTables } from './schema-mysql.ts';
export { mysqlTablesFor, quoteMysqlIdentifier, tablesForDialect } from './schema-mysql.ts';
export { withTimeout } from './timeout.ts';
export type { PublishSpan, SpanAttributes } from './tracing.ts';
export {
  activeTraceHeaders,
  recordProcessOutcome,
  startPublishSpan,
  withBatchProcessSpan,
  withProcessSpan,
} from './tracing.ts';
export type {
  IncomingRecord,
  OutgoingRecord,
  PartitionBatch,
  Publisher,
  RawHeader,
  RawRecordParts,
  StartFrom,
  StartPosition,
  Subscriber,
  TopicFacts,
} from './transport.ts';
