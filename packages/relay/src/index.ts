export type { MigrateOptions } from '@onceflow/core';
// Re-exported so a service that installs only this package can create Onceflow's tables.
export { knexMigrationConfig, migrate, onceflowKnexfile } from '@onceflow/core';
export type { PruneOutboxOptions, SchemaOption, TopicStatus } from './admin.ts';
export { outboxStatus, pruneOutbox } from './admin.ts';
export { backoffMs } from './backoff.ts';
export type { AttemptError, DeadBatchOptions, DeadMessage, DeadSelection, ListDeadOptions, RequeueSelection } from './dead-admin.ts';
export { getDead, listDead, purgeDead, requeueDead } from './dead-admin.ts';
export { DeadMessageError } from './errors.ts';
export type { RelayEvents, RelayStats } from './events.ts';
export { leasePlan, shardShare } from './lease-share.ts';
export type { RelayProcess, RelayProcessOptions } from './main.ts';
export { runRelayProcess } from './main.ts';
export type { OnDead, RelayOptions, ResolvedRelayOptions } from './options.ts';
export { defaultRelayId, resolveRelayOptions } from './options.ts';
export { failureScope } from './publish-rows.ts';
export { Relay } from './relay.ts';
