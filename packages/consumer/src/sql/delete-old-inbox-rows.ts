import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/**
 * Deletes at most `limit` `done` inbox rows older than `olderThanMs`, optionally of one
 * consumer. SKIP LOCKED lets several pruners (or a pruner and live consumers) run without
 * waiting on each other; bounded batches keep each transaction and its WAL small.
 */
export async function deleteOldInboxRows(
  knex: Knex,
  tables: Tables,
  consumer: string | null,
  olderThanMs: number,
  limit: number,
): Promise<number> {
  const result = await knex.raw(
    `delete from ${tables.inbox}
     where ctid = any(array(
       select ctid from ${tables.inbox}
       where status = 'done'
         and processed_at < clock_timestamp() - ?::double precision * interval '1 millisecond'
         and (?::text is null or consumer = ?::text)
       limit ?
       for update skip locked))`,
    [olderThanMs, consumer, consumer, limit],
  );
  return result.rowCount ?? 0;
}
