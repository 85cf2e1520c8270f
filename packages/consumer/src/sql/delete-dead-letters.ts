import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/** Which dead letters {@link deleteDeadLetters} removes; null fields match every row. */
export interface DeadLetterPurgeFilter {
  consumer: string | null;
  ids: string[] | null;
}

/**
 * Deletes at most `limit` dead letters matching `filter` (replayed or not), oldest first, and
 * returns how many. Bounded so each statement's locks and WAL stay small; a consumer storing a
 * new dead letter meanwhile inserts a row this statement did not pick, and is never blocked.
 */
export async function deleteDeadLetters(knex: Knex, tables: Tables, filter: DeadLetterPurgeFilter, limit: number): Promise<number> {
  const result = await knex.raw(
    `delete from ${tables.deadLetters}
     where id in (
       select id from ${tables.deadLetters}
       where (?::text is null or consumer = ?::text)
         and (?::bigint[] is null or id = any(?::bigint[]))
       order by id
       limit ?
       for update)`,
    [filter.consumer, filter.consumer, filter.ids, filter.ids, limit],
  );
  return result.rowCount ?? 0;
}
