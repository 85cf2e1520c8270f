import { defaultSchema, intOption, OptionError } from '@onceflow/core';
import type { Knex } from 'knex';
import { relaySqlFor } from './relay-sql.ts';

/** Names the schema of Onceflow's tables. */
export interface SchemaOption {
  /** @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  schema?: string;
}

/** Options of {@link pruneOutbox}. */
export interface PruneOutboxOptions extends SchemaOption {
  /** Delete published rows published longer ago than this. */
  olderThanMs: number;
  /** Rows per delete statement. @defaultValue 1000 */
  batchSize?: number;
  /** Stop after this many statements (0: until done). @defaultValue 0 */
  maxBatches?: number;
  /** Called after each statement with the rows deleted so far (progress of long runs). */
  onProgress?: (deleted: number) => void;
}

/**
 * Deletes published outbox rows older than `olderThanMs` in bounded batches until none are
 * left; returns how many were deleted. Dead and pending rows are kept. On MySQL and MariaDB it
 * also deletes the producers' key-lock rows that no producer holds at that moment.
 */
export async function pruneOutbox(knex: Knex, options: PruneOutboxOptions): Promise<number> {
  const sql = relaySqlFor(knex);
  const tables = sql.tables(options.schema ?? defaultSchema());
  const olderThanMs = intOption('olderThanMs', options.olderThanMs, -1, 0);
  if (olderThanMs < 0) throw new OptionError('olderThanMs', options.olderThanMs, 'a number of milliseconds (0 or more)');
  const batchSize = intOption('batchSize', options.batchSize, 1_000, 1, 100_000);
  const maxBatches = intOption('maxBatches', options.maxBatches, 0, 0);
  let total = 0;
  for (let n = 0; maxBatches === 0 || n < maxBatches; n++) {
    const deleted = await sql.pruneBatch(knex, tables, olderThanMs, batchSize);
    total += deleted;
    options.onProgress?.(total);
    if (deleted < batchSize) break;
  }
  // MySQL: the producers' key-lock rows no producer holds go too (none exist on PostgreSQL),
  // in as many statements' worth of batches as `maxBatches` allows.
  if (sql.pruneKeyLocks !== undefined) {
    let after: string | null = null;
    let batches = 0;
    do after = await sql.pruneKeyLocks(knex, tables, after, batchSize);
    while (after !== null && (maxBatches === 0 || ++batches < maxBatches));
  }
  return total;
}

/** One topic's state in the outbox. */
export interface TopicStatus {
  topic: string;
  /** Pending messages due now: the backlog. */
  backlog: number;
  /** Pending messages not due yet (delayed, or backing off after a failure). */
  waiting: number;
  /** Pending messages that failed at least once. */
  retrying: number;
  /** Attempts spent on pending messages. */
  attempts: number;
  /** Dead messages. */
  dead: number;
  /** Age of the oldest due message in milliseconds, null when none is due. */
  oldestPendingAgeMs: number | null;
}

/** Backlog, oldest pending age, attempts and dead count per topic (for `onceflow status`). */
export async function outboxStatus(knex: Knex, options: SchemaOption = {}): Promise<TopicStatus[]> {
  const sql = relaySqlFor(knex);
  const rows = await sql.selectOutboxStatus(knex, sql.tables(options.schema ?? defaultSchema()));
  return rows.map((r) => ({
    topic: r.topic,
    backlog: r.due,
    waiting: r.delayed,
    retrying: r.retrying,
    attempts: r.attempts,
    dead: r.dead,
    oldestPendingAgeMs: r.oldest_due_age_ms === null ? null : Math.round(r.oldest_due_age_ms),
  }));
}
