import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/**
 * Announces this relay (insert or refresh its `relays` row), forgets relays silent for ten
 * lease times, and counts the live relays including this one. The count is what each relay
 * divides the shards by. The CTEs and the final select share one snapshot, so the fresh row
 * is not visible to the count: it is added as the `+ 1`.
 */
export async function heartbeat(knex: Knex, tables: Tables, relayId: string, leaseMs: number): Promise<number> {
  const result = await knex.raw(
    `with beat as (
       insert into ${tables.relays} (relay_id) values (?)
       on conflict (relay_id) do update set heartbeat_at = now()
       returning 1
     ), gone as (
       delete from ${tables.relays} where heartbeat_at < now() - ? * interval '1 millisecond' and relay_id <> ?
       returning 1
     )
     select (select count(*) from ${tables.relays}
             where heartbeat_at > now() - ? * interval '1 millisecond' and relay_id <> ?)::int + 1 as live,
            (select count(*) from beat)::int as beat, (select count(*) from gone)::int as gone`,
    [relayId, leaseMs * 10, relayId, leaseMs, relayId],
  );
  return (result.rows[0] as { live: number }).live;
}

/** Removes this relay's `relays` row (graceful stop), so the others rebalance at once. */
export async function unregister(knex: Knex, tables: Tables, relayId: string): Promise<void> {
  await knex.raw(`delete from ${tables.relays} where relay_id = ?`, [relayId]);
}
