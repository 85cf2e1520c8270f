import type { Tables } from '@onceflow/core';
import { prepared } from '@onceflow/core';
import type { Knex } from 'knex';

/** One row for {@link insertMessages}; arrays are columns so one statement inserts any number. */
export interface MessageColumns {
  ids: string[];
  topics: string[];
  keys: string[];
  shards: number[];
  idempotencyKeys: string[];
  types: (string | null)[];
  payloads: string[];
  headers: string[];
  availableAt: (string | null)[];
}

/** A row the insert created. */
export interface InsertedRow {
  id: string;
  seq: string;
}

/**
 * Takes the `(topic, key)` advisory locks of `sortedLockIds` (ascending) and then inserts the
 * outbox rows, in one statement. Rows whose `(topic, idempotency_key)` exists already are
 * skipped (ON CONFLICT DO NOTHING) and simply absent from the result. `seq` is drawn in array
 * order, which is the order the caller enqueued.
 *
 * Why the order is right: the locks are transaction-scoped, so a second transaction enqueueing
 * for the same key waits in this statement until the first commits or rolls back; for one key
 * the outbox `seq` order is then the producers' commit order even when their transactions
 * overlap. `locks` is a materialized CTE joined to every row, so no row (and no `seq`, a column
 * default computed per inserted row) exists before all locks are held. Ascending lock order
 * keeps two multi-key enqueues from deadlocking each other. One statement instead of two saves
 * a round trip per enqueue. The statement is prepared once per connection: its text is the same
 * for any number of rows.
 */
export async function insertMessages(
  trx: Knex.Transaction,
  tables: Tables,
  sortedLockIds: readonly string[],
  c: MessageColumns,
): Promise<InsertedRow[]> {
  const result = await prepared(
    trx,
    `with locks as materialized (select count(pg_advisory_xact_lock(l)) as held from unnest(?::bigint[]) as t(l))
     insert into ${tables.outbox} (id, topic, key, shard, idempotency_key, type, payload, headers, available_at)
     select r.id, r.topic, r.key, r.shard, r.idempotency_key, r.type, decode(r.payload, 'base64'), r.headers, coalesce(r.available_at, now())
     from locks, unnest(?::uuid[], ?::text[], ?::text[], ?::smallint[], ?::text[], ?::text[], ?::text[], ?::jsonb[], ?::timestamptz[])
       with ordinality as r(id, topic, key, shard, idempotency_key, type, payload, headers, available_at, n)
     where locks.held = ?
     order by r.n
     on conflict (topic, idempotency_key) do nothing
     returning id, seq`,
    [
      [...sortedLockIds],
      c.ids,
      c.topics,
      c.keys,
      c.shards,
      c.idempotencyKeys,
      c.types as string[],
      c.payloads,
      c.headers,
      c.availableAt as string[],
      sortedLockIds.length,
    ],
  );
  return result.rows as InsertedRow[];
}
