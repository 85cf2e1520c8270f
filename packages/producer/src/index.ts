export type { MigrateOptions } from '@onceflow/core';
// Re-exported so a service that installs only this package can create Onceflow's tables.
export { knexMigrationConfig, migrate, onceflowKnexfile } from '@onceflow/core';
export type { OutboxWriterOptions, ResolvedOutboxWriterOptions } from './options.ts';
export { resolveOutboxWriterOptions } from './options.ts';
export type { EnqueuedMessage } from './outbox-writer.ts';
export { DuplicateMessageError, enqueue, OutboxWriter } from './outbox-writer.ts';
