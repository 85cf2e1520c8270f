import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/** One topic's line of {@link selectOutboxStatus}. */
export interface TopicStatusRow {
  topic: string;
  due: number;
  delayed: number;
  retrying: number;
  attempts: number;
  dead: number;
  oldest_due_age_ms: number | null;
}

/**
 * Per topic: rows due now, rows waiting (delayed or backing off), rows that failed at least
 * once, attempts spent on pending rows, dead rows, and the age of the oldest due row. Reads
 * only pending and dead rows, which the partial indexes keep apart from the published bulk.
 */
export async function selectOutboxStatus(knex: Knex, tables: Tables): Promise<TopicStatusRow[]> {
  const result = await knex.raw(
    `select topic,
            count(*) filter (where status = 'pending' and available_at <= now())::int as due,
            count(*) filter (where status = 'pending' and available_at > now())::int as delayed,
            count(*) filter (where status = 'pending' and attempts > 0)::int as retrying,
            coalesce(sum(attempts) filter (where status = 'pending'), 0)::int as attempts,
            count(*) filter (where status = 'dead')::int as dead,
            (extract(epoch from now() - min(created_at) filter (where status = 'pending' and available_at <= now())) * 1000)::float8
              as oldest_due_age_ms
     from ${tables.outbox}
     where status in ('pending', 'dead')
     group by topic
     order by topic`,
  );
  return result.rows as TopicStatusRow[];
}

/** Pending rows of the given shards and the age of the oldest due one (a relay's own backlog). */
export async function selectShardBacklog(
  knex: Knex,
  tables: Tables,
  shards: readonly number[],
): Promise<{ backlog: number; oldestPendingAgeMs: number | null }> {
  if (shards.length === 0) return { backlog: 0, oldestPendingAgeMs: null };
  const result = await knex.raw(
    `select count(*)::int as backlog,
            (extract(epoch from now() - min(created_at) filter (where available_at <= now())) * 1000)::float8 as age
     from ${tables.outbox}
     where status = 'pending' and shard = any(?::smallint[])`,
    [[...shards]],
  );
  const row = result.rows[0] as { backlog: number; age: number | null };
  return { backlog: row.backlog, oldestPendingAgeMs: row.age };
}
