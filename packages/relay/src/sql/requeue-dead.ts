import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import type { DeadFilter } from './dead-messages.ts';
import { deadWhere } from './dead-messages.ts';

/**
 * Puts at most `limit` dead rows matching `filter` back to pending with a fresh attempt budget,
 * keeping their error history, and wakes the relays holding their shards; returns their ids.
 * The row no longer holds its key; under onDead 'skip' later messages of its key may already
 * be published, so a requeued message arrives after them. Bounded, oldest first, so a large
 * requeue is a series of short transactions: each batch leaves the dead state and is not picked
 * again by the next.
 */
export async function requeueDeadBatch(knex: Knex, tables: Tables, filter: DeadFilter, limit: number): Promise<string[]> {
  const w = deadWhere(filter);
  const result = await knex.raw(
    `with picked as (
       select id from ${tables.outbox} where ${w.sql} order by seq limit ? for update
     ), requeued as (
       update ${tables.outbox} o
       set status = 'pending', attempts = 0, holds_key = false, dead_at = null, available_at = now()
       from picked where o.id = picked.id
       returning o.id, o.shard
     ), woken as (
       select pg_notify(?, string_agg(distinct shard::text, ',')) from requeued having count(*) > 0
     )
     select id, (select count(*) from woken) as woken from requeued`,
    [...w.bindings, limit, tables.channel],
  );
  return (result.rows as Array<{ id: string }>).map((r) => r.id);
}
