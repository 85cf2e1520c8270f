import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/**
 * Deletes at most `limit` published rows older than `olderThanMs` and returns how many.
 * Bounded so no statement holds many row locks for long; SKIP LOCKED lets relays pruning at
 * the same time take different rows instead of waiting on each other. Dead and pending rows
 * are never touched.
 */
export async function pruneBatch(knex: Knex, tables: Tables, olderThanMs: number, limit: number): Promise<number> {
  const result = await knex.raw(
    `delete from ${tables.outbox}
     where id in (
       select id from ${tables.outbox}
       where status = 'published' and published_at < now() - ? * interval '1 millisecond'
       order by published_at
       limit ?
       for update skip locked
     )`,
    [olderThanMs, limit],
  );
  return result.rowCount ?? 0;
}
