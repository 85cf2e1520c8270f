import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/**
 * Deletes at most `limit` published rows published more than `olderThanMs` ago and returns
 * how many. Ids are uuid v7, whose first 48 bits are the creation time in milliseconds, and
 * a row is published after it was created, so the candidates are a prefix of the primary key:
 * the walk starts at the oldest rows and stops at ids created after the cut-off. Bounded so no
 * statement holds many row locks for long; SKIP LOCKED lets relays pruning at the same time
 * take different rows instead of waiting on each other. Dead and pending rows are never
 * deleted.
 */
export async function pruneBatch(knex: Knex, tables: Tables, olderThanMs: number, limit: number): Promise<number> {
  const result = await knex.raw(
    `with cutoff as (
       select now() - ? * interval '1 millisecond' as at
     ), bound as (
       select (lpad(to_hex((extract(epoch from at) * 1000)::bigint), 12, '0') || repeat('0', 20))::uuid as id from cutoff
     )
     delete from ${tables.outbox}
     where id in (
       select o.id from ${tables.outbox} o, bound, cutoff
       where o.id < bound.id and o.status = 'published' and o.published_at < cutoff.at
       order by o.id
       limit ?
       for update of o skip locked
     )`,
    [olderThanMs, limit],
  );
  return result.rowCount ?? 0;
}
