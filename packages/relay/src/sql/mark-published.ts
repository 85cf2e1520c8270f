import type { Tables } from '@onceflow/core';
import { prepared } from '@onceflow/core';
import type { Knex } from 'knex';
import type { Fence } from './fence.ts';
import { fenceBindings, fenceCte, relaxedCommitCte } from './fence.ts';

/**
 * Marks rows published (or deletes them, with `deletePublished`), only in shards whose lease
 * `fence` still holds, and answers those shards. Rows of a shard whose lease was lost stay
 * pending: the new holder publishes them again (a duplicate of records already in Kafka,
 * never a loss).
 */
export async function markPublished(
  knex: Knex,
  tables: Tables,
  fence: Fence,
  ids: readonly string[],
  deletePublished = false,
): Promise<number[]> {
  const write = deletePublished
    ? `delete from ${tables.outbox}
       where id = any(?::uuid[]) and status = 'pending' and shard in (select shard from fence)
       returning 1`
    : `update ${tables.outbox}
       set status = 'published', published_at = now(), holds_key = false
       where id = any(?::uuid[]) and status = 'pending' and shard in (select shard from fence)
       returning 1`;
  const result = await prepared(
    knex,
    `with ${relaxedCommitCte}, ${fenceCte(tables)},
     marked as (
       ${write}
     )
     select array(select shard from fence) as held, (select count(*) from marked)::int as marked,
            (select setting from relaxed) as commit_mode`,
    [...fenceBindings(fence), [...ids]],
  );
  return (result.rows[0] as { held: number[] }).held;
}
