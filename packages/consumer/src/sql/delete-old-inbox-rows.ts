import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/**
 * Prefix of the `meta` row that notes, per consumer, that retention removed some of its inbox
 * rows (the consumer name follows it). It outlives the rows: a new consumer group on that name
 * then knows the inbox no longer remembers everything it applied.
 */
export const INBOX_PRUNED_PREFIX = 'inbox_pruned:';

/**
 * Deletes at most `limit` `done` inbox rows older than `olderThanMs`, optionally of one
 * consumer, and notes in `meta` each consumer that lost rows (with the time). SKIP LOCKED lets
 * several pruners (or a pruner and live consumers) run without waiting on each other; bounded
 * batches keep each transaction and its WAL small. The note is written in the same statement,
 * so no row is ever gone without it.
 */
export async function deleteOldInboxRows(
  knex: Knex,
  tables: Tables,
  consumer: string | null,
  olderThanMs: number,
  limit: number,
): Promise<number> {
  const result = await knex.raw(
    `with deleted as (
       delete from ${tables.inbox}
       where ctid = any(array(
         select ctid from ${tables.inbox}
         where status = 'done'
           and processed_at < clock_timestamp() - ?::double precision * interval '1 millisecond'
           and (?::text is null or consumer = ?::text)
         limit ?
         for update skip locked))
       returning consumer),
     noted as (
       insert into ${tables.meta} (name, value)
       select ?::text || consumer, clock_timestamp()::text from (select distinct consumer from deleted) d
       on conflict (name) do update set value = excluded.value)
     select count(*)::int as deleted from deleted`,
    [olderThanMs, consumer, consumer, limit, INBOX_PRUNED_PREFIX],
  );
  return (result.rows as Array<{ deleted: number }>)[0]?.deleted ?? 0;
}
