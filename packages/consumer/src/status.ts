import { defaultSchema } from '@onceflow/core';
import type { Knex } from 'knex';
import { inboxSqlAndTables } from './inbox-sql.ts';

/**
 * One consumer's state in the database. Duplicates skipped are not here: they are counted in
 * memory by each running consumer (`stats()`, the `inbox:duplicate` event), never stored.
 */
export interface ConsumerStatus {
  consumer: string;
  /** Inbox rows of handled messages (within the retention window). */
  inboxRows: number;
  /** Inbox rows of side-effect handlers still running or abandoned with a live lease. */
  processing: number;
  /** Dead letters not replayed yet. */
  deadLetters: number;
  /** Dead letters already replayed (kept as history until purged). */
  replayed: number;
  /** When the oldest dead letter not replayed yet was stored, null when there is none. */
  oldestDeadLetterAt: Date | null;
}

/** Inbox rows and dead letters per consumer (for `onceflow status`). */
export async function consumerStatus(knex: Knex, options: { schema?: string } = {}): Promise<ConsumerStatus[]> {
  const { sql, tables } = inboxSqlAndTables(knex, options.schema ?? defaultSchema());
  const rows = await sql.selectConsumerStatus(knex, tables);
  return rows.map((r) => ({
    consumer: r.consumer,
    inboxRows: r.done,
    processing: r.processing,
    deadLetters: r.dead,
    replayed: r.replayed,
    oldestDeadLetterAt: r.oldest_dead_at,
  }));
}
