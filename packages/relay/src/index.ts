export type { MigrateOptions } from '@onceflow/core';
// Re-exported so a service that installs only this package can create Onceflow's tables.
export { knexMigrationConfig, migrate, onceflowKnexfile } from '@onceflow/core';
export type {
  AttemptError,
  DeadMessage,
  ListDeadOptions,
  PruneOutboxOptions,
  RequeueSelection,
  SchemaOption,
  TopicStatus,
} from './admin.ts';
export { listDead, outboxStatus, pruneOutbox, requeueDead } from './admin.ts';
export { backoffMs } from './backoff.ts';
export type { RelayEvents, RelayStats } from './events.ts';
export type { HealthCheck, RelayLiveness, RelayReadiness } from './health.ts';
export { relayLiveness, relayReadiness } from './health.ts';
export type { MetricsSource, RelayHttpServer, RelayHttpServerOptions } from './http-server.ts';
export { startRelayHttpServer } from './http-server.ts';
export { leasePlan, shardShare } from './lease-share.ts';
export type { RelayProcess, RelayProcessOptions } from './main.ts';
export { runRelayProcess } from './main.ts';
export type { OnDead, RelayOptions, ResolvedRelayOptions } from './options.ts';
export { defaultRelayId, resolveRelayOptions } from './options.ts';
export { failureScope } from './publish-rows.ts';
export type { RelayState } from './relay.ts';
export { Relay } from './relay.ts';
