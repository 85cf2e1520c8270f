import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import type { TopicStatusRow } from '../sql/outbox-status.ts';
import { mysqlRows, placeholders } from './results.ts';

/**
 * Per topic: rows due now, rows waiting, rows that failed at least once, attempts spent on
 * pending rows, dead rows, and the age of the oldest due row; MySQL's version of
 * sql/outbox-status.ts. Conditional sums stand in for `filter`. The pending and the dead rows
 * are read apart, each through its index (`pending_shard` and `is_dead`, NULL outside their
 * state, stand in for the partial indexes): with one `where ... or ...` the optimizer scans the
 * whole outbox, published history included. Sums are cast to integers (MySQL answers
 * SUM with a DECIMAL, which mysql2 returns as text); `delayed` is quoted, a reserved word on
 * both servers; "due" is judged as the relay's claim judges it.
 */
export async function selectOutboxStatus(knex: Knex, tables: Tables): Promise<TopicStatusRow[]> {
  const due = `status = 'pending' and available_at <= greatest(utc_timestamp(6), created_at)`;
  const rows = mysqlRows<Record<string, unknown>>(
    await knex.raw(
      `select topic,
              cast(sum(${due}) as signed) as due,
              cast(sum(status = 'pending' and not (${due})) as signed) as \`delayed\`,
              cast(sum(status = 'pending' and attempts > 0) as signed) as retrying,
              cast(coalesce(sum(if(status = 'pending', attempts, 0)), 0) as signed) as attempts,
              cast(sum(status = 'dead') as signed) as dead,
              timestampdiff(microsecond, min(if(${due}, created_at, null)), utc_timestamp(6)) / 1e3 as oldest_due_age_ms
       from (
         select topic, status, attempts, available_at, created_at from ${tables.outbox} where pending_shard is not null
         union all
         select topic, status, attempts, available_at, created_at from ${tables.outbox} where is_dead = 1
       ) r
       group by topic
       order by topic`,
    ),
  );
  return rows.map((r) => ({
    topic: String(r.topic),
    due: Number(r.due),
    delayed: Number(r.delayed),
    retrying: Number(r.retrying),
    attempts: Number(r.attempts),
    dead: Number(r.dead),
    oldest_due_age_ms: r.oldest_due_age_ms === null ? null : Number(r.oldest_due_age_ms),
  }));
}

/** Pending rows of the given shards and the age of the oldest due one (a relay's own backlog). */
export async function selectShardBacklog(
  knex: Knex,
  tables: Tables,
  shards: readonly number[],
): Promise<{ backlog: number; oldestPendingAgeMs: number | null }> {
  if (shards.length === 0) return { backlog: 0, oldestPendingAgeMs: null };
  const [row] = mysqlRows<{ backlog: number | string; age: number | string | null }>(
    await knex.raw(
      `select count(*) as backlog,
              timestampdiff(microsecond, min(if(available_at <= greatest(utc_timestamp(6), created_at), created_at, null)), utc_timestamp(6)) / 1e3
                as age
       from ${tables.outbox}
       where pending_shard in ${placeholders(shards.length)}`,
      [...shards],
    ),
  );
  return { backlog: Number(row?.backlog ?? 0), oldestPendingAgeMs: row?.age === null || row?.age === undefined ? null : Number(row.age) };
}
