import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/** One consumer's line of {@link selectConsumerStatus}. */
export interface ConsumerStatusRow {
  consumer: string;
  done: number;
  processing: number;
  dead: number;
  replayed: number;
  oldest_dead_at: Date | null;
}

/**
 * Per consumer: inbox rows done and processing (side-effect mode), dead letters waiting and
 * already replayed, and when the oldest waiting one was stored. Counting the inbox reads the
 * (consumer, dedup_key) primary key, a walk over every inbox row kept by the retention window;
 * it is an operator's query, not one run on each scrape.
 */
export async function selectConsumerStatus(knex: Knex, tables: Tables): Promise<ConsumerStatusRow[]> {
  const result = await knex.raw(
    `select consumer,
            coalesce(i.done, 0)::int as done,
            coalesce(i.processing, 0)::int as processing,
            coalesce(d.dead, 0)::int as dead,
            coalesce(d.replayed, 0)::int as replayed,
            d.oldest_dead_at
     from (
       select consumer,
              count(*) filter (where status = 'done') as done,
              count(*) filter (where status = 'processing') as processing
       from ${tables.inbox} group by consumer
     ) i
     full join (
       select consumer,
              count(*) filter (where replayed_at is null) as dead,
              count(*) filter (where replayed_at is not null) as replayed,
              min(created_at) filter (where replayed_at is null) as oldest_dead_at
       from ${tables.deadLetters} group by consumer
     ) d using (consumer)
     order by consumer`,
  );
  return result.rows as ConsumerStatusRow[];
}
