import type { Tables } from '@onceflow/core';
import { defaultSchema, intOption, OptionError, requiredOption, tablesFor } from '@onceflow/core';
import type { Knex } from 'knex';
import { inboxSqlAndTables } from './inbox-sql.ts';

/** Options of {@link pruneInbox}. `retentionMs` and `redeliveryHorizonMs` are required. */
export interface InboxRetentionOptions {
  /** Schema holding Onceflow's tables (on MySQL and MariaDB, the database). @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  schema?: string;
  /** Only this consumer's rows. @defaultValue every consumer */
  consumerName?: string;
  /** Inbox rows older than this are removed. No default: it must exceed `redeliveryHorizonMs`. */
  retentionMs?: number;
  /**
   * The longest time after which a copy of a message can still arrive: Kafka topic retention,
   * the relay's longest retry and republish window, replays. No default: you know your system.
   */
  redeliveryHorizonMs?: number;
  /** Rows deleted per statement. @defaultValue 1000 */
  batchSize?: number;
  /** Most statements per call, so one call stays bounded. @defaultValue 1000 */
  maxBatches?: number;
  /** Called after each statement with the rows removed so far (progress of long runs). */
  onProgress?: (deleted: number) => void;
}

/** {@link InboxRetentionOptions} validated. */
export interface ResolvedInboxRetentionOptions {
  readonly tables: Tables;
  readonly consumerName: string | null;
  readonly retentionMs: number;
  readonly redeliveryHorizonMs: number;
  readonly batchSize: number;
  readonly maxBatches: number;
}

/**
 * Validates retention options. A window not longer than the redelivery horizon is refused: an
 * inbox row deleted while a copy of its message can still arrive lets that copy run again.
 */
export function resolveInboxRetentionOptions(options: InboxRetentionOptions): ResolvedInboxRetentionOptions {
  const horizon = intOption(
    'redeliveryHorizonMs',
    requiredOption(
      'redeliveryHorizonMs',
      options.redeliveryHorizonMs,
      'the longest time after which a copy of a message can still arrive, in ms',
    ),
    0,
    0,
  );
  const retentionMs = intOption(
    'retentionMs',
    requiredOption('retentionMs', options.retentionMs, 'how long inbox rows are kept, in ms'),
    0,
    1,
  );
  if (retentionMs <= horizon) {
    throw new OptionError(
      'retentionMs',
      retentionMs,
      `more than redeliveryHorizonMs (${horizon}): an inbox row removed while a copy of its message can still be redelivered would let that copy run its effect again`,
    );
  }
  if (options.consumerName !== undefined && (typeof options.consumerName !== 'string' || options.consumerName === '')) {
    throw new OptionError('consumerName', options.consumerName, 'a non-empty string');
  }
  return {
    tables: tablesFor(options.schema ?? defaultSchema()),
    consumerName: options.consumerName ?? null,
    retentionMs,
    redeliveryHorizonMs: horizon,
    batchSize: intOption('batchSize', options.batchSize, 1_000, 1, 100_000),
    maxBatches: intOption('maxBatches', options.maxBatches, 1_000, 1),
  };
}

/**
 * Removes `done` inbox rows older than the retention window, in bounded batches (one short
 * transaction each). Returns how many rows were removed.
 */
export async function pruneInbox(knex: Knex, options: InboxRetentionOptions): Promise<number> {
  const o = resolveInboxRetentionOptions(options);
  const { sql, tables } = inboxSqlAndTables(knex, o.tables.schema);
  let total = 0;
  for (let n = 0; n < o.maxBatches; n++) {
    const deleted = await sql.deleteOldInboxRows(knex, tables, o.consumerName, o.retentionMs, o.batchSize);
    total += deleted;
    options.onProgress?.(total);
    if (deleted < o.batchSize) break;
  }
  return total;
}
