import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import type { Fence } from './fence.ts';
import { fenceCte } from './fence.ts';

/**
 * Marks rows published, only while `fence` still holds the shard's lease. Answers false when
 * the lease was lost: then nothing was marked, and the new holder publishes the rows again
 * (a duplicate of records already in Kafka, never a loss).
 */
export async function markPublished(knex: Knex, tables: Tables, fence: Fence, seqs: readonly string[]): Promise<boolean> {
  if (seqs.length === 0) return true;
  const result = await knex.raw(
    `with ${fenceCte(tables)},
     marked as (
       update ${tables.outbox}
       set status = 'published', published_at = now(), holds_key = false
       where seq = any(?::bigint[]) and status = 'pending' and exists (select 1 from fence)
       returning 1
     )
     select exists (select 1 from fence) as held, (select count(*) from marked)::int as marked`,
    [fence.shard, fence.relayId, fence.token, [...seqs]],
  );
  return (result.rows[0] as { held: boolean }).held;
}
