import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/**
 * Takes the side-effect lease of (consumer, dedup_key), in scope '' (the lease store's key
 * already carries the topic when the consumer dedups per topic): a new record starts at fencing token
 * 1; an existing `processing` record whose lease ran out (or was released) is taken over with
 * the token raised by one. A `done` record or a live lease is left alone (no row returned).
 * The upsert locks the row, so two takers of one expired lease serialize and only one wins.
 */
export async function acquireLease(
  knex: Knex,
  tables: Tables,
  consumer: string,
  dedupKey: string,
  leaseMs: number,
): Promise<number | null> {
  const result = await knex.raw(
    `insert into ${tables.inbox} as i (consumer, dedup_key, status, fencing_token, lease_until)
     values (?, ?, 'processing', 1, clock_timestamp() + ?::double precision * interval '1 millisecond')
     on conflict (consumer, scope, dedup_key) do update
       set fencing_token = i.fencing_token + 1, lease_until = excluded.lease_until, processed_at = clock_timestamp()
       where i.status = 'processing' and i.lease_until <= clock_timestamp()
     returning fencing_token`,
    [consumer, dedupKey, leaseMs],
  );
  const row = (result.rows as Array<{ fencing_token: string }>)[0];
  return row === undefined ? null : Number(row.fencing_token);
}

/** The state of a record that {@link acquireLease} did not take. */
export async function leaseState(
  knex: Knex,
  tables: Tables,
  consumer: string,
  dedupKey: string,
): Promise<{ status: string; remaining_ms: number } | undefined> {
  const result = await knex.raw(
    `select status, greatest(0, extract(epoch from (lease_until - clock_timestamp())) * 1000)::float8 as remaining_ms
     from ${tables.inbox} where consumer = ? and scope = '' and dedup_key = ?`,
    [consumer, dedupKey],
  );
  return (result.rows as Array<{ status: string; remaining_ms: number | null }>).map((r) => ({
    status: r.status,
    remaining_ms: r.remaining_ms ?? 0,
  }))[0];
}
